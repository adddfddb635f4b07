package command

// Users, groups and access policies (level 3): the replicated state of
// NiFi Registry's managed authorizer (package tenants applies them). Every
// identifier, actor and revision claim is fixed by the proposer; Apply
// reads no clock.

// CreateUser adds a user with a fixed identifier.
type CreateUser struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
	Rev      *Claim `json:"rev,omitempty"`
	Actor    string `json:"actor"`
}

// UpdateUser changes a user's identity.
type UpdateUser struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
	Rev      *Claim `json:"rev,omitempty"`
	Actor    string `json:"actor"`
}

// DeleteUser removes a user, and it from every group and policy.
type DeleteUser struct {
	ID    string `json:"id"`
	Rev   *Claim `json:"rev,omitempty"`
	Actor string `json:"actor"`
}

// CreateGroup adds a group of existing users.
type CreateGroup struct {
	ID       string   `json:"id"`
	Identity string   `json:"identity"`
	Users    []string `json:"users,omitempty"`
	Rev      *Claim   `json:"rev,omitempty"`
	Actor    string   `json:"actor"`
}

// UpdateGroup replaces a group's identity and members.
type UpdateGroup struct {
	ID       string   `json:"id"`
	Identity string   `json:"identity"`
	Users    []string `json:"users,omitempty"`
	Rev      *Claim   `json:"rev,omitempty"`
	Actor    string   `json:"actor"`
}

// DeleteGroup removes a group, and it from every policy.
type DeleteGroup struct {
	ID    string `json:"id"`
	Rev   *Claim `json:"rev,omitempty"`
	Actor string `json:"actor"`
}

// CreatePolicy adds the policy for an action ("read", "write" or
// "delete") on a resource; there is at most one per resource and action.
type CreatePolicy struct {
	ID       string   `json:"id"`
	Resource string   `json:"resource"`
	Action   string   `json:"action"`
	Users    []string `json:"users,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Rev      *Claim   `json:"rev,omitempty"`
	Actor    string   `json:"actor"`
}

// UpdatePolicy replaces a policy's users and groups (its resource and
// action never change, as in NiFi).
type UpdatePolicy struct {
	ID     string   `json:"id"`
	Users  []string `json:"users,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Rev    *Claim   `json:"rev,omitempty"`
	Actor  string   `json:"actor"`
}

// DeletePolicy removes a policy.
type DeletePolicy struct {
	ID    string `json:"id"`
	Rev   *Claim `json:"rev,omitempty"`
	Actor string `json:"actor"`
}

// SeedSecurity creates what a secured registry starts with (the initial
// admin's and the NiFi nodes' users and policies), idempotently: a seed
// user whose identity a user already has is skipped; a seed policy whose
// resource and action already have a policy gets the seed identities it
// lacks added instead of being created.
type SeedSecurity struct {
	Users    []SeedUser   `json:"users,omitempty"`
	Policies []SeedPolicy `json:"policies,omitempty"`
	At       int64        `json:"at"`
}

// SeedUser is a user SeedSecurity creates unless its identity exists.
type SeedUser struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
}

// SeedPolicy grants Action on Resource to the users with Identities
// (seed users or existing ones).
type SeedPolicy struct {
	ID         string   `json:"id"`
	Resource   string   `json:"resource"`
	Action     string   `json:"action"`
	Identities []string `json:"identities,omitempty"`
}

func (*CreateUser) Type() Type   { return TypeCreateUser }
func (*UpdateUser) Type() Type   { return TypeUpdateUser }
func (*DeleteUser) Type() Type   { return TypeDeleteUser }
func (*CreateGroup) Type() Type  { return TypeCreateGroup }
func (*UpdateGroup) Type() Type  { return TypeUpdateGroup }
func (*DeleteGroup) Type() Type  { return TypeDeleteGroup }
func (*CreatePolicy) Type() Type { return TypeCreatePolicy }
func (*UpdatePolicy) Type() Type { return TypeUpdatePolicy }
func (*DeletePolicy) Type() Type { return TypeDeletePolicy }
func (*SeedSecurity) Type() Type { return TypeSeedSecurity }
