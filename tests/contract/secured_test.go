package contract

import (
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/harness"
)

// TestContractSecuredOperations walks the operations that answer only on
// a secured registry with managed users, groups and policies (NiFi's
// managed authorizer): current user, access token, users, groups and
// policies, created, read, changed and deleted as the initial admin by
// client certificate, each answer validated against the served
// description.
func TestContractSecuredOperations(t *testing.T) {
	pki := harness.NewPKI(t, "contract CA")
	admin := pki.Client("Admin", "ops")
	cert, key := pki.WriteFiles(pki.Issue(pkix.Name{CommonName: "127.0.0.1"}, []string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(12*time.Hour)), "server")
	s := startServerTLS(t, func(c *daemon.Config) {
		c.TLSCert, c.TLSKey, c.TLSCA, c.ClientAuth = cert, key, pki.CAFile, "want"
		c.IdentityMappings = []string{"pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER"}
		c.InitialAdmin = "admin"
	}, pki.ClientConfig(admin))
	const (
		usersT  = "/tenants/users"
		userT   = "/tenants/users/{id}"
		groupsT = "/tenants/user-groups"
		groupT  = "/tenants/user-groups/{id}"
		polsT   = "/policies"
		polT    = "/policies/{id}"
	)
	st := func(method, template, path, body string, want int) map[string]any {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := step(t, s, method, template, path, b, nil, want)
		if r.body[0] == '{' {
			return obj(t, r.body)
		}
		return nil
	}
	rev := func(m map[string]any) string { return fmt.Sprint(num(sub(m, "revision"), "version")) }

	if me := st("GET", "/access", "/access", "", 200); me["identity"] != "admin" {
		t.Fatalf("current user: %v", me)
	}
	// The node adds its first token signing key once it leads, and until
	// then answers a token request 503 with Retry-After; a single node's
	// first write can race its election (the key is retried 200 ms
	// later). Wait for it as a client honouring Retry-After would.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r := s.do("POST", "/access/token", nil, nil); r.status != http.StatusServiceUnavailable {
			break
		}
	}
	step(t, s, "POST", "/access/token", "/access/token", nil, nil, 201)
	st("GET", usersT, usersT, "", 200)
	alice := st("POST", usersT, usersT, `{"identity":"alice","revision":{"version":0}}`, 201)
	aid := str(alice, "identifier")
	st("GET", userT, usersT+"/"+aid, "", 200)
	alice = st("PUT", userT, usersT+"/"+aid, `{"identifier":"`+aid+`","identity":"alice2","revision":{"version":`+rev(alice)+`}}`, 200)
	st("GET", groupsT, groupsT, "", 200)
	g := st("POST", groupsT, groupsT, `{"identity":"ops","users":[{"identifier":"`+aid+`"}],"revision":{"version":0}}`, 201)
	gid := str(g, "identifier")
	st("GET", groupT, groupsT+"/"+gid, "", 200)
	g = st("PUT", groupT, groupsT+"/"+gid, `{"identifier":"`+gid+`","identity":"operators","users":[],"revision":{"version":`+rev(g)+`}}`, 200)

	st("GET", polsT, polsT, "", 200)
	st("GET", "/policies/resources", "/policies/resources", "", 200)
	p := st("POST", polsT, polsT, `{"action":"read","resource":"/buckets/x","users":[{"identifier":"`+aid+`"}],"userGroups":[{"identifier":"`+gid+`"}],"revision":{"version":0}}`, 201)
	pid := str(p, "identifier")
	st("GET", polT, polsT+"/"+pid, "", 200)
	st("GET", "/policies/{action}/{resource}", "/policies/read/buckets/x", "", 200)
	p = st("PUT", polT, polsT+"/"+pid, `{"identifier":"`+pid+`","action":"read","resource":"/buckets/x","users":[],"revision":{"version":`+rev(p)+`}}`, 200)
	st("DELETE", polT, polsT+"/"+pid+"?version="+rev(p), "", 200)
	st("DELETE", groupT, groupsT+"/"+gid+"?version="+rev(g), "", 200)
	st("DELETE", userT, usersT+"/"+aid+"?version="+rev(alice), "", 200)
	st("GET", userT, usersT+"/"+aid, "", 404)
	step(t, s, "DELETE", "/access/logout", "/access/logout", nil, nil, 401)
}
