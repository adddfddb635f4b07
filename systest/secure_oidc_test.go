package systest

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
)

// TestSecuredOIDCLogin logs a browser in through a real OpenID Connect
// provider (zitadel's OP on loopback: discovery, the code flow with PKCE,
// a signed ID token, UserInfo): /access/oidc/request sends the browser to
// the provider, the user signs in there, the callback verifies the code
// and the ID token, and /access/oidc/exchange hands over Weir's token,
// which works on every node; an altered state is refused.
func TestSecuredOIDCLogin(t *testing.T) {
	c, pki, _, op := startOIDCCluster(t)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(tls.Certificate{})}}
	n0 := c.Nodes[0]
	// Start the login (retried until the first signing key is there).
	var loginPage *url.URL
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := browser.Get(n0.API + "/nifi-registry-api/access/oidc/request")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(resp.Request.URL.Path, "/login/username") {
				loginPage = resp.Request.URL
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the login did not reach the provider's sign-in page: %v %v", resp, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Sign in at the provider; it redirects to Weir's callback, which
	// redirects to the UI.
	form := url.Values{"id": {loginPage.Query().Get("authRequestID")}, "username": {"test-user2"}, "password": {"verysecure"}}
	resp, err := browser.PostForm(op.Issuer+"/login/username", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Request.URL.String(), n0.API+"/nifi-registry/") {
		t.Fatalf("after the callback the browser is at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	exchange := func() (int, string) {
		resp, err := browser.Post(n0.API+"/nifi-registry-api/access/oidc/exchange", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, tok := exchange()
	if status != http.StatusOK || strings.Count(tok, ".") != 2 {
		t.Fatalf("exchange: %d %s", status, tok)
	}
	for _, n := range c.Nodes {
		status, body, _, err := tlsDo(pki, tls.Certificate{}, http.MethodGet, n.API+"/nifi-registry-api/access", "", map[string]string{"Authorization": "Bearer " + tok})
		if err != nil || status != http.StatusOK || !strings.Contains(body, `"identity":"test-user2@zitadel.ch"`) {
			t.Fatalf("the OIDC user's token on %s: %d %s %v", n.Opts.ID, status, body, err)
		}
	}
	if status, _ := exchange(); status != http.StatusUnauthorized {
		t.Fatalf("a second exchange: %d", status)
	}
	// A callback whose state does not match what the login started with.
	resp, err = browser.Get(n0.API + "/nifi-registry-api/access/oidc/callback?code=x&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged state: %d", resp.StatusCode)
	}
}

// startOIDCCluster starts a 3-node HTTPS cluster with managed policies
// (initial admin "admin", the returned certificate's identity) and logins
// through a real OpenID Connect provider on loopback (zitadel's OP), and
// waits for a leader. It returns the provider too.
func startOIDCCluster(t *testing.T) (*harness.Cluster, *harness.PKI, tls.Certificate, *harness.OIDC) {
	t.Helper()
	pki := harness.NewPKI(t, "Weir test CA")
	admin := pki.Client("Admin", "ops")
	c := harness.NewCluster(t, harness.ClusterOptions{N: 3, TLS: &harness.NodeTLS{PKI: pki, ClientAuth: "want", Client: admin}})
	var redirects []string
	for _, n := range c.Nodes {
		redirects = append(redirects, n.API+"/nifi-registry-api/access/oidc/callback")
	}
	op := harness.StartOIDC(t, redirects...)
	for _, n := range c.Nodes {
		n.Opts.Args = append(n.Opts.Args,
			"--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER",
			"--initial-admin-identity", "admin",
			"--oidc-issuer", op.Issuer, "--oidc-client-id", op.ClientID, "--oidc-client-secret", op.ClientSecret)
		n.Start()
	}
	if _, err := c.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c, pki, admin, op
}
