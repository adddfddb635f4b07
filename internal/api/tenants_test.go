package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/registry"
	"github.com/weir-nifi/weir/internal/store"
)

// tenantAPI is an API over a real store whose proposals are applied at
// once (fuzzProposer), with pinned ids.
func tenantAPI(t *testing.T, revisions bool) (*API, *registry.Service) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var ids atomic.Int64
	svc := registry.New(&fuzzProposer{t: t, st: st}, st, registry.Options{
		Revisions: revisions,
		Now:       func() time.Time { return time.UnixMilli(1_700_000_000_000) },
		NewID:     func() string { return fmt.Sprintf("id-%d", ids.Add(1)) },
	})
	a := New(svc, nil, fuzzGate{st}, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return a, svc
}

type tcase struct {
	method, path, body string
	status             int
	want               string // exact body, or prefix when it ends in "…"
}

func (c tcase) run(t *testing.T, a *API) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(c.method, "http://registry.test"+Base+c.path, strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	got := rec.Body.String()
	ok := got == c.want
	if p, cut := strings.CutSuffix(c.want, "…"); cut {
		ok = strings.HasPrefix(got, p)
	}
	if rec.Code != c.status || !ok {
		t.Fatalf("%s %s %s:\n got %d %s\nwant %d %s", c.method, c.path, c.body, rec.Code, got, c.status, c.want)
	}
	return rec
}

const (
	noPerms  = `{"canDelete":false,"canRead":false,"canWrite":false}`
	allPerms = `{"canDelete":true,"canRead":true,"canWrite":true}`
)

func TestManagedTenants(t *testing.T) {
	a, svc := tenantAPI(t, false)
	// Unmanaged until ManageTenants.
	tcase{"GET", "/tenants/users", "", 409, msgNonManagedAuthorizer}.run(t, a)
	tcase{"POST", "/tenants/users", `{"identity":"alice"}`, 409, msgNonConfigurableUsers}.run(t, a)
	a.ManageTenants(svc)

	tcase{"GET", "/tenants/users", "", 200, `[]`}.run(t, a)
	tcase{"POST", "/tenants/users", "", 400, "User cannot be null"}.run(t, a)
	tcase{"POST", "/tenants/users", `{"identifier":"x","identity":"alice"}`, 400, "User identifier cannot be specified when creating a new user."}.run(t, a)
	tcase{"POST", "/tenants/users", `{"identity":" "}`, 400, "User identity must be specified when creating a new user."}.run(t, a)
	rec := tcase{"POST", "/tenants/users", `{"identity":"alice"}`, 201,
		`{"accessPolicies":[],"configurable":true,"identifier":"id-1","identity":"alice","resourcePermissions":{"anyTopLevelResource":` + noPerms +
			`,"buckets":` + noPerms + `,"policies":` + noPerms + `,"proxy":` + noPerms + `,"tenants":` + noPerms + `},"revision":{"version":0},"userGroups":[]}`}.run(t, a)
	if loc := rec.Header().Get("Location"); loc != "http://registry.test"+Base+"/tenants/users/id-1" {
		t.Fatalf("Location %q", loc)
	}
	tcase{"POST", "/tenants/users", `{"identity":"alice"}`, 409, "User/user group already exists with the identity 'alice'."}.run(t, a)
	tcase{"POST", "/tenants/users", `{"identity":"bob"}`, 201, `{"accessPolicies":[]…`}.run(t, a) // id-3 (the refused duplicate used id-2)
	tcase{"GET", "/tenants/users/nope", "", 404, "The specified user ID does not exist in this registry."}.run(t, a)

	tcase{"POST", "/tenants/user-groups", `{"identity":"alice"}`, 409, "User/user group already exists with the identity 'alice'."}.run(t, a)
	tcase{"POST", "/tenants/user-groups", `{"identity":"team","users":[{"identifier":"ghost"}]}`, 400, "Unable to find user with id 'ghost'."}.run(t, a)
	tcase{"POST", "/tenants/user-groups", `{"identity":"team","users":[{"identifier":"id-3"},{"identifier":"id-1"}]}`, 201,
		`{"accessPolicies":[],"configurable":true,"identifier":"id-5","identity":"team","resourcePermissions":{"anyTopLevelResource":` + noPerms +
			`,"buckets":` + noPerms + `,"policies":` + noPerms + `,"proxy":` + noPerms + `,"tenants":` + noPerms + `},"revision":{"version":0},` +
			`"users":[{"configurable":true,"identifier":"id-1","identity":"alice"},{"configurable":true,"identifier":"id-3","identity":"bob"}]}`}.run(t, a)

	// Policies.
	tcase{"POST", "/policies", `{"resource":"/tenants"}`, 400, "Action 'null' is invalid. Must be one of [read, write, delete]"}.run(t, a)
	tcase{"POST", "/policies", `{"action":"read"}`, 400, "Resource must be specified when creating a new access policy."}.run(t, a)
	tcase{"POST", "/policies", `{"action":"READ","resource":"/tenants","users":[{"identifier":"id-1"}]}`, 201,
		`{"action":"read","configurable":true,"identifier":"id-6","resource":"/tenants","revision":{"version":0},"userGroups":[],` +
			`"users":[{"configurable":true,"identifier":"id-1","identity":"alice"}]}`}.run(t, a)
	tcase{"POST", "/policies", `{"action":"read","resource":"/tenants"}`, 409, "Found multiple policies for '/tenants' with 'read'."}.run(t, a)
	tcase{"POST", "/policies", `{"action":"write","resource":"/buckets","userGroups":[{"identifier":"id-5"}]}`, 201, `{"action":"write"…`}.run(t, a) // id-7
	tcase{"GET", "/policies/read/tenants", "", 200, `{"action":"read","configurable":true,"identifier":"id-6"…`}.run(t, a)
	tcase{"GET", "/policies/Read/tenants", "", 200, `{"action":"read","configurable":true,"identifier":"id-6"…`}.run(t, a)
	tcase{"GET", "/policies/delete/tenants", "", 404, "No policy found for action='delete', resource='/tenants'"}.run(t, a)
	tcase{"GET", "/policies/fly/tenants", "", 400, "Action 'fly' is invalid. Must be one of [read, write, delete]"}.run(t, a)
	tcase{"GET", "/policies/nope", "", 404, "The specified policy does not exist in this registry."}.run(t, a)

	// A user's answer names its groups and its policies, direct or not;
	// its resourcePermissions only the policies naming it.
	readOnly := `{"canDelete":false,"canRead":true,"canWrite":false}`
	tcase{"GET", "/tenants/users/id-1", "", 200,
		`{"accessPolicies":[{"action":"write","configurable":true,"identifier":"id-7","resource":"/buckets"},` +
			`{"action":"read","configurable":true,"identifier":"id-6","resource":"/tenants"}],"configurable":true,"identifier":"id-1","identity":"alice",` +
			`"resourcePermissions":{"anyTopLevelResource":` + readOnly + `,"buckets":` + noPerms + `,"policies":` + noPerms + `,"proxy":` + noPerms +
			`,"tenants":` + readOnly + `},"revision":{"version":0},"userGroups":[{"configurable":true,"identifier":"id-5","identity":"team"}]}`}.run(t, a)

	// Updates.
	tcase{"PUT", "/tenants/users/id-1", `{"identifier":"id-3","identity":"x"}`, 400,
		"The user id in the request body (id-3) does not equal the user id of the requested resource (id-1)."}.run(t, a)
	tcase{"PUT", "/tenants/users/nope", `{"identifier":"nope","identity":"x"}`, 404, "The specified user ID does not exist in this registry."}.run(t, a)
	tcase{"PUT", "/tenants/users/id-1", `{"identifier":"id-1","identity":"team"}`, 409, "User/user group already exists with the identity 'team'."}.run(t, a)
	tcase{"PUT", "/tenants/users/id-1", `{"identifier":"id-1","identity":"alice2"}`, 200, `{"accessPolicies":[{"action":"write"…`}.run(t, a)
	tcase{"PUT", "/policies/id-6", `{"identifier":"id-6","action":"write","resource":"/other","users":[{"identifier":"id-3"}]}`, 200,
		`{"action":"read","configurable":true,"identifier":"id-6","resource":"/tenants","revision":{"version":0},"userGroups":[],` +
			`"users":[{"configurable":true,"identifier":"id-3","identity":"bob"}]}`}.run(t, a)
	tcase{"PUT", "/tenants/user-groups/id-5", `{"identifier":"id-5","identity":"team2"}`, 200,
		`{"accessPolicies":[{"action":"write","configurable":true,"identifier":"id-7","resource":"/buckets"}]…`}.run(t, a)

	// Deletes cascade and answer the entity as it was.
	tcase{"DELETE", "/tenants/users/id-3", "", 200, `{"accessPolicies":[{"action":"read","configurable":true,"identifier":"id-6","resource":"/tenants"}]…`}.run(t, a)
	tcase{"GET", "/policies/id-6", "", 200, `{"action":"read","configurable":true,"identifier":"id-6","resource":"/tenants","revision":{"version":0},"userGroups":[],"users":[]}`}.run(t, a)
	tcase{"DELETE", "/tenants/user-groups/id-5", "", 200, `{"accessPolicies":[{"action":"write"…`}.run(t, a)
	tcase{"GET", "/policies/id-7", "", 200, `{"action":"write","configurable":true,"identifier":"id-7","resource":"/buckets","revision":{"version":0},"userGroups":[],"users":[]}`}.run(t, a)
	tcase{"DELETE", "/policies/id-7", "", 200, `{"action":"write"…`}.run(t, a)
	tcase{"DELETE", "/policies/id-7", "", 404, "The specified policy does not exist in this registry."}.run(t, a)
	tcase{"DELETE", "/tenants/user-groups/id-5", "", 404, "The specified user group ID does not exist in this registry."}.run(t, a)

	// Unmanaged again.
	a.ManageTenants(nil)
	tcase{"GET", "/policies", "", 409, msgNonManagedAuthorizer}.run(t, a)
}

func TestManagedTenantsRevisions(t *testing.T) {
	a, svc := tenantAPI(t, true)
	a.ManageTenants(svc)
	tcase{"POST", "/tenants/users", `{"identity":"alice"}`, 400, "A revision of 0 must be specified when creating a new User."}.run(t, a)
	tcase{"POST", "/tenants/users", `{"identity":"alice","revision":{"version":0,"clientId":"c1"}}`, 201,
		`{"accessPolicies":[]…`}.run(t, a)
	tcase{"GET", "/tenants/users/id-1", "", 200, `{"accessPolicies":[],"configurable":true,"identifier":"id-1","identity":"alice",` +
		`"resourcePermissions":{"anyTopLevelResource":` + noPerms + `,"buckets":` + noPerms + `,"policies":` + noPerms + `,"proxy":` + noPerms + `,"tenants":` + noPerms +
		`},"revision":{"clientId":"c1","version":1},"userGroups":[]}`}.run(t, a)
	tcase{"PUT", "/tenants/users/id-1", `{"identifier":"id-1","identity":"al"}`, 400, "Revision info must be specified."}.run(t, a)
	tcase{"PUT", "/tenants/users/id-1", `{"identifier":"id-1","identity":"al","revision":{"version":0,"clientId":"c2"}}`, 400,
		"The User you attempted to update with id 'id-1' is out of date with the server. You may need to refresh your client and try again."}.run(t, a)
	tcase{"PUT", "/tenants/users/id-1", `{"identifier":"id-1","identity":"al","revision":{"version":1,"clientId":"c2"}}`, 200,
		`{"accessPolicies":[],"configurable":true,"identifier":"id-1","identity":"al",` +
			`"resourcePermissions":{"anyTopLevelResource":` + noPerms + `,"buckets":` + noPerms + `,"policies":` + noPerms + `,"proxy":` + noPerms + `,"tenants":` + noPerms +
			`},"revision":{"clientId":"c2","lastModifier":"anonymous","version":2},"userGroups":[]}`}.run(t, a)
	tcase{"DELETE", "/tenants/users/id-1", "", 400, "Revision info must be specified."}.run(t, a)
	tcase{"DELETE", "/tenants/users/id-1?version=1&clientId=c9", "", 400,
		"The User you attempted to delete with id 'id-1' is out of date with the server. You may need to refresh your client and try again."}.run(t, a)
	tcase{"DELETE", "/tenants/users/id-1?version=2", "", 200, `{"accessPolicies":[],"configurable":true,"identifier":"id-1","identity":"al",` +
		`"resourcePermissions":{"anyTopLevelResource":` + noPerms + `,"buckets":` + noPerms + `,"policies":` + noPerms + `,"proxy":` + noPerms + `,"tenants":` + noPerms +
		`},"userGroups":[]}`}.run(t, a)
	_ = allPerms
	_ = http.StatusOK
}

// The order of an update's checks (the entity exists, then the revision is
// current, then the body's problem), the derived messages of each kind, and
// the order of the lists, for users, groups and policies alike.
func TestManagedTenantsCheckOrder(t *testing.T) {
	a, svc := tenantAPI(t, true)
	a.ManageTenants(svc)
	stale := func(entity, id string) string {
		return "The " + entity + " you attempted to update with id '" + id + "' is out of date with the server. You may need to refresh your client and try again."
	}
	for _, c := range []tcase{
		// Creates: a body, a revision, no identifier.
		{"POST", "/tenants/users", `{"identity":"bob","revision":{"version":0}}`, 201, `{…`},                   // id-1
		{"POST", "/tenants/users", `{"identity":"alice","revision":{"version":0}}`, 201, `{…`},                 // id-2
		{"POST", "/tenants/user-groups", `{"identity":"g","revision":{"version":0}}`, 201, `{…`},               // id-3
		{"POST", "/policies", `{"resource":"/tenants","action":"write","revision":{"version":0}}`, 201, `{…`},  // id-4
		{"POST", "/policies", `{"resource":"/tenants","action":"READ","revision":{"version":0}}`, 201, `{…`},   // id-5
		{"POST", "/policies", `{"resource":"/buckets","action":"delete","revision":{"version":0}}`, 201, `{…`}, // id-6
		{"POST", "/tenants/users", `{"identifier":"x","identity":"c","revision":{"version":0}}`, 400,
			"User identifier cannot be specified when creating a new user."},
		{"POST", "/tenants/user-groups", `{"identifier":"x","identity":"h","revision":{"version":0}}`, 400,
			"User Group identifier cannot be specified when creating a new user group."},
		{"POST", "/policies", `{"identifier":"x","resource":"/x","action":"read","revision":{"version":0}}`, 400,
			"Access Policy identifier cannot be specified when creating a new access policy."},
		{"POST", "/tenants/user-groups", `{"identity":"h","revision":{"version":1}}`, 400,
			"A revision of 0 must be specified when creating a new User Group."},
		{"POST", "/policies", `{"resource":"/x","action":"read","revision":{"version":1}}`, 400,
			"A revision of 0 must be specified when creating a new Access Policy."},

		// Users: 404, then a stale revision, then the blank identity.
		{"PUT", "/tenants/users/nope", `{"identifier":"nope","identity":" ","revision":{"version":0,"clientId":"z"}}`, 404,
			"The specified user ID does not exist in this registry."},
		{"PUT", "/tenants/users/id-1", `{"identifier":"id-1","identity":" ","revision":{"version":0,"clientId":"z"}}`, 400,
			stale("User", "id-1")},
		{"PUT", "/tenants/users/id-1", `{"identifier":"id-1","identity":" ","revision":{"version":1}}`, 400,
			"User identity must be specified when updating a user."},

		// Groups: a missing user is reported before a blank identity.
		{"PUT", "/tenants/user-groups/nope", `{"identifier":"nope","identity":" ","revision":{"version":0,"clientId":"z"}}`, 404,
			"The specified user group ID does not exist in this registry."},
		{"PUT", "/tenants/user-groups/id-3", `{"identifier":"id-3","identity":" ","users":[{"identifier":"u?"}],"revision":{"version":0,"clientId":"z"}}`, 400,
			stale("User Group", "id-3")},
		{"PUT", "/tenants/user-groups/id-3", `{"identifier":"id-3","identity":" ","users":[{"identifier":"u?"}],"revision":{"version":1}}`, 400,
			"Unable to find user with id 'u?'."},
		{"PUT", "/tenants/user-groups/id-3", `{"identifier":"id-3","identity":" ","users":[{"identifier":"id-1"}],"revision":{"version":1}}`, 400,
			"User group identity must be specified when updating a group."},
		{"PUT", "/tenants/user-groups/id-3", `{"identifier":"id-3","identity":"g2","users":[{"identifier":"id-1"}],"revision":{"version":1}}`, 200,
			`{"accessPolicies":[],"configurable":true,"identifier":"id-3","identity":"g2",…`},
		{"GET", "/tenants/user-groups/id-3", "", 200, `{"accessPolicies":[],"configurable":true,"identifier":"id-3","identity":"g2",…`},
		{"GET", "/tenants/user-groups/nope", "", 404, "The specified user group ID does not exist in this registry."},

		// Policies: missing users are reported before missing groups.
		{"PUT", "/policies/nope", `{"identifier":"nope","revision":{"version":0,"clientId":"z"}}`, 404,
			"The specified policy does not exist in this registry."},
		{"PUT", "/policies/id-4", `{"identifier":"id-4","userGroups":[{"identifier":"g?"}],"revision":{"version":0,"clientId":"z"}}`, 400,
			stale("Access Policy", "id-4")},
		{"PUT", "/policies/id-4", `{"identifier":"id-4","users":[{"identifier":"u?"}],"userGroups":[{"identifier":"g?"}],"revision":{"version":1}}`, 400,
			"Unable to find user with id 'u?'."},
		{"PUT", "/policies/id-4", `{"identifier":"id-4","userGroups":[{"identifier":"g?"}],"revision":{"version":1}}`, 400,
			"Unable to find user group with id 'g?'."},

		// Deletes: a revision, then the entity.
		{"DELETE", "/tenants/user-groups/nope?version=0", "", 404, "The specified user group ID does not exist in this registry."},
		{"DELETE", "/policies/nope?version=0", "", 404, "The specified policy does not exist in this registry."},
		{"DELETE", "/policies/id-6?version=0&clientId=z", "", 400,
			"The Access Policy you attempted to delete with id 'id-6' is out of date with the server. You may need to refresh your client and try again."},
	} {
		c.run(t, a)
	}

	ids := func(path string) string {
		var got []struct{ Identifier string }
		rec := tcase{"GET", path, "", 200, "[…"}.run(t, a)
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range got {
			out = append(out, g.Identifier)
		}
		return strings.Join(out, ",")
	}
	for path, want := range map[string]string{
		"/tenants/users":       "id-2,id-1", // alice, bob
		"/tenants/user-groups": "id-3",
		"/policies":            "id-6,id-5,id-4", // /buckets delete, /tenants read, /tenants write
	} {
		if got := ids(path); got != want {
			t.Errorf("GET %s: %s, want %s", path, got, want)
		}
	}
}
