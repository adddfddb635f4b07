package authn

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"testing"

	"github.com/weir-nifi/weir/internal/identity"
)

// The remembered identities are the mapping's own answers, and the cache
// stays bounded.
func TestCertIDsMapLikeTheMappings(t *testing.T) {
	m, err := identity.ParseMapping("pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER")
	if err != nil {
		t.Fatal(err)
	}
	ms := []identity.Mapping{m}
	ids := &certIDs{}
	cert := &x509.Certificate{Raw: []byte("der-1"), Subject: pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"ops"}}}
	want := identity.Map(identity.SubjectDN(cert.Subject), ms)
	for range 2 {
		if got := ids.get(cert, ms); got != want || got != "alice" {
			t.Fatalf("certificate: %q, want %q", got, want)
		}
	}
	for range 2 {
		if got := ids.mapName("CN=Bob, OU=dev", ms); got != "bob" {
			t.Fatalf("proxied name: %q", got)
		}
	}
	for i := range certIDsMax + 10 {
		ids.mapName(fmt.Sprintf("CN=u%d, OU=x", i), ms)
	}
	if n := len(ids.names.m); n > certIDsMax {
		t.Fatalf("%d names remembered, bound %d", n, certIDsMax)
	}
}
