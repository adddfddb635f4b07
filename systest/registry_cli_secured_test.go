package systest

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/apidoc"
	"github.com/weir-nifi/weir/internal/harness"
)

// TestRegistryCLISecured runs the users, groups and policies commands of
// `weir registry` against a secured node with managed policies, as its
// admin by client certificate: users and a group created, renamed and
// listed, bucket policies set by name and replaced; then the same admin by
// bearer token (got, used, revoked), an LDAP user's token, and NiFi's
// node certificate acting for a proxied user who sees only what the
// policies give it.
func TestRegistryCLISecured(t *testing.T) {
	pki := harness.NewPKI(t, "Weir test CA")
	admin, nifi := pki.Client("Admin", "ops"), pki.Client("NiFi-1", "nifi")
	l := harness.StartLDAP(t, harness.LDAPUser{UID: "carol", Password: "carol-pw"})
	c := harness.StartCluster(t, harness.ClusterOptions{N: 1,
		TLS: &harness.NodeTLS{PKI: pki, ClientAuth: "want", Client: admin},
		ExtraArgs: []string{
			"--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER",
			"--initial-admin-identity", "admin",
			"--node-identity", "nifi-1",
			"--ldap-url", l.URL, "--ldap-bind-dn", l.BindDN, "--ldap-bind-password", l.BindPW,
			"--ldap-user-search-base", l.UserBase, "--ldap-user-search-filter", "(uid={0})", "--ldap-identity-strategy", "USE_USERNAME",
		}})
	n := c.MustLeader()
	adminCert, adminKey := pki.WriteFiles(admin, "admin")
	nifiCert, nifiKey := pki.WriteFiles(nifi, "nifi")
	asAdmin := []string{"--server", n.API, "--tls-ca", pki.CAFile, "--tls-cert", adminCert, "--tls-key", adminKey}
	reg := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(regCLI(t, append(args, asAdmin...)...))
	}
	// The initial policies are proposed at start: wait until they hold.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, _, err := weirCLI(t, append([]string{"registry", "list-users"}, asAdmin...)...)
		if err == nil && strings.Contains(out, "admin") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admin cannot list users: %v %s", err, out)
		}
	}
	if got := reg("current-user"); got != "admin" {
		t.Fatalf("current-user: %q", got)
	}

	alice := reg("create-user", "--name", "alice")
	bob := reg("create-user", "--name", "bob")
	if got := reg("update-user", "--user", bob, "--name", "robert"); got != bob {
		t.Fatalf("update-user printed %q", got)
	}
	var users []struct{ Identifier, Identity string }
	if err := json.Unmarshal([]byte(reg("list-users", "--json")), &users); err != nil {
		t.Fatal(err)
	}
	idents := map[string]string{}
	for _, u := range users {
		idents[u.Identity] = u.Identifier
	}
	if idents["alice"] != alice || idents["robert"] != bob || idents["bob"] != "" {
		t.Fatalf("list-users: %+v", users)
	}
	group := reg("create-user-group", "--name", "ops", "--user-names", "alice")
	if out := reg("list-user-groups"); !strings.Contains(out, "ops") || !strings.Contains(out, group) || !strings.Contains(out, "alice") {
		t.Fatalf("list-user-groups: %s", out)
	}
	reg("update-user-group", "--group", group, "--name", "operators", "--user-names", "alice,robert")
	if out := reg("list-user-groups"); !strings.Contains(out, "operators") || !strings.Contains(out, "alice,robert") && !strings.Contains(out, "robert,alice") {
		t.Fatalf("list-user-groups after update: %s", out)
	}
	if errOut := regCLIFails(t, append([]string{"create-user-group", "--name", "x", "--user-names", "nobody"}, asAdmin...)...); !strings.Contains(errOut, `no user with identity "nobody"`) {
		t.Fatalf("unknown member: %s", errOut)
	}

	bucket := reg("create-bucket", "--name", "alice-bucket")
	other := reg("create-bucket", "--name", "other-bucket")
	readPolicy := reg("update-bucket-policy", "--bucket-name", "alice-bucket", "--action", "read", "--user-names", "alice")
	if out := reg("get-policy", "--action", "read", "--resource", "/buckets/"+bucket); !strings.Contains(out, readPolicy) || !strings.Contains(out, "alice") {
		t.Fatalf("get-policy after update-bucket-policy printed %s: %s", readPolicy, out)
	}
	// Created, then changed as the toolkit changes it: only the members
	// named are replaced (here with the toolkit's option names), then the
	// group list is emptied.
	var p struct {
		Identifier        string
		Users, UserGroups []struct{ Identity string }
	}
	writePolicy := func() {
		t.Helper()
		if err := json.Unmarshal([]byte(reg("get-policy", "--action", "write", "--resource", "/buckets/"+bucket, "--json")), &p); err != nil {
			t.Fatal(err)
		}
	}
	reg("create-or-update-policy", "--action", "write", "--resource", "/buckets/"+bucket, "--group-names", "operators")
	reg("create-or-update-policy", "--accessPolicyAction", "write", "--accessPolicyResource", "/buckets/"+bucket, "--userIdList", bob)
	if writePolicy(); len(p.Users) != 1 || p.Users[0].Identity != "robert" || len(p.UserGroups) != 1 || p.UserGroups[0].Identity != "operators" {
		t.Fatalf("write policy after the user update: %+v", p)
	}
	reg("create-or-update-policy", "--action", "write", "--resource", "/buckets/"+bucket, "--group-names", "")
	if writePolicy(); len(p.Users) != 1 || len(p.UserGroups) != 0 {
		t.Fatalf("write policy after emptying its groups: %+v", p)
	}
	if errOut := regCLIFails(t, append([]string{"get-policy", "--action", "delete", "--resource", "/buckets/" + other}, asAdmin...)...); !strings.Contains(errOut, "404") {
		t.Fatalf("get-policy of a resource without one: %s", errOut)
	}

	// The admin by bearer token, without a client certificate; the token
	// revoked, it is refused.
	tok := reg("get-access-token")
	byToken := []string{"--server", n.API, "--tls-ca", pki.CAFile, "--bearer-token", tok}
	if got := strings.TrimSpace(regCLI(t, append([]string{"current-user"}, byToken...)...)); got != "admin" {
		t.Fatalf("current-user by token: %q", got)
	}
	if out := regCLI(t, append([]string{"list-buckets"}, byToken...)...); !strings.Contains(out, "other-bucket") {
		t.Fatalf("list-buckets by token: %s", out)
	}
	regCLI(t, append([]string{"logout-access-token"}, byToken...)...)
	if errOut := regCLIFails(t, append([]string{"current-user"}, byToken...)...); !strings.Contains(errOut, "401 Unauthorized") {
		t.Fatalf("current-user with a revoked token: %s", errOut)
	}

	// An LDAP user's token, as the toolkit's get-access-token gets it.
	carol := strings.TrimSpace(regCLI(t, "get-access-token", "--username", "carol", "--password", "carol-pw", "--server", n.API, "--tls-ca", pki.CAFile))
	if got := strings.TrimSpace(regCLI(t, "current-user", "--server", n.API, "--tls-ca", pki.CAFile, "--bearer-token", carol)); got != "carol" {
		t.Fatalf("current-user with carol's token: %q", got)
	}
	if errOut := regCLIFails(t, "get-access-token", "--username", "carol", "--password", "wrong", "--server", n.API, "--tls-ca", pki.CAFile); !strings.Contains(errOut, "401") {
		t.Fatalf("a wrong password: %s", errOut)
	}

	// NiFi's node acting for alice: her bucket only; a write refused.
	asAlice := []string{"--server", n.API, "--tls-ca", pki.CAFile, "--tls-cert", nifiCert, "--tls-key", nifiKey, "--proxied-entity", "alice"}
	if got := strings.TrimSpace(regCLI(t, append([]string{"current-user"}, asAlice...)...)); got != "alice" {
		t.Fatalf("current-user proxied: %q", got)
	}
	if out := regCLI(t, append([]string{"list-buckets"}, asAlice...)...); !strings.Contains(out, "alice-bucket") || strings.Contains(out, "other-bucket") {
		t.Fatalf("alice's buckets: %s", out)
	}
	if errOut := regCLIFails(t, append([]string{"create-flow", "--bucket", bucket, "--name", "f"}, asAlice...)...); !strings.Contains(errOut, "403 Forbidden") {
		t.Fatalf("alice writes without a write policy: %s", errOut)
	}
	// The API description is anyone's to read, as NiFi's docs context is.
	if status, body, _, err := tlsDo(pki, tls.Certificate{}, http.MethodGet, n.API+apidoc.Base+"/swagger.json", "", nil); err != nil || status != http.StatusOK || !strings.Contains(body, `"/weir-api/cluster/status"`) {
		t.Fatalf("swagger.json without credentials: %d %v %.200s", status, err, body)
	}
	// Without a certificate or token the caller is anonymous.
	if got := strings.TrimSpace(regCLI(t, "current-user", "--server", n.API, "--tls-ca", pki.CAFile)); got != "anonymous" {
		t.Fatalf("current-user anonymous: %q", got)
	}
}
