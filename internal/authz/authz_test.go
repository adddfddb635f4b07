package authz

import (
	"errors"
	"testing"

	"github.com/weir-nifi/weir/internal/model"
)

// fake is a PolicySource over literal tables.
type fake struct {
	users    map[string]string   // identity → id
	groups   map[string][]string // user id → group ids
	policies map[[2]string][2][]string
}

func (f fake) UserID(identity string) (string, bool) { id, ok := f.users[identity]; return id, ok }
func (f fake) GroupIDs(userID string) []string       { return f.groups[userID] }
func (f fake) Policy(resource, action string) ([]string, []string, bool) {
	p, ok := f.policies[[2]string{resource, action}]
	return p[0], p[1], ok
}

func kindOf(err error) model.Kind {
	var me *model.Error
	if errors.As(err, &me) {
		return me.Kind
	}
	return -1
}

func TestAuthorize(t *testing.T) {
	p := fake{
		users:  map[string]string{"alice": "u-a", "bob": "u-b", "nifi": "u-n", "carol": "u-c"},
		groups: map[string][]string{"u-c": {"g-ops"}},
		policies: map[[2]string][2][]string{
			{Buckets, Read}:                {{"u-a", "u-n"}, nil},
			{Buckets, Write}:               {{"u-a"}, nil},
			{BucketResource("b1"), Read}:   {{"u-b"}, nil}, // b1 has its own read policy: alice loses it there
			{BucketResource("b2"), Delete}: {nil, {"g-ops"}},
			{Proxy, Read}:                  {{"u-n"}, nil},
			{Proxy, Write}:                 {{"u-n"}, nil},
			{Tenants, Read}:                {nil, {"g-ops"}},
		},
	}
	alice := Caller{Identity: "alice"}
	bob := Caller{Identity: "bob"}
	carol := Caller{Identity: "carol"}
	anon := Caller{Identity: "anonymous", Anonymous: true}
	viaNiFi := func(c Caller) Caller { c.Proxies = []string{"nifi"}; return c }
	viaAlice := func(c Caller) Caller { c.Proxies = []string{"alice"}; return c }
	for _, tc := range []struct {
		name     string
		c        Caller
		resource string
		action   string
		public   bool
		want     model.Kind // -1: allowed
	}{
		{"inherits read from /buckets", alice, BucketResource("b2"), Read, false, -1},
		{"own policy wins over /buckets", alice, BucketResource("b1"), Read, false, model.KindForbidden},
		{"own policy grants", bob, BucketResource("b1"), Read, false, -1},
		{"no inherited write", bob, BucketResource("b2"), Write, false, model.KindForbidden},
		{"group grants delete", carol, BucketResource("b2"), Delete, false, -1},
		{"group grants tenants", carol, Tenants, Read, false, -1},
		{"unknown user", Caller{Identity: "mallory"}, Buckets, Read, false, model.KindForbidden},
		{"anonymous denied is 401", anon, BucketResource("b2"), Read, false, model.KindUnauthorized},
		{"public bucket readable by anonymous", anon, BucketResource("b2"), Read, true, -1},
		{"public is read only", anon, BucketResource("b2"), Write, true, model.KindUnauthorized},
		{"proxy with /proxy", viaNiFi(alice), BucketResource("b2"), Write, false, -1},
		{"proxy lacks /proxy delete", viaNiFi(carol), BucketResource("b2"), Delete, false, model.KindForbidden},
		{"untrusted proxy", viaAlice(bob), BucketResource("b1"), Read, false, model.KindForbidden},
		{"untrusted proxy, anonymous user", viaAlice(anon), BucketResource("b1"), Read, false, model.KindUnauthorized},
		{"public read skips the proxy check", viaAlice(anon), BucketResource("b1"), Read, true, -1},
		{"end user still checked behind a good proxy", viaNiFi(bob), BucketResource("b2"), Write, false, model.KindForbidden},
	} {
		err := Authorize(p, tc.c, tc.resource, tc.action, tc.public)
		if got := kindOf(err); got != tc.want {
			t.Errorf("%s: %v (kind %d), want kind %d", tc.name, err, got, tc.want)
		}
	}
	if err := Authorize(p, viaAlice(bob), BucketResource("b1"), Read, false); err.Error() != "Untrusted proxy [alice] for READ operation." {
		t.Errorf("message: %q", err)
	}
	if err := Authorize(p, bob, BucketResource("b2"), Write, false); err.Error() != "Unable to modify bucket with ID b2. Contact the system administrator." {
		t.Errorf("message: %q", err)
	}
}

func TestTargetOf(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         Target
	}{
		{"GET", "/nifi-registry-api/buckets", Target{Kind: ListBuckets}},
		{"POST", "/nifi-registry-api/buckets", Target{Kind: Check, Resource: Buckets, Action: Write}},
		{"GET", "/nifi-registry-api/buckets/fields", Target{Kind: Open}},
		{"DELETE", "/nifi-registry-api/buckets/b1/flows/f1", Target{Kind: Check, Resource: "/buckets/b1", Action: Delete, Bucket: "b1"}},
		{"POST", "/nifi-registry-api/buckets/b1/flows/f1/versions", Target{Kind: Check, Resource: "/buckets/b1", Action: Write, Bucket: "b1"}},
		{"GET", "/nifi-registry-api/items", Target{Kind: ListItems}},
		{"GET", "/nifi-registry-api/items/b1", Target{Kind: Check, Resource: "/buckets/b1", Action: Read, Bucket: "b1"}},
		{"GET", "/nifi-registry-api/flows/f1/versions", Target{Kind: Check, Action: Read, Flow: "f1"}},
		{"GET", "/nifi-registry-api/access", Target{Kind: Access}},
		{"POST", "/nifi-registry-api/access/token", Target{Kind: Open}},
		{"PUT", "/nifi-registry-api/tenants/users/u1", Target{Kind: Check, Resource: Tenants, Action: Write}},
		{"GET", "/nifi-registry-api/policies/read/buckets/b1", Target{Kind: Check, Resource: Policies, Action: Read}},
		{"POST", "/nifi-registry-api/actuator/maintenance", Target{Kind: Check, Resource: Actuator, Action: Write}},
		{"GET", "/nifi-registry-api/actuator/health/readiness", Target{Kind: Open}},
		{"GET", "/nifi-api/site-to-site/peers", Target{Kind: Check, Resource: SiteToSite, Action: Read}},
		{"DELETE", "/nifi-api/data-transfer/input-ports/p1/transactions/t1", Target{Kind: Check, Resource: "/data-transfer/input-ports/p1", Action: Write}},
		{"POST", "/weir-api/ports", Target{Kind: Check, Resource: Actuator, Action: Write}},
		{"GET", "/nifi-registry-api/about", Target{Kind: Open}},
		// Bundles are in buckets: uploads and bucket lists are bucket
		// paths, a bundle's paths are authorized on its bucket, lists and
		// searches answer from readable buckets.
		{"POST", "/nifi-registry-api/buckets/b1/bundles/nifi-nar", Target{Kind: Check, Resource: "/buckets/b1", Action: Write, Bucket: "b1"}},
		{"GET", "/nifi-registry-api/buckets/b1/bundles", Target{Kind: Check, Resource: "/buckets/b1", Action: Read, Bucket: "b1"}},
		{"GET", "/nifi-registry-api/bundles/x1/versions/1.0/content", Target{Kind: Check, Action: Read, Bundle: "x1"}},
		{"DELETE", "/nifi-registry-api/bundles/x1", Target{Kind: Check, Action: Delete, Bundle: "x1"}},
		{"GET", "/nifi-registry-api/bundles", Target{Kind: ReadableBuckets}},
		{"GET", "/nifi-registry-api/bundles/versions", Target{Kind: ReadableBuckets}},
		{"GET", "/nifi-registry-api/extensions/tags", Target{Kind: ReadableBuckets}},
		{"GET", "/nifi-registry-api/extension-repository/b/g/a/1.0/content", Target{Kind: ReadableBuckets}},
	} {
		if got := TargetOf(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: %+v, want %+v", tc.method, tc.path, got, tc.want)
		}
	}
}
