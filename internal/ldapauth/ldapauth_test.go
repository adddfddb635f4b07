package ldapauth_test

import (
	"errors"
	"testing"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/ldapauth"
)

// TestAgainstSlapd logs in against a real OpenLDAP server.
func TestAgainstSlapd(t *testing.T) {
	l := harness.StartLDAP(t, harness.LDAPUser{UID: "alice", Password: "alice-pw"}, harness.LDAPUser{UID: "bob*", Password: "x"})
	c := ldapauth.Config{URL: l.URL, BindDN: l.BindDN, BindPassword: l.BindPW, UserSearchBase: l.UserBase, UserSearchFilter: "(uid={0})"}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	id, err := c.Authenticate("alice", "alice-pw")
	if err != nil || id != "uid=alice,ou=people,dc=example,dc=com" {
		t.Fatalf("alice: %q %v", id, err)
	}
	c.IdentityStrategy = "USE_USERNAME"
	if id, err := c.Authenticate("alice", "alice-pw"); err != nil || id != "alice" {
		t.Fatalf("USE_USERNAME: %q %v", id, err)
	}
	for _, tc := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"nobody", "x"}, {"*", "x"}, {"ali*", "alice-pw"}, {"", ""}} {
		if _, err := c.Authenticate(tc[0], tc[1]); !errors.Is(err, ldapauth.ErrBadCredentials) {
			t.Errorf("%q/%q: %v, want bad credentials", tc[0], tc[1], err)
		}
	}
	bad := c
	bad.BindPassword = "nope"
	if _, err := bad.Authenticate("alice", "alice-pw"); err == nil || errors.Is(err, ldapauth.ErrBadCredentials) {
		t.Fatalf("wrong manager password: %v (must be a provider failure, not the user's)", err)
	}
}
