package command

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// FormatVersion is the version of the command byte format written by this
// build. Decode rejects versions it does not know, so an old node never
// misreads a command from a newer leader.
//
// Compatibility rules (a rolling upgrade must never let two builds apply
// the same entry differently):
//   - a command's JSON fields never change type or meaning, and no field is
//     added whose absence would change what Apply does: such a change is a
//     new Type;
//   - a new Type gets a Level above every existing one, and the leader
//     proposes it only once every voter reports that level (Proposable);
//   - a build that meets an unknown Type or format version stops before
//     applying it (ErrUnknown) instead of refusing it, since the leader that
//     proposed it applied it.
const FormatVersion = 1

// Level is the command level this build understands: the highest Level of
// its command types. Nodes record it in the member table (SetNode), and
// the cluster's level is the lowest among its voters.
const Level = 14

// Type identifies a command.
type Type uint8

// Command types. Values are persisted in the Raft log: never renumber.
const (
	TypeCreateBucket   Type = 1
	TypeUpdateBucket   Type = 2
	TypeDeleteBucket   Type = 3
	TypeCreateFlow     Type = 4
	TypeUpdateFlow     Type = 5
	TypeDeleteFlow     Type = 6
	TypeCreateVersion  Type = 7
	TypeSetMaintenance Type = 8
	TypeSetNode        Type = 9
	TypeRemoveNode     Type = 10

	// Level 2: site-to-site ports and their replicated queues.
	TypeCreatePort Type = 11
	TypeUpdatePort Type = 12
	TypeDeletePort Type = 13
	TypeStageChunk Type = 14
	TypeCommitTx   Type = 15
	TypeDropTx     Type = 16
	TypeLease      Type = 17
	TypeAck        Type = 18
	TypeRelease    Type = 19

	// Level 3: users, groups and access policies.
	TypeCreateUser   Type = 20
	TypeUpdateUser   Type = 21
	TypeDeleteUser   Type = 22
	TypeCreateGroup  Type = 23
	TypeUpdateGroup  Type = 24
	TypeDeleteGroup  Type = 25
	TypeCreatePolicy Type = 26
	TypeUpdatePolicy Type = 27
	TypeDeletePolicy Type = 28
	TypeSeedSecurity Type = 29

	// Level 4: access tokens.
	TypeAddSigningKey Type = 30
	TypeRevokeToken   Type = 31

	// Level 5: site-to-site retention by age.
	TypeSetPortRetention Type = 32
	TypeExpireFlows      Type = 33

	// Level 6: disaster recovery (a standby cluster follows a primary).
	TypeSetDRRole Type = 34
	TypeDRApply   Type = 35

	// Level 7: concurrent pulls of one output port.
	TypeSharedLease  Type = 36
	TypeSetPortOrder Type = 37

	// Level 8: the event outbox and its hooks.
	TypeStartEvents   Type = 38
	TypeHooksProgress Type = 39
	TypeRetryDead     Type = 40
	TypeCompactEvents Type = 41

	// Level 9: extension bundles.
	TypeStageBundleChunk    Type = 42
	TypeCreateBundleVersion Type = 43
	TypeDeleteBundleVersion Type = 44
	TypeDeleteBundle        Type = 45

	// Level 10: a pull confirmed for part of its lease.
	TypeAckSent Type = 46

	// Level 11: pull leases held in the leader's memory, confirmed by
	// naming the flowfiles.
	TypeAckFlows Type = 47

	// Level 12: a bundle version whose content is a file beside the log.
	TypeCreateBundleFileVersion Type = 48

	// Level 13: a push chunk whose bytes are a file beside the log.
	TypeStageChunkRef Type = 49

	// Level 14: a push's last chunk staged and the push committed in one
	// entry.
	TypeStageCommit Type = 50

	maxType = TypeStageCommit
)

// LastType is the highest command type this build knows: higher ones
// come from a newer build (ErrUnknown).
const LastType = maxType

func (t Type) String() string {
	switch t {
	case TypeCreateBucket:
		return "CreateBucket"
	case TypeUpdateBucket:
		return "UpdateBucket"
	case TypeDeleteBucket:
		return "DeleteBucket"
	case TypeCreateFlow:
		return "CreateFlow"
	case TypeUpdateFlow:
		return "UpdateFlow"
	case TypeDeleteFlow:
		return "DeleteFlow"
	case TypeCreateVersion:
		return "CreateVersion"
	case TypeSetMaintenance:
		return "SetMaintenance"
	case TypeSetNode:
		return "SetNode"
	case TypeRemoveNode:
		return "RemoveNode"
	case TypeCreatePort:
		return "CreatePort"
	case TypeUpdatePort:
		return "UpdatePort"
	case TypeDeletePort:
		return "DeletePort"
	case TypeStageChunk:
		return "StageChunk"
	case TypeCommitTx:
		return "CommitTx"
	case TypeDropTx:
		return "DropTx"
	case TypeLease:
		return "Lease"
	case TypeAck:
		return "Ack"
	case TypeRelease:
		return "Release"
	case TypeCreateUser:
		return "CreateUser"
	case TypeUpdateUser:
		return "UpdateUser"
	case TypeDeleteUser:
		return "DeleteUser"
	case TypeCreateGroup:
		return "CreateGroup"
	case TypeUpdateGroup:
		return "UpdateGroup"
	case TypeDeleteGroup:
		return "DeleteGroup"
	case TypeCreatePolicy:
		return "CreatePolicy"
	case TypeUpdatePolicy:
		return "UpdatePolicy"
	case TypeDeletePolicy:
		return "DeletePolicy"
	case TypeSeedSecurity:
		return "SeedSecurity"
	case TypeAddSigningKey:
		return "AddSigningKey"
	case TypeRevokeToken:
		return "RevokeToken"
	case TypeSetPortRetention:
		return "SetPortRetention"
	case TypeExpireFlows:
		return "ExpireFlows"
	case TypeSetDRRole:
		return "SetDRRole"
	case TypeDRApply:
		return "DRApply"
	case TypeSharedLease:
		return "SharedLease"
	case TypeSetPortOrder:
		return "SetPortOrder"
	case TypeStartEvents:
		return "StartEvents"
	case TypeHooksProgress:
		return "HooksProgress"
	case TypeRetryDead:
		return "RetryDead"
	case TypeCompactEvents:
		return "CompactEvents"
	case TypeStageBundleChunk:
		return "StageBundleChunk"
	case TypeCreateBundleVersion:
		return "CreateBundleVersion"
	case TypeDeleteBundleVersion:
		return "DeleteBundleVersion"
	case TypeDeleteBundle:
		return "DeleteBundle"
	case TypeAckSent:
		return "AckSent"
	case TypeAckFlows:
		return "AckFlows"
	case TypeCreateBundleFileVersion:
		return "CreateBundleFileVersion"
	case TypeStageChunkRef:
		return "StageChunkRef"
	case TypeStageCommit:
		return "StageCommit"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Command is one replicated state change.
type Command interface {
	Type() Type
}

// Claim is a NiFi revision claim. A nil *Claim means revisions are disabled
// for this write and no revision is checked or kept. A claim passes when the
// stored version equals Version or the stored client id equals ClientID.
type Claim struct {
	Version  int64   `json:"version"`
	ClientID *string `json:"clientId,omitempty"`
}

// CreateBucket creates a bucket with a fixed identifier and timestamp.
type CreateBucket struct {
	ID                  string  `json:"id"`
	Name                string  `json:"name"`
	Description         *string `json:"description,omitempty"`
	Created             int64   `json:"created"`
	AllowBundleRedeploy bool    `json:"allowBundleRedeploy"`
	AllowPublicRead     bool    `json:"allowPublicRead"`
	Rev                 *Claim  `json:"rev,omitempty"`
	Actor               string  `json:"actor"`
}

// UpdateBucket changes the non-nil fields of a bucket.
type UpdateBucket struct {
	ID                  string  `json:"id"`
	Name                *string `json:"name,omitempty"`
	Description         *string `json:"description,omitempty"`
	AllowBundleRedeploy *bool   `json:"allowBundleRedeploy,omitempty"`
	AllowPublicRead     *bool   `json:"allowPublicRead,omitempty"`
	Rev                 *Claim  `json:"rev,omitempty"`
	Actor               string  `json:"actor"`
}

// DeleteBucket deletes a bucket with all its flows and versions.
type DeleteBucket struct {
	ID    string `json:"id"`
	Rev   *Claim `json:"rev,omitempty"`
	Actor string `json:"actor"`
}

// CreateFlow creates a flow in a bucket.
type CreateFlow struct {
	BucketID    string  `json:"bucketId"`
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
	Created     int64   `json:"created"`
	Modified    int64   `json:"modified"`
	Rev         *Claim  `json:"rev,omitempty"`
	Actor       string  `json:"actor"`
}

// UpdateFlow changes the non-nil fields of a flow and its modified time.
type UpdateFlow struct {
	BucketID    string  `json:"bucketId"`
	ID          string  `json:"id"`
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Modified    int64   `json:"modified"`
	Rev         *Claim  `json:"rev,omitempty"`
	Actor       string  `json:"actor"`
}

// DeleteFlow deletes a flow with all its versions.
type DeleteFlow struct {
	BucketID string `json:"bucketId"`
	ID       string `json:"id"`
	Rev      *Claim `json:"rev,omitempty"`
	Actor    string `json:"actor"`
}

// CreateVersion stores version Version of a flow. Version is concrete: the
// leader resolved -1 ("next") before proposing. Content is the encoded flow
// document (see package flowdoc) and travels as the blob.
type CreateVersion struct {
	BucketID  string  `json:"bucketId"`
	FlowID    string  `json:"flowId"`
	Version   int32   `json:"version"`
	Timestamp int64   `json:"timestamp"`
	Author    string  `json:"author"`
	Comments  *string `json:"comments,omitempty"`
	// Modified becomes the flow's modifiedTimestamp.
	Modified int64  `json:"modified"`
	Content  []byte `json:"-"`
}

// SetMaintenance turns the cluster-wide read-only mode on or off.
type SetMaintenance struct {
	On     bool   `json:"on"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by"`
	At     int64  `json:"at"`
}

// SetNode records a cluster member's public facts (API URL, zone) so every
// node can answer redirects and status without asking the member.
type SetNode struct {
	ID       string `json:"id"`
	APIURL   string `json:"apiUrl"`
	RaftAddr string `json:"raftAddr"`
	Zone     string `json:"zone,omitempty"`
	At       int64  `json:"at"`
	// Level is the command level the member's build understands (see
	// Level); absent from builds before levels, which understand level 1.
	Level int `json:"level,omitempty"`
}

// RemoveNode forgets a member's recorded facts.
type RemoveNode struct {
	ID string `json:"id"`
}

func (*CreateBucket) Type() Type     { return TypeCreateBucket }
func (*UpdateBucket) Type() Type     { return TypeUpdateBucket }
func (*DeleteBucket) Type() Type     { return TypeDeleteBucket }
func (*CreateFlow) Type() Type       { return TypeCreateFlow }
func (*UpdateFlow) Type() Type       { return TypeUpdateFlow }
func (*DeleteFlow) Type() Type       { return TypeDeleteFlow }
func (*CreateVersion) Type() Type    { return TypeCreateVersion }
func (*SetMaintenance) Type() Type   { return TypeSetMaintenance }
func (*SetNode) Type() Type          { return TypeSetNode }
func (*RemoveNode) Type() Type       { return TypeRemoveNode }
func (*CreatePort) Type() Type       { return TypeCreatePort }
func (*UpdatePort) Type() Type       { return TypeUpdatePort }
func (*DeletePort) Type() Type       { return TypeDeletePort }
func (*StageChunk) Type() Type       { return TypeStageChunk }
func (*StageChunkRef) Type() Type    { return TypeStageChunkRef }
func (*StageCommit) Type() Type      { return TypeStageCommit }
func (*CommitTx) Type() Type         { return TypeCommitTx }
func (*DropTx) Type() Type           { return TypeDropTx }
func (*Lease) Type() Type            { return TypeLease }
func (*Ack) Type() Type              { return TypeAck }
func (*AckSent) Type() Type          { return TypeAckSent }
func (*AckFlows) Type() Type         { return TypeAckFlows }
func (*Release) Type() Type          { return TypeRelease }
func (*SetPortRetention) Type() Type { return TypeSetPortRetention }
func (*ExpireFlows) Type() Type      { return TypeExpireFlows }
func (*SetDRRole) Type() Type        { return TypeSetDRRole }
func (*DRApply) Type() Type          { return TypeDRApply }
func (*SharedLease) Type() Type      { return TypeSharedLease }
func (*SetPortOrder) Type() Type     { return TypeSetPortOrder }

// blobber is a command with a binary payload that travels after its JSON
// header instead of inside it.
type blobber interface {
	blob() []byte
	setBlob([]byte)
}

func (c *CreateVersion) blob() []byte     { return c.Content }
func (c *CreateVersion) setBlob(b []byte) { c.Content = b }
func (c *StageChunk) blob() []byte        { return c.Data }
func (c *StageChunk) setBlob(b []byte)    { c.Data = b }
func (c *StageCommit) blob() []byte       { return c.Data }
func (c *StageCommit) setBlob(b []byte)   { c.Data = b }

// ErrMalformed is returned for bytes of a known format version and type
// that do not parse: every replica of a build refuses them alike.
var ErrMalformed = errors.New("malformed command")

// ErrUnknown is returned for a format version or command type this build
// does not know: it was proposed by a newer build, and a replica that
// cannot apply it must stop rather than skip or refuse it.
var ErrUnknown = errors.New("unknown command")

// LevelOf is the command level a node needs to apply commands of type t
// (see Level): 1 for the registry and membership, 2 for site-to-site, 3
// for users, groups and policies, 4 for access tokens, 5 for retention by
// age, 6 for disaster recovery, 7 for concurrent pulls, 8 for events, 9
// for extension bundles, 10 for partial pull confirmations, 11 for pull
// leases in the leader's memory, 12 for bundle content in files.
func LevelOf(t Type) int {
	switch {
	case newOf(t) == nil:
		return Level + 1
	case t >= TypeStageCommit:
		return 14
	case t >= TypeStageChunkRef:
		return 13
	case t >= TypeCreateBundleFileVersion:
		return 12
	case t >= TypeAckFlows:
		return 11
	case t >= TypeAckSent:
		return 10
	case t >= TypeStageBundleChunk:
		return 9
	case t >= TypeStartEvents:
		return 8
	case t >= TypeSharedLease:
		return 7
	case t >= TypeSetDRRole:
		return 6
	case t >= TypeSetPortRetention:
		return 5
	case t >= TypeAddSigningKey:
		return 4
	case t >= TypeCreateUser:
		return 3
	case t >= TypeCreatePort:
		return 2
	}
	return 1
}

// Encode serialises c.
func Encode(c Command) ([]byte, error) {
	hdr, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.Type(), err)
	}
	var blob []byte
	if b, ok := c.(blobber); ok {
		blob = b.blob()
	}
	out := make([]byte, 0, 2+binary.MaxVarintLen64+len(hdr)+len(blob))
	out = append(out, FormatVersion, byte(c.Type()))
	out = binary.AppendUvarint(out, uint64(len(hdr)))
	out = append(out, hdr...)
	out = append(out, blob...)
	return out, nil
}

// Decode parses bytes produced by Encode. The returned CreateVersion.Content,
// StageChunk.Data and StageBundleChunk.Data alias b; callers that keep them beyond b's lifetime
// must copy them.
func Decode(b []byte) (Command, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != FormatVersion {
		return nil, fmt.Errorf("%w: command format version %d, this build reads version %d", ErrUnknown, b[0], FormatVersion)
	}
	c := newOf(Type(b[1]))
	if c == nil {
		return nil, fmt.Errorf("%w: command type %d, this build knows types 1-%d (command level %d)", ErrUnknown, b[1], maxType, Level)
	}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 || n > uint64(len(b)-2-k) {
		return nil, fmt.Errorf("%w: bad header length", ErrMalformed)
	}
	hdr := b[2+k : 2+k+int(n)]
	if err := json.Unmarshal(hdr, c); err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrMalformed, c.Type(), err)
	}
	rest := b[2+k+int(n):]
	if b, ok := c.(blobber); ok {
		b.setBlob(rest)
	} else if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s has %d trailing bytes", ErrMalformed, c.Type(), len(rest))
	}
	return c, nil
}

func newOf(t Type) Command {
	switch t {
	case TypeCreateBucket:
		return &CreateBucket{}
	case TypeUpdateBucket:
		return &UpdateBucket{}
	case TypeDeleteBucket:
		return &DeleteBucket{}
	case TypeCreateFlow:
		return &CreateFlow{}
	case TypeUpdateFlow:
		return &UpdateFlow{}
	case TypeDeleteFlow:
		return &DeleteFlow{}
	case TypeCreateVersion:
		return &CreateVersion{}
	case TypeSetMaintenance:
		return &SetMaintenance{}
	case TypeSetNode:
		return &SetNode{}
	case TypeRemoveNode:
		return &RemoveNode{}
	case TypeCreatePort:
		return &CreatePort{}
	case TypeUpdatePort:
		return &UpdatePort{}
	case TypeDeletePort:
		return &DeletePort{}
	case TypeStageChunk:
		return &StageChunk{}
	case TypeCommitTx:
		return &CommitTx{}
	case TypeDropTx:
		return &DropTx{}
	case TypeLease:
		return &Lease{}
	case TypeAck:
		return &Ack{}
	case TypeRelease:
		return &Release{}
	case TypeCreateUser:
		return &CreateUser{}
	case TypeUpdateUser:
		return &UpdateUser{}
	case TypeDeleteUser:
		return &DeleteUser{}
	case TypeCreateGroup:
		return &CreateGroup{}
	case TypeUpdateGroup:
		return &UpdateGroup{}
	case TypeDeleteGroup:
		return &DeleteGroup{}
	case TypeCreatePolicy:
		return &CreatePolicy{}
	case TypeUpdatePolicy:
		return &UpdatePolicy{}
	case TypeDeletePolicy:
		return &DeletePolicy{}
	case TypeSeedSecurity:
		return &SeedSecurity{}
	case TypeAddSigningKey:
		return &AddSigningKey{}
	case TypeRevokeToken:
		return &RevokeToken{}
	case TypeSetPortRetention:
		return &SetPortRetention{}
	case TypeExpireFlows:
		return &ExpireFlows{}
	case TypeSetDRRole:
		return &SetDRRole{}
	case TypeDRApply:
		return &DRApply{}
	case TypeSharedLease:
		return &SharedLease{}
	case TypeSetPortOrder:
		return &SetPortOrder{}
	case TypeStartEvents:
		return &StartEvents{}
	case TypeHooksProgress:
		return &HooksProgress{}
	case TypeRetryDead:
		return &RetryDead{}
	case TypeCompactEvents:
		return &CompactEvents{}
	case TypeStageBundleChunk:
		return &StageBundleChunk{}
	case TypeCreateBundleVersion:
		return &CreateBundleVersion{}
	case TypeDeleteBundleVersion:
		return &DeleteBundleVersion{}
	case TypeDeleteBundle:
		return &DeleteBundle{}
	case TypeAckSent:
		return &AckSent{}
	case TypeAckFlows:
		return &AckFlows{}
	case TypeCreateBundleFileVersion:
		return &CreateBundleFileVersion{}
	case TypeStageChunkRef:
		return &StageChunkRef{}
	case TypeStageCommit:
		return &StageCommit{}
	}
	return nil
}
