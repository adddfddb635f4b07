package systest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/identity"
)

// TestSecuredBundles: bundles are authorized by their bucket on a
// secured cluster. A user uploads where it may write; another user may
// neither upload there nor read the bundle, its content or its
// extensions, and the lists, searches and the extension repository show
// it only what it may read.
func TestSecuredBundles(t *testing.T) {
	s := startSecured(t)
	n0, n1, n2 := s.c.Nodes[0], s.c.Nodes[1], s.c.Nodes[2]
	admin := s.admin
	chain := func(u string) string { return identity.FormatChain([]string{u}) }
	alice := idOf(t, s.must(n0, admin, "", http.MethodPost, "/tenants/users", `{"identity":"alice"}`, http.StatusCreated))
	bob := idOf(t, s.must(n0, admin, "", http.MethodPost, "/tenants/users", `{"identity":"bob"}`, http.StatusCreated))
	bA := idOf(t, s.must(n0, admin, "", http.MethodPost, "/buckets", `{"name":"alice-nars"}`, http.StatusOK))
	bB := idOf(t, s.must(n0, admin, "", http.MethodPost, "/buckets", `{"name":"bob-nars"}`, http.StatusOK))
	ref := func(id string) string { return fmt.Sprintf(`{"identifier":"%s"}`, id) }
	for _, p := range []struct{ action, bucket, user string }{{"read", bA, alice}, {"write", bA, alice}, {"read", bB, bob}} {
		s.must(n1, admin, "", http.MethodPost, "/policies",
			fmt.Sprintf(`{"action":"%s","resource":"/buckets/%s","users":[%s],"userGroups":[]}`, p.action, p.bucket, ref(p.user)), http.StatusCreated)
	}

	content := bundleNAR("1.0", 1<<20, 6)
	upload := func(user, bucket string) (int, string) {
		body, ct := uploadBody(content)
		b, _ := io.ReadAll(body)
		status, out, _, err := tlsDo(s.pki, s.nifi, http.MethodPost, n2.API+"/nifi-registry-api/buckets/"+bucket+"/bundles/nifi-nar", string(b),
			map[string]string{"Content-Type": ct, identity.HeaderProxiedEntitiesChain: chain(user)})
		if err != nil {
			t.Fatal(err)
		}
		return status, out
	}
	if status, body := upload("bob", bA); status != http.StatusForbidden {
		t.Fatalf("bob uploads into alice's bucket: %d %s", status, body)
	}
	status, body := upload("alice", bA)
	if status != http.StatusOK {
		t.Fatalf("alice's upload: %d %s", status, body)
	}
	var created struct{ Bundle struct{ Identifier string } }
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	id := created.Bundle.Identifier
	s.c.MustConverge()

	for _, n := range s.c.Nodes {
		// Alice reads her bundle everywhere; bob is refused or sees nothing.
		s.must(n, s.nifi, chain("alice"), http.MethodGet, "/bundles/"+id+"/versions/1.0/content", "", http.StatusOK)
		s.must(n, s.nifi, chain("bob"), http.MethodGet, "/bundles/"+id, "", http.StatusForbidden)
		s.must(n, s.nifi, chain("bob"), http.MethodGet, "/bundles/"+id+"/versions/1.0/content", "", http.StatusForbidden)
		s.must(n, s.nifi, chain("bob"), http.MethodDelete, "/bundles/"+id, "", http.StatusForbidden)
		s.must(n, s.nifi, chain("bob"), http.MethodGet, "/extension-repository/alice-nars", "", http.StatusForbidden)
		for _, c := range []struct{ user, path, want string }{
			{"alice", "/bundles", id},
			{"bob", "/bundles", "[]"},
			{"bob", "/bundles/versions", "[]"},
			{"alice", "/extensions?tag=cluster", `"numResults":1`},
			{"bob", "/extensions?tag=cluster", `"numResults":0`},
			{"bob", "/extensions/tags", "[]"},
			{"bob", "/extension-repository", "bob-nars"},
		} {
			if got := s.must(n, s.nifi, chain(c.user), http.MethodGet, c.path, "", http.StatusOK); !strings.Contains(got, c.want) {
				t.Fatalf("%s: %s as %s: %s, want it to hold %s", n.Opts.ID, c.path, c.user, got, c.want)
			}
		}
		if got := s.must(n, s.nifi, chain("bob"), http.MethodGet, "/extension-repository", "", http.StatusOK); strings.Contains(got, "alice-nars") {
			t.Fatalf("bob's extension repository lists alice's bucket: %s", got)
		}
	}
	// Anonymous callers see no bundle of a bucket that is not public.
	if got := s.must(n0, s.nifi, "<>", http.MethodGet, "/bundles", "", http.StatusOK); got != "[]" {
		t.Fatalf("anonymous bundles: %s", got)
	}
}
