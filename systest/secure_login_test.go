package systest

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/identity"
)

// TestSecuredLogin logs in as NiFi Registry's users do: an LDAP user with
// HTTP Basic on /access/token/login (a real slapd), a certificate holder
// on /access/token; the tokens work on every node, a tampered token, a
// token with a proxied chain and a wrong password are refused, logout
// revokes a token on every node at once, and a token stops working when
// it expires.
func TestSecuredLogin(t *testing.T) {
	l := harness.StartLDAPWithGroups(t, []harness.LDAPUser{{UID: "alice", Password: "alice-pw"}, {UID: "carol", Password: "c"}},
		[]harness.LDAPGroup{{CN: "registry-writers", Members: []string{"alice", "carol"}}})
	const ttl = 20 * time.Second
	s := startSecured(t, "--ldap-url", l.URL, "--ldap-bind-dn", l.BindDN, "--ldap-bind-password", l.BindPW,
		"--ldap-user-search-base", l.UserBase, "--ldap-user-search-filter", "(uid={0})", "--ldap-identity-strategy", "USE_USERNAME",
		"--token-expiry", ttl.String(), "--ldap-group-search-base", harness.LDAPGroupBase, "--ldap-sync-interval", "1s")
	n0, n1, n2 := s.c.Nodes[0], s.c.Nodes[1], s.c.Nodes[2]
	none := tls.Certificate{}
	alice := idOf(t, s.must(n0, s.admin, "", http.MethodPost, "/tenants/users", `{"identity":"alice"}`, http.StatusCreated))
	shared := idOf(t, s.must(n0, s.admin, "", http.MethodPost, "/buckets", `{"name":"shared"}`, http.StatusOK))
	s.must(n1, s.admin, "", http.MethodPost, "/policies", fmt.Sprintf(`{"action":"read","resource":"/buckets/%s","users":[{"identifier":"%s"}]}`, shared, alice), http.StatusCreated)

	basic := func(user, pass string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	call := func(n *harness.Node, cert tls.Certificate, method, path string, hdr map[string]string) (int, string) {
		t.Helper()
		status, body, _, err := tlsDo(s.pki, cert, method, n.API+"/nifi-registry-api"+path, "", hdr)
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	// The first signing key is added at start: wait for logins to work.
	var tok string
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := call(n0, none, http.MethodPost, "/access/token/login", basic("alice", "alice-pw"))
		if status == http.StatusCreated {
			tok = body
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login: %d %s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, n := range s.c.Nodes {
		if status, body := call(n, none, http.MethodGet, "/access", bearer(tok)); status != http.StatusOK || !strings.Contains(body, `"identity":"alice"`) || !strings.Contains(body, `"anonymous":false`) {
			t.Fatalf("alice's token on %s: %d %s", n.Opts.ID, status, body)
		}
		if status, body := call(n, none, http.MethodGet, "/buckets", bearer(tok)); status != http.StatusOK || !strings.Contains(body, `"shared"`) {
			t.Fatalf("alice reads buckets on %s: %d %s", n.Opts.ID, status, body)
		}
	}
	// One read barrier per request: a token-authenticated read on a
	// follower checks the token's keys and the policies and reads after
	// one round trip to the leader (it took three). Each sample is the
	// barriers around the read less those of a metrics fetch alone; other
	// work can only add to it, so the least of five is the read's cost.
	follower := n0
	for _, n := range s.c.Nodes {
		if n != s.c.MustLeader() {
			follower = n
		}
	}
	barriers := func() int {
		t.Helper()
		n, err := s.metrics(follower).Sum("weir_read_barriers_total", nil)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	least := -1
	for range 5 {
		a := barriers()
		b := barriers()
		if status, _ := call(follower, none, http.MethodGet, "/buckets", bearer(tok)); status != http.StatusOK {
			t.Fatalf("read on %s: %d", follower.Opts.ID, status)
		}
		c := barriers()
		if g := (c - b) - (b - a); least < 0 || g < least {
			least = g
		}
	}
	if least != 1 {
		t.Fatalf("a token-authenticated read on a follower took %d read barriers, want 1", least)
	}
	// Secured requests are counted under their route (the muxes record
	// it on the request they get; authn hands on a copy).
	routed, err := s.metrics(follower).Sum("weir_http_requests_total", map[string]string{"route": "/nifi-registry-api/buckets", "method": "GET"})
	if err != nil || routed == 0 {
		t.Fatalf("secured GET /buckets is not counted under its route in weir_http_requests_total (%v)", err)
	}
	if status, _ := call(n1, none, http.MethodPost, "/buckets", bearer(tok)); status != http.StatusForbidden && status != http.StatusBadRequest {
		t.Fatalf("alice writes without write: %d", status)
	}
	// Refused: a wrong password, an unknown user, a tampered token, a
	// token with a proxied chain.
	for _, cred := range [][2]string{{"alice", "wrong"}, {"mallory", "alice-pw"}} {
		if status, body := call(n1, none, http.MethodPost, "/access/token/login", basic(cred[0], cred[1])); status != http.StatusUnauthorized {
			t.Fatalf("login %v: %d %s", cred, status, body)
		}
	}
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"weir","sub":"admin","jti":"x","exp":4102444800}`)) + "." + parts[2]
	if status, _ := call(n2, none, http.MethodGet, "/buckets", bearer(forged)); status != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d", status)
	}
	hdr := bearer(tok)
	hdr[identity.HeaderProxiedEntitiesChain] = "<admin>"
	if status, _ := call(n2, none, http.MethodGet, "/buckets", hdr); status != http.StatusUnauthorized {
		t.Fatalf("token with a proxied chain: %d", status)
	}
	// A certificate holder gets a token for its identity.
	status, adminTok := call(n2, s.admin, http.MethodPost, "/access/token", nil)
	// Its expiry is checked at the end: counted from here, not from
	// alice's login, which came a second or more earlier (the LDAP group
	// sync between them made the check run while this token was still
	// valid in a full run).
	adminIssued := time.Now()
	if status != http.StatusCreated {
		t.Fatalf("token for the admin's certificate: %d %s", status, adminTok)
	}
	if status, body := call(n0, none, http.MethodGet, "/access", bearer(adminTok)); status != http.StatusOK || !strings.Contains(body, `"identity":"admin"`) {
		t.Fatalf("admin token: %d %s", status, body)
	}
	// The directory's group is synced (with carol, who never logged in):
	// a policy for it lets alice write.
	var writers string
	for deadline := time.Now().Add(30 * time.Second); writers == ""; time.Sleep(200 * time.Millisecond) {
		body := s.must(n2, s.admin, "", http.MethodGet, "/tenants/user-groups", "", http.StatusOK)
		var gs []struct {
			Identifier, Identity string
			Users                []struct{ Identity string }
		}
		_ = json.Unmarshal([]byte(body), &gs)
		for _, g := range gs {
			if g.Identity == "registry-writers" && len(g.Users) == 2 {
				writers = g.Identifier
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the LDAP group was not synced: %s", body)
		}
	}
	if status, _ := call(n0, none, http.MethodPost, "/buckets/"+shared+"/flows", bearer(tok)); status != http.StatusForbidden {
		t.Fatalf("alice writes before the group policy: %d", status)
	}
	s.must(n1, s.admin, "", http.MethodPost, "/policies", fmt.Sprintf(`{"action":"write","resource":"/buckets/%s","userGroups":[{"identifier":"%s"}]}`, shared, writers), http.StatusCreated)
	if status, body, _, err := tlsDo(s.pki, none, http.MethodPost, n2.API+"/nifi-registry-api/buckets/"+shared+"/flows", `{"name":"by-group"}`, bearer(tok)); err != nil || status != http.StatusOK {
		t.Fatalf("alice writes through her LDAP group: %d %s %v", status, body, err)
	}

	// Logout through one node: refused everywhere as soon as it returns.
	if status, body := call(n1, none, http.MethodDelete, "/access/logout", bearer(tok)); status != http.StatusOK {
		t.Fatalf("logout: %d %s", status, body)
	}
	for _, n := range []*harness.Node{n2, n0, n1} {
		if status, _ := call(n, none, http.MethodGet, "/buckets", bearer(tok)); status != http.StatusUnauthorized {
			t.Fatalf("a logged-out token works on %s: %d", n.Opts.ID, status)
		}
	}
	// Expiry.
	time.Sleep(time.Until(adminIssued.Add(ttl + time.Second)))
	if status, _ := call(n0, none, http.MethodGet, "/access", bearer(adminTok)); status != http.StatusUnauthorized {
		t.Fatalf("an expired token works: %d", status)
	}
}
