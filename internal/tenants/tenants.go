// Package tenants is the replicated state of Weir's managed authorizer:
// users, groups and access policies, as NiFi Registry's file or database
// user group and access policy providers keep them. The tables live in the
// store's bbolt file (names prefixed "t."), outside the registry's state
// hash, and the store hands every tenants command to Apply inside its own
// write transaction.
//
// Apply follows the store's rules: it reads no clock, re-checks every
// precondition and refuses with a *model.Error what it cannot apply,
// writing nothing. Any other error is a failure of the database.
package tenants

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// Table names, all in the store's file.
var (
	tUsers    = []byte("t.users")    // user id → User
	tGroups   = []byte("t.groups")   // group id → Group
	tPolicies = []byte("t.policies") // policy id → Policy
	tMeta     = []byte("t.meta")     // versionKey → u64

	// Tables are created by the store with its own.
	Tables = [][]byte{tUsers, tGroups, tPolicies, tMeta}

	versionKey = []byte("version")
)

// Actions a policy grants, as NiFi's RequestAction spells them.
var Actions = []string{"read", "write", "delete"}

// Messages of NiFi Registry (AuthorizationService, AuthorizerFactory).
const (
	MsgUserNotFound   = "The specified user ID does not exist in this registry."
	MsgGroupNotFound  = "The specified user group ID does not exist in this registry."
	MsgPolicyNotFound = "The specified policy does not exist in this registry."
)

// Revision is an entity's optimistic-locking revision (NiFi's
// RevisionManager: version, the client id of the last claim, and who
// made the last change).
type Revision struct {
	Version      int64  `json:"version"`
	ClientID     string `json:"clientId,omitempty"`
	LastModifier string `json:"lastModifier,omitempty"`
}

// User is a user of the registry.
type User struct {
	ID       string   `json:"id"`
	Identity string   `json:"identity"`
	Rev      Revision `json:"rev"`
}

// Group is a named set of users (NiFi's group "name" is its identity).
type Group struct {
	ID       string   `json:"id"`
	Identity string   `json:"identity"`
	Users    []string `json:"users,omitempty"`
	Rev      Revision `json:"rev"`
}

// Policy grants Action on Resource to users and groups (ids, sorted).
type Policy struct {
	ID       string   `json:"id"`
	Resource string   `json:"resource"`
	Action   string   `json:"action"`
	Users    []string `json:"users,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Rev      Revision `json:"rev"`
}

// State is every user, group and policy. Version is the tenants version it
// was read at (see Version): a State may be cached until it moves. Callers
// must not modify a State they did not build.
type State struct {
	Users    map[string]User
	Groups   map[string]Group
	Policies map[string]Policy
	Version  uint64
}

func newState() *State {
	return &State{Users: map[string]User{}, Groups: map[string]Group{}, Policies: map[string]Policy{}}
}

// UserByIdentity finds the user with an identity.
func (s *State) UserByIdentity(identity string) (User, bool) {
	for _, u := range s.Users {
		if u.Identity == identity {
			return u, true
		}
	}
	return User{}, false
}

// GroupsOf lists the groups a user belongs to, ordered by id.
func (s *State) GroupsOf(userID string) []Group {
	var out []Group
	for _, g := range s.Groups {
		if slices.Contains(g.Users, userID) {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PolicyFor finds the policy for an action on a resource.
func (s *State) PolicyFor(resource, action string) (Policy, bool) {
	for _, p := range s.Policies {
		if p.Resource == resource && p.Action == action {
			return p, true
		}
	}
	return Policy{}, false
}

// Around is the part of s an answer about one entity needs: the entity,
// the tenants it names or that name it, and the policies that grant to it
// (for a user, directly or through its groups).
func (s *State) Around(id string) *State {
	out := newState()
	out.Version = s.Version
	if u, ok := s.Users[id]; ok {
		out.Users[id] = u
		for _, g := range s.GroupsOf(id) {
			out.Groups[g.ID] = g
		}
		for _, p := range s.Policies {
			if slices.Contains(p.Users, id) || slices.ContainsFunc(p.Groups, func(g string) bool { _, ok := out.Groups[g]; return ok }) {
				out.Policies[p.ID] = p
			}
		}
	}
	if g, ok := s.Groups[id]; ok {
		out.Groups[id] = g
		copyIDs(out.Users, s.Users, g.Users)
		for _, p := range s.Policies {
			if slices.Contains(p.Groups, id) {
				out.Policies[p.ID] = p
			}
		}
	}
	if p, ok := s.Policies[id]; ok {
		out.Policies[id] = p
		copyIDs(out.Users, s.Users, p.Users)
		copyIDs(out.Groups, s.Groups, p.Groups)
	}
	return out
}

// copyIDs copies the entities of src that ids name into dst.
func copyIDs[E any](dst, src map[string]E, ids []string) {
	for _, id := range ids {
		if e, ok := src[id]; ok {
			dst[id] = e
		}
	}
}

// Load reads every user, group and policy.
func Load(btx *bolt.Tx) (*State, error) {
	s := newState()
	s.Version = Version(btx)
	if err := userKind.load(btx, s); err != nil {
		return nil, err
	}
	if err := groupKind.load(btx, s); err != nil {
		return nil, err
	}
	if err := policyKind.load(btx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Version counts the tenants commands applied (refusals excepted): a State
// loaded at the same version is the same.
func Version(btx *bolt.Tx) uint64 {
	if v := btx.Bucket(tMeta).Get(versionKey); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Handles reports whether c is a tenants command (applied by Apply).
func Handles(c command.Command) bool {
	return c.Type() >= command.TypeCreateUser && c.Type() <= command.TypeSeedSecurity
}

// Apply applies one tenants command in the store's write transaction. The
// result is a *State holding the entity written (after the change) or
// removed (before it) with what it relates to (State.Around); SeedSecurity
// answers nil. A *model.Error is a refusal and nothing was written; any
// other error is a database failure.
func Apply(btx *bolt.Tx, c command.Command) (any, error) {
	st, err := Load(btx)
	if err != nil {
		return nil, err
	}
	w := &wtx{tx: btx, st: st, dirty: map[string]func() error{}}
	var res *State
	switch c := c.(type) {
	case *command.CreateUser:
		res, err = w.createUser(c)
	case *command.UpdateUser:
		res, err = w.updateUser(c)
	case *command.DeleteUser:
		res, err = w.deleteUser(c)
	case *command.CreateGroup:
		res, err = w.createGroup(c)
	case *command.UpdateGroup:
		res, err = w.updateGroup(c)
	case *command.DeleteGroup:
		res, err = w.deleteGroup(c)
	case *command.CreatePolicy:
		res, err = w.createPolicy(c)
	case *command.UpdatePolicy:
		res, err = w.updatePolicy(c)
	case *command.DeletePolicy:
		res, err = w.deletePolicy(c)
	case *command.SeedSecurity:
		err = w.seed(c)
	default:
		err = model.Invalid(fmt.Sprintf("command %s is not a tenants command", c.Type()))
	}
	if err != nil {
		return nil, err
	}
	// Everything was checked: only now is anything written.
	if err := w.flush(); err != nil {
		return nil, err
	}
	st.Version++
	if err := btx.Bucket(tMeta).Put(versionKey, binary.BigEndian.AppendUint64(nil, st.Version)); err != nil {
		return nil, err
	}
	if res != nil {
		res.Version = st.Version
		return res, nil
	}
	return nil, nil
}

// wtx applies one command to the loaded state, remembering what changed.
type wtx struct {
	tx    *bolt.Tx
	st    *State
	dirty map[string]func() error // kind's prefix + id → writes the entity
}

// flush writes what changed, in the order of the dirty keys.
func (w *wtx) flush() error {
	keys := make([]string, 0, len(w.dirty))
	for k := range w.dirty {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := w.dirty[k](); err != nil {
			return err
		}
	}
	return nil
}

// ---- kinds

// kind is what users, groups and policies share: a table in the State
// and in the store's file, NiFi's entity type name and messages.
type kind[E any] struct {
	prefix   string // of its keys in wtx.dirty
	bucket   []byte
	entity   string // NiFi's entity type name (revision messages)
	notFound string // 404 for an unknown id
	dupID    string // 409 for a create with an id the table has
	table    func(*State) map[string]E
	id       func(E) string
	rev      func(E) Revision
}

var (
	userKind = &kind[User]{prefix: "u", bucket: tUsers, entity: "User", notFound: MsgUserNotFound,
		dupID: "A user with the same identifier already exists",
		table: func(s *State) map[string]User { return s.Users },
		id:    func(u User) string { return u.ID }, rev: func(u User) Revision { return u.Rev }}
	groupKind = &kind[Group]{prefix: "g", bucket: tGroups, entity: "User Group", notFound: MsgGroupNotFound,
		dupID: "A user group with the same identifier already exists",
		table: func(s *State) map[string]Group { return s.Groups },
		id:    func(g Group) string { return g.ID }, rev: func(g Group) Revision { return g.Rev }}
	policyKind = &kind[Policy]{prefix: "p", bucket: tPolicies, entity: "Access Policy", notFound: MsgPolicyNotFound,
		dupID: "An access policy with the same identifier already exists",
		table: func(s *State) map[string]Policy { return s.Policies },
		id:    func(p Policy) string { return p.ID }, rev: func(p Policy) Revision { return p.Rev }}
)

// load reads the kind's table into s.
func (k *kind[E]) load(btx *bolt.Tx, s *State) error {
	m := k.table(s)
	return btx.Bucket(k.bucket).ForEach(func(key, v []byte) error {
		var e E
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("corrupt tenants record %q: %w", key, err)
		}
		m[k.id(e)] = e
		return nil
	})
}

// put sets an entity in the loaded state (written by flush).
func (k *kind[E]) put(w *wtx, e E) {
	id := k.id(e)
	k.table(w.st)[id] = e
	k.touch(w, id)
}

// touch marks id changed: flush writes the entity, or deletes its record
// when the state no longer has it.
func (k *kind[E]) touch(w *wtx, id string) {
	w.dirty[k.prefix+id] = func() error {
		b := w.tx.Bucket(k.bucket)
		e, ok := k.table(w.st)[id]
		if !ok {
			return b.Delete([]byte(id))
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), raw)
	}
}

// free refuses an id the kind's table has (409).
func (k *kind[E]) free(w *wtx, id string) error {
	if _, ok := k.table(w.st)[id]; ok {
		return model.Conflict(k.dupID)
	}
	return nil
}

// claimed finds an entity (404) and checks a claim on it for an action
// (400), returning the entity and its next revision.
func (k *kind[E]) claimed(w *wtx, id string, c *command.Claim, action, actor string) (E, Revision, error) {
	e, ok := k.table(w.st)[id]
	if !ok {
		return e, Revision{}, model.NotFound(k.notFound)
	}
	rev, err := claim(k.rev(e), c, k.entity, action, id, actor)
	return e, rev, err
}

// remove is the common part of a delete: the entity must exist and the
// claim hold; it answers the entity with what relates to it, as before.
func (k *kind[E]) remove(w *wtx, id string, c *command.Claim, actor string) (*State, error) {
	if _, _, err := k.claimed(w, id, c, "delete", actor); err != nil {
		return nil, err
	}
	before := w.st.Around(id)
	delete(k.table(w.st), id)
	k.touch(w, id)
	return before, nil
}

// ---- checks

func invalidRevision(entityType, action, id string) *model.Error {
	return model.Invalid(fmt.Sprintf("The %s you attempted to %s with id '%s' is out of date with the server. You may need to refresh your client and try again.", entityType, action, id))
}

// claim checks a revision claim as NiFi's revision manager does (the
// stored version or the stored client id must match) and returns the next
// revision; a nil claim (revisions off) keeps the revision.
func claim(cur Revision, c *command.Claim, entityType, action, id, actor string) (Revision, error) {
	if c == nil {
		return cur, nil
	}
	if cur.Version != c.Version && (c.ClientID == nil || cur.ClientID == "" || *c.ClientID != cur.ClientID) {
		return cur, invalidRevision(entityType, action, id)
	}
	next := Revision{Version: cur.Version + 1, LastModifier: actor}
	if c.ClientID != nil {
		next.ClientID = *c.ClientID
	}
	return next, nil
}

// identityTaken is AuthorizerFactory's tenantExists: users and groups share
// one namespace of identities.
func (w *wtx) identityTaken(selfID, identity string) error {
	for _, u := range w.st.Users {
		if u.ID != selfID && u.Identity == identity {
			return duplicateIdentity(identity)
		}
	}
	for _, g := range w.st.Groups {
		if g.ID != selfID && g.Identity == identity {
			return duplicateIdentity(identity)
		}
	}
	return nil
}

func duplicateIdentity(identity string) *model.Error {
	return model.Conflict(fmt.Sprintf("User/user group already exists with the identity '%s'.", identity))
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// newTenant checks a new user or group in NiFi's order: an identity, an id
// that neither its own kind nor the other has, the revision claim, an
// identity no user or group has. It returns the new entity's revision.
func newTenant[A, B any](w *wtx, own *kind[A], other *kind[B], id, identity, noIdentity string, c *command.Claim, actor string) (Revision, error) {
	if blank(identity) {
		return Revision{}, model.Invalid(noIdentity)
	}
	if err := own.free(w, id); err != nil {
		return Revision{}, err
	}
	if err := other.free(w, id); err != nil {
		return Revision{}, err
	}
	rev, err := claim(Revision{}, c, own.entity, "create", id, actor)
	if err != nil {
		return Revision{}, err
	}
	return rev, w.identityTaken(id, identity)
}

// newIdentity checks the identity an update gives a user or group.
func (w *wtx) newIdentity(selfID, identity, noIdentity string) error {
	if blank(identity) {
		return model.Invalid(noIdentity)
	}
	return w.identityTaken(selfID, identity)
}

// members sorts and deduplicates ids (NiFi keeps sets) and checks that
// each names an existing entity of the kind.
func members(ids []string, exists func(string) bool, what string) ([]string, error) {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, id := range out {
		if !exists(id) {
			return nil, model.Invalid(fmt.Sprintf("Unable to find %s with id '%s'.", what, id))
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func (w *wtx) userIDs(ids []string) ([]string, error) {
	return members(ids, func(id string) bool { _, ok := w.st.Users[id]; return ok }, "user")
}

func (w *wtx) groupIDs(ids []string) ([]string, error) {
	return members(ids, func(id string) bool { _, ok := w.st.Groups[id]; return ok }, "user group")
}

// CheckAction is RequestAction.valueOfValue's refusal (the caller has
// lower-cased the action).
func CheckAction(action string) error {
	if slices.Contains(Actions, action) {
		return nil
	}
	return model.Invalid("Action '" + action + "' is invalid. Must be one of [read, write, delete]")
}

// CheckResource refuses a policy resource that is not a path.
func CheckResource(resource string) error {
	if !strings.HasPrefix(resource, "/") {
		return model.Invalid(fmt.Sprintf("Resource '%s' is invalid: a resource starts with '/'.", resource))
	}
	return nil
}

// ---- users

func (w *wtx) createUser(c *command.CreateUser) (*State, error) {
	rev, err := newTenant(w, userKind, groupKind, c.ID, c.Identity, "User identity must be specified when creating a new user.", c.Rev, c.Actor)
	if err != nil {
		return nil, err
	}
	userKind.put(w, User{ID: c.ID, Identity: c.Identity, Rev: rev})
	return w.st.Around(c.ID), nil
}

func (w *wtx) updateUser(c *command.UpdateUser) (*State, error) {
	u, rev, err := userKind.claimed(w, c.ID, c.Rev, "update", c.Actor)
	if err != nil {
		return nil, err
	}
	if err := w.newIdentity(c.ID, c.Identity, "User identity must be specified when updating a user."); err != nil {
		return nil, err
	}
	u.Identity, u.Rev = c.Identity, rev
	userKind.put(w, u)
	return w.st.Around(c.ID), nil
}

func (w *wtx) deleteUser(c *command.DeleteUser) (*State, error) {
	before, err := userKind.remove(w, c.ID, c.Rev, c.Actor)
	if err != nil {
		return nil, err
	}
	// As NiFi's providers do: the user leaves every group and policy.
	leave(w, groupKind, func(g *Group) *[]string { return &g.Users }, c.ID)
	leave(w, policyKind, func(p *Policy) *[]string { return &p.Users }, c.ID)
	return before, nil
}

// leave takes id out of the member list (users or groups) of every entity
// of the kind that has it.
func leave[E any](w *wtx, k *kind[E], members func(*E) *[]string, id string) {
	for _, e := range k.table(w.st) {
		ids := members(&e)
		if i := slices.Index(*ids, id); i >= 0 {
			*ids = nilIfEmpty(slices.Delete(slices.Clone(*ids), i, i+1))
			k.put(w, e)
		}
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// ---- groups

func (w *wtx) createGroup(c *command.CreateGroup) (*State, error) {
	rev, err := newTenant(w, groupKind, userKind, c.ID, c.Identity, "User group identity must be specified when creating a new group.", c.Rev, c.Actor)
	if err != nil {
		return nil, err
	}
	users, err := w.userIDs(c.Users)
	if err != nil {
		return nil, err
	}
	groupKind.put(w, Group{ID: c.ID, Identity: c.Identity, Users: users, Rev: rev})
	return w.st.Around(c.ID), nil
}

func (w *wtx) updateGroup(c *command.UpdateGroup) (*State, error) {
	g, rev, err := groupKind.claimed(w, c.ID, c.Rev, "update", c.Actor)
	if err != nil {
		return nil, err
	}
	if err := w.newIdentity(c.ID, c.Identity, "User group identity must be specified when updating a group."); err != nil {
		return nil, err
	}
	users, err := w.userIDs(c.Users)
	if err != nil {
		return nil, err
	}
	g.Identity, g.Users, g.Rev = c.Identity, users, rev
	groupKind.put(w, g)
	return w.st.Around(c.ID), nil
}

func (w *wtx) deleteGroup(c *command.DeleteGroup) (*State, error) {
	before, err := groupKind.remove(w, c.ID, c.Rev, c.Actor)
	if err != nil {
		return nil, err
	}
	leave(w, policyKind, func(p *Policy) *[]string { return &p.Groups }, c.ID)
	return before, nil
}

// ---- policies

// policyMembers checks a policy's users, then its groups.
func (w *wtx) policyMembers(userIDs, groupIDs []string) (users, groups []string, err error) {
	if users, err = w.userIDs(userIDs); err != nil {
		return nil, nil, err
	}
	if groups, err = w.groupIDs(groupIDs); err != nil {
		return nil, nil, err
	}
	return users, groups, nil
}

func (w *wtx) createPolicy(c *command.CreatePolicy) (*State, error) {
	if err := CheckResource(c.Resource); err != nil {
		return nil, err
	}
	if err := CheckAction(c.Action); err != nil {
		return nil, err
	}
	if err := policyKind.free(w, c.ID); err != nil {
		return nil, err
	}
	rev, err := claim(Revision{}, c.Rev, policyKind.entity, "create", c.ID, c.Actor)
	if err != nil {
		return nil, err
	}
	if _, ok := w.st.PolicyFor(c.Resource, c.Action); ok {
		return nil, model.Conflict(fmt.Sprintf("Found multiple policies for '%s' with '%s'.", c.Resource, c.Action))
	}
	users, groups, err := w.policyMembers(c.Users, c.Groups)
	if err != nil {
		return nil, err
	}
	policyKind.put(w, Policy{ID: c.ID, Resource: c.Resource, Action: c.Action, Users: users, Groups: groups, Rev: rev})
	return w.st.Around(c.ID), nil
}

func (w *wtx) updatePolicy(c *command.UpdatePolicy) (*State, error) {
	p, rev, err := policyKind.claimed(w, c.ID, c.Rev, "update", c.Actor)
	if err != nil {
		return nil, err
	}
	users, groups, err := w.policyMembers(c.Users, c.Groups)
	if err != nil {
		return nil, err
	}
	p.Users, p.Groups, p.Rev = users, groups, rev
	policyKind.put(w, p)
	return w.st.Around(c.ID), nil
}

func (w *wtx) deletePolicy(c *command.DeletePolicy) (*State, error) {
	return policyKind.remove(w, c.ID, c.Rev, c.Actor)
}

// ---- seeding

func (w *wtx) seed(c *command.SeedSecurity) error {
	// Check everything first: a refusal writes nothing.
	seedIDs := map[string]bool{}
	for _, u := range c.Users {
		if u.ID == "" || blank(u.Identity) {
			return model.Invalid("A seed user needs an identifier and an identity.")
		}
		if seedIDs[u.ID] {
			return model.Invalid(fmt.Sprintf("Seed identifier '%s' is used twice.", u.ID))
		}
		seedIDs[u.ID] = true
	}
	for _, p := range c.Policies {
		if p.ID == "" {
			return model.Invalid("A seed policy needs an identifier.")
		}
		if err := CheckResource(p.Resource); err != nil {
			return err
		}
		if err := CheckAction(p.Action); err != nil {
			return err
		}
		if seedIDs[p.ID] {
			return model.Invalid(fmt.Sprintf("Seed identifier '%s' is used twice.", p.ID))
		}
		seedIDs[p.ID] = true
	}
	// Users, in order: the first seed of an identity wins.
	for _, su := range c.Users {
		if _, ok := w.st.UserByIdentity(su.Identity); ok {
			continue
		}
		if _, ok := w.st.Users[su.ID]; ok {
			return model.Conflict(fmt.Sprintf("Seed user id '%s' belongs to another user.", su.ID))
		}
		if _, ok := w.st.Groups[su.ID]; ok {
			return model.Conflict(fmt.Sprintf("Seed user id '%s' belongs to a user group.", su.ID))
		}
		if err := w.identityTaken(su.ID, su.Identity); err != nil {
			return err // a group has the identity
		}
		userKind.put(w, User{ID: su.ID, Identity: su.Identity})
	}
	for _, sp := range c.Policies {
		var ids []string
		for _, identity := range sp.Identities {
			u, ok := w.st.UserByIdentity(identity)
			if !ok {
				return model.Invalid(fmt.Sprintf("Seed policy %s %s names identity '%s', which no user has.", sp.Action, sp.Resource, identity))
			}
			ids = append(ids, u.ID)
		}
		p, ok := w.st.PolicyFor(sp.Resource, sp.Action)
		if !ok {
			if _, taken := w.st.Policies[sp.ID]; taken {
				return model.Conflict(fmt.Sprintf("Seed policy id '%s' belongs to another policy.", sp.ID))
			}
			p = Policy{ID: sp.ID, Resource: sp.Resource, Action: sp.Action}
		}
		merged := append(slices.Clone(p.Users), ids...)
		slices.Sort(merged)
		merged = nilIfEmpty(slices.Compact(merged))
		if ok && slices.Equal(merged, p.Users) {
			continue
		}
		p.Users = merged
		policyKind.put(w, p)
	}
	return nil
}

// Identity returns the identity of the user or group id (a user first), as
// stored, for the event of its deletion.
func Identity(btx *bolt.Tx, id string) (string, bool, error) {
	for _, t := range [][]byte{tUsers, tGroups} {
		if v := btx.Bucket(t).Get([]byte(id)); v != nil {
			var e struct {
				Identity string `json:"identity"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return "", false, fmt.Errorf("%s %s: %w", t, id, err)
			}
			return e.Identity, true, nil
		}
	}
	return "", false, nil
}
