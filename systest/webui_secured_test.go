package systest

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/weir-nifi/weir/internal/harness"
)

// TestUISecured: with the managed authorizer the UI's pages and forms are
// authorized as the browser's client certificate, exactly as the API: a
// user sees only the buckets its policies allow, its write where allowed
// is executed (forwarded from a follower to the leader), and a refused
// write shows the API's 403. Certificates, not a browser: headless
// Chromium cannot present a client certificate without a certificate
// store, and the identity path is the same.
func TestUISecured(t *testing.T) {
	long(t)
	s := startSecured(t)
	leader := s.c.MustLeader()
	follower := s.c.Others(leader)[0]
	admin := s.admin
	alice := s.pki.Client("Alice", "eng")
	aliceID := idOf(t, s.must(leader, admin, "", http.MethodPost, "/tenants/users", `{"identity":"alice"}`, http.StatusCreated))
	bA := idOf(t, s.must(leader, admin, "", http.MethodPost, "/buckets", `{"name":"alice-bucket"}`, http.StatusOK))
	s.must(leader, admin, "", http.MethodPost, "/buckets", `{"name":"secret-bucket"}`, http.StatusOK)
	for _, action := range []string{"read", "write"} {
		s.must(leader, admin, "", http.MethodPost, "/policies",
			fmt.Sprintf(`{"action":"%s","resource":"/buckets/%s","users":[{"identifier":"%s"}]}`, action, bA, aliceID), http.StatusCreated)
	}

	page := func(cert tls.Certificate, path string) (int, string) {
		t.Helper()
		st, body, _, err := tlsDo(s.pki, cert, http.MethodGet, follower.API+"/nifi-registry"+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return st, body
	}
	form := func(cert tls.Certificate, path string, v url.Values) (int, string) {
		t.Helper()
		hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": follower.API}
		st, body, _, err := tlsDo(s.pki, cert, http.MethodPost, follower.API+"/nifi-registry"+path, v.Encode(), hdr)
		if err != nil {
			t.Fatal(err)
		}
		return st, body
	}

	st, body := page(alice, "/")
	if st != 200 || !strings.Contains(body, "alice-bucket") || strings.Contains(body, "secret-bucket") {
		t.Fatalf("alice's bucket list: %d %s", st, body)
	}
	// She may not create buckets: the form is not offered (the post below
	// is refused all the same); she may write in hers: its form is.
	if strings.Contains(body, "New bucket") {
		t.Errorf("alice is offered the new-bucket form")
	}
	if st, body := page(alice, "/buckets/"+bA); st != 200 || !strings.Contains(body, "New flow") {
		t.Errorf("alice's bucket page without the new-flow form: %d", st)
	}
	// The admin's list in the UI is the API's answer to the admin.
	st, body = page(admin, "/")
	for _, name := range []string{"alice-bucket", "secret-bucket"} {
		inAPI := slices.Contains(bucketNames(t, s.must(follower, admin, "", http.MethodGet, "/buckets", "", http.StatusOK)), name)
		if st != 200 || strings.Contains(body, ">"+name+"<") != inAPI {
			t.Fatalf("the admin's bucket list (API lists %s: %v): %d %s", name, inAPI, st, body)
		}
	}
	// Allowed: a flow in her bucket, written through a follower.
	if st, body := form(alice, "/buckets/"+bA+"/flows", url.Values{"name": {"alice-flow"}}); st != 200 || !strings.Contains(body, "alice-flow") {
		t.Fatalf("alice creates a flow in her bucket: %d %s", st, body)
	}
	flows := s.must(leader, alice, "", http.MethodGet, "/buckets/"+bA+"/flows", "", http.StatusOK)
	if !strings.Contains(flows, `"name":"alice-flow"`) {
		t.Fatalf("flows after the UI's write: %s", flows)
	}
	// Refused: a bucket (she has no /buckets write policy): the API's 403.
	if st, body := form(alice, "/buckets", url.Values{"name": {"alice-new"}}); st != http.StatusForbidden || !strings.Contains(body, "403") {
		t.Fatalf("alice creates a bucket: %d %s", st, body)
	}
	if b := s.must(leader, admin, "", http.MethodGet, "/buckets", "", http.StatusOK); strings.Contains(b, "alice-new") {
		t.Fatalf("the refused bucket exists: %s", b)
	}
	// Without a certificate: what the API gives anonymous callers (public
	// buckets only; here none).
	if st, body := page(tls.Certificate{}, "/"); st != 200 || strings.Contains(body, "alice-bucket") || strings.Contains(body, "secret-bucket") || !strings.Contains(body, "No buckets") {
		t.Fatalf("anonymous bucket list: %d %s", st, body)
	}
}

// TestUILogin: on a secured cluster with LDAP logins, a browser without a
// client certificate logs in with the UI's form (a real slapd behind it),
// then sees and writes what the user's policies allow, through a
// follower; a wrong password is refused with the API's answer; logging
// out revokes the token and the page is anonymous again.
func TestUILogin(t *testing.T) {
	long(t)
	l := harness.StartLDAPWithGroups(t, []harness.LDAPUser{{UID: "alice", Password: "alice-pw"}}, nil)
	s := startSecured(t, "--ldap-url", l.URL, "--ldap-bind-dn", l.BindDN, "--ldap-bind-password", l.BindPW,
		"--ldap-user-search-base", l.UserBase, "--ldap-user-search-filter", "(uid={0})", "--ldap-identity-strategy", "USE_USERNAME")
	// The harness's CA is not in Chromium's store.
	ctx := browser(t, chromedp.IgnoreCertErrors)
	leader := s.c.MustLeader()
	follower := s.c.Others(leader)[0]
	alice := idOf(t, s.must(leader, s.admin, "", http.MethodPost, "/tenants/users", `{"identity":"alice"}`, http.StatusCreated))
	shared := idOf(t, s.must(leader, s.admin, "", http.MethodPost, "/buckets", `{"name":"shared"}`, http.StatusOK))
	for _, action := range []string{"read", "write"} {
		s.must(leader, s.admin, "", http.MethodPost, "/policies",
			fmt.Sprintf(`{"action":"%s","resource":"/buckets/%s","users":[{"identifier":"%s"}]}`, action, shared, alice), http.StatusCreated)
	}
	// The first signing key is added at start: wait until logins work.
	eventually(t, 30*time.Second, "LDAP logins", func() error {
		st, body, _, err := tlsDo(s.pki, tls.Certificate{}, http.MethodPost, follower.API+"/nifi-registry-api/access/token/login", "",
			map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:alice-pw"))})
		if err != nil || st != http.StatusCreated {
			return errorf("%d %s %v", st, body, err)
		}
		return nil
	})
	ui := follower.API + "/nifi-registry"

	run(t, ctx, "anonymous", chromedp.Navigate(ui+"/"), chromedp.WaitVisible(chromedp.CSS("#login-link")))
	if s := textOf(t, ctx, "#buckets tbody"); strings.Contains(s, "shared") {
		t.Fatalf("anonymous sees the bucket: %q", s)
	}
	login := func(pw string) {
		run(t, ctx, "login form", chromedp.Navigate(ui+"/login"), chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), "alice"), chromedp.SendKeys(chromedp.CSS("#password"), pw),
			chromedp.Click(chromedp.CSS("#login")))
	}
	run(t, ctx, "login page", chromedp.Navigate(ui+"/login"), chromedp.WaitVisible(chromedp.CSS("#username")))
	shot(t, ctx, "login")
	login("wrong")
	run(t, ctx, "refused login", chromedp.WaitVisible(chromedp.CSS("#error")))
	if s := textOf(t, ctx, "#error"); !strings.Contains(s, "40") {
		t.Errorf("wrong password: %q", s)
	}
	login("alice-pw")
	run(t, ctx, "logged in", chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#user"); s != "alice" {
		t.Errorf("user shown: %q", s)
	}
	if s := textOf(t, ctx, "#buckets tbody"); !strings.Contains(s, "shared") || strings.Contains(s, "Delete") {
		t.Fatalf("alice's buckets after login (read and write, no delete): %q", s)
	}
	shot(t, ctx, "logged-in")
	// A write as alice, through the follower.
	run(t, ctx, "create flow", chromedp.Navigate(ui+"/buckets/"+shared), chromedp.WaitVisible(chromedp.CSS("#fname")),
		chromedp.SendKeys(chromedp.CSS("#fname"), "from-the-browser"), chromedp.Click(chromedp.CSS("#create-flow")),
		chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#flows"); !strings.Contains(s, "from-the-browser") {
		t.Fatalf("flows after the write: %q", s)
	}
	if st, body, _, err := tlsDo(s.pki, tls.Certificate{}, http.MethodGet, leader.API+"/nifi-registry-api/buckets/"+shared+"/flows", "",
		nil); err != nil || st == http.StatusOK {
		t.Errorf("anonymous reads the flows over the API: %d %s %v", st, body, err)
	}
	run(t, ctx, "logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-link")))
	if s := textOf(t, ctx, "#buckets tbody"); strings.Contains(s, "shared") {
		t.Fatalf("after logout the bucket is still listed: %q", s)
	}
}

// TestUIOIDCLogin: a browser logs in to the UI through a real OpenID
// Connect provider (zitadel's OP on loopback): the UI's link starts the
// API's code flow, the user signs in at the provider, the callback sends
// the browser back to the UI, which exchanges the sealed token once and
// shows the user's buckets; logging out makes the page anonymous again.
func TestUIOIDCLogin(t *testing.T) {
	long(t)
	c, pki, admin, _ := startOIDCCluster(t)
	leader := c.MustLeader()
	s := &secured{t: t, c: c, pki: pki, admin: admin}
	const who = "test-user2@zitadel.ch"
	user := ""
	eventually(t, 30*time.Second, "initial policies", func() error {
		st, body := s.do(leader, admin, "", http.MethodPost, "/tenants/users", fmt.Sprintf(`{"identity":%q}`, who))
		if st != http.StatusCreated {
			return errorf("%d %s", st, body)
		}
		user = idOf(t, body)
		return nil
	})
	b := idOf(t, s.must(leader, admin, "", http.MethodPost, "/buckets", `{"name":"oidc-bucket"}`, http.StatusOK))
	s.must(leader, admin, "", http.MethodPost, "/policies",
		fmt.Sprintf(`{"action":"read","resource":"/buckets/%s","users":[{"identifier":"%s"}]}`, b, user), http.StatusCreated)

	ctx := browser(t, chromedp.IgnoreCertErrors)
	ui := c.Others(leader)[0].API + "/nifi-registry"
	run(t, ctx, "login page", chromedp.Navigate(ui+"/login"), chromedp.WaitVisible(chromedp.CSS("#oidc")))
	if s := textOf(t, ctx, "main"); strings.Contains(s, "User name") {
		t.Errorf("a password form without LDAP: %q", s)
	}
	run(t, ctx, "to the provider", chromedp.Click(chromedp.CSS("#oidc")), chromedp.WaitVisible(chromedp.CSS("#username")))
	run(t, ctx, "sign in at the provider",
		chromedp.SendKeys(chromedp.CSS("#username"), "test-user2"), chromedp.SendKeys(chromedp.CSS("#password"), "verysecure"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if s := textOf(t, ctx, "#user"); s != who {
		t.Errorf("user shown: %q, want %s", s, who)
	}
	if s := textOf(t, ctx, "#buckets tbody"); !strings.Contains(s, "oidc-bucket") {
		t.Fatalf("the OIDC user's buckets: %q", s)
	}
	shot(t, ctx, "logged-in-oidc")
	run(t, ctx, "logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-link")))
	if s := textOf(t, ctx, "#buckets tbody"); strings.Contains(s, "oidc-bucket") {
		t.Fatalf("after logout: %q", s)
	}
}
