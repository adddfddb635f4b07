// Package ldapauth checks a user name and password against an LDAP
// directory the way NiFi Registry's LdapIdentityProvider does: bind as the
// manager, search the user with the configured filter ({0} is the name
// the user typed), then bind as the user with the password. The identity
// is the user's DN or the name as typed (NiFi's USE_DN and USE_USERNAME
// strategies).
package ldapauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Config describes the directory.
type Config struct {
	// URL is ldap://host:port or ldaps://host:port.
	URL string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// CA verifies the server for ldaps and StartTLS (system roots when
	// empty).
	CA string
	// BindDN and BindPassword are the manager's credentials for the
	// search (anonymous search when BindDN is empty).
	BindDN, BindPassword string
	// UserSearchBase and UserSearchFilter find the user; {0} in the filter
	// is the user name, escaped.
	UserSearchBase, UserSearchFilter string
	// IdentityStrategy is USE_DN (default) or USE_USERNAME.
	IdentityStrategy string
	// Timeout bounds connecting and each operation (default 10 s).
	Timeout time.Duration
}

// Check reports what is wrong with a configuration.
func (c Config) Check() error {
	switch {
	case c.URL == "":
		return errors.New("LDAP: --ldap-url is required")
	case c.UserSearchBase == "" || c.UserSearchFilter == "":
		return errors.New("LDAP: --ldap-user-search-base and --ldap-user-search-filter are required")
	case !strings.Contains(c.UserSearchFilter, "{0}"):
		return errors.New("LDAP: --ldap-user-search-filter must contain {0}, the user name")
	}
	switch strings.ToUpper(c.IdentityStrategy) {
	case "", "USE_DN", "USE_USERNAME":
	default:
		return fmt.Errorf("LDAP: identity strategy is USE_DN or USE_USERNAME, not %q", c.IdentityStrategy)
	}
	return nil
}

// ErrBadCredentials is a wrong user name or password (or an unknown user:
// the two are not told apart, so names cannot be probed).
var ErrBadCredentials = errors.New("the supplied username and password are not valid")

// Authenticate returns the identity of user if password is theirs.
func (c Config) Authenticate(user, password string) (string, error) {
	if user == "" || password == "" {
		// An empty password is an unauthenticated bind in LDAP: it
		// "succeeds" without proving anything.
		return "", ErrBadCredentials
	}
	conn, err := c.dial()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if c.BindDN != "" {
		if err := conn.Bind(c.BindDN, c.BindPassword); err != nil {
			return "", fmt.Errorf("LDAP: manager bind as %s: %w", c.BindDN, err)
		}
	}
	filter := strings.ReplaceAll(c.UserSearchFilter, "{0}", ldap.EscapeFilter(user))
	res, err := conn.Search(ldap.NewSearchRequest(c.UserSearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(c.timeout().Seconds()), false, filter, []string{"dn"}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return "", fmt.Errorf("LDAP: search %s: %w", filter, err)
	}
	if res == nil || len(res.Entries) != 1 {
		return "", ErrBadCredentials
	}
	dn := res.Entries[0].DN
	if err := conn.Bind(dn, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return "", ErrBadCredentials
		}
		return "", fmt.Errorf("LDAP: bind as %s: %w", dn, err)
	}
	if strings.EqualFold(c.IdentityStrategy, "USE_USERNAME") {
		return user, nil
	}
	return dn, nil
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Second
}

func (c Config) tlsConfig(host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("LDAP CA %s: no certificates", c.CA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func (c Config) dial() (*ldap.Conn, error) {
	host := c.URL
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.LastIndex(host, ":"); i >= 0 {
		host = host[:i]
	}
	tc, err := c.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	conn, err := ldap.DialURL(c.URL, ldap.DialWithTLSConfig(tc), ldap.DialWithDialer(&net.Dialer{Timeout: c.timeout()}))
	if err != nil {
		return nil, fmt.Errorf("LDAP: connect %s: %w", c.URL, err)
	}
	conn.SetTimeout(c.timeout())
	if c.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("LDAP: StartTLS: %w", err)
		}
	}
	return conn, nil
}
