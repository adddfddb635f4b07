package systest

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
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
