package store

import (
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// checkArgs refuses a command whose arguments the tables cannot hold,
// before anything of it is written. It depends on the command alone, so
// every replica refuses it alike. The registry validates the same things
// with NiFi's messages before proposing; this is the state machine's own
// guard, so that no proposal, however it was built, can make a write fail
// halfway through a command (bbolt refuses empty and oversized keys) and
// stop the replicas.
//
// It refuses only what no earlier build could have applied (those stopped
// on such entries), so replaying an old log gives the same state.
func checkArgs(c command.Command) error {
	switch c := c.(type) {
	case *command.CreateBucket:
		return all(id("Bucket", c.ID), name("Bucket", c.Name), key("Bucket name", []byte(c.Name)))
	case *command.UpdateBucket:
		if c.Name != nil && *c.Name != "" {
			return all(id("Bucket", c.ID), key("Bucket name", []byte(*c.Name)))
		}
		return id("Bucket", c.ID)
	case *command.DeleteBucket:
		return id("Bucket", c.ID)
	case *command.CreateFlow:
		return all(id("Bucket", c.BucketID), id("Versioned flow", c.ID), name("Versioned flow", c.Name),
			key("Versioned flow name", nameKey(c.BucketID, c.Name)))
	case *command.UpdateFlow:
		if c.Name != nil && *c.Name != "" {
			return all(id("Bucket", c.BucketID), id("Versioned flow", c.ID), key("Versioned flow name", nameKey(c.BucketID, *c.Name)))
		}
		return all(id("Bucket", c.BucketID), id("Versioned flow", c.ID))
	case *command.DeleteFlow:
		return all(id("Bucket", c.BucketID), id("Versioned flow", c.ID))
	case *command.CreateVersion:
		if int64(len(c.Content)) > bolt.MaxValueSize {
			return model.Invalid("Cannot create versioned flow snapshot - the flow document is too large to store")
		}
		return all(id("Bucket", c.BucketID), id("Versioned flow", c.FlowID))
	case *command.SetNode:
		return id("Node", c.ID)
	case *command.RemoveNode:
		return id("Node", c.ID)
	// Site-to-site keys hold an id, then 8 bytes (an offset or a
	// sequence number): qid checks room for them.
	case *command.CreatePort:
		return all(qid("Port", c.ID), name("Port", c.Name), key("Port name", []byte(c.Kind+"\x00"+c.Name)))
	case *command.UpdatePort:
		return qid("Port", c.ID)
	case *command.DeletePort:
		return qid("Port", c.ID)
	case *command.StageChunk:
		if int64(len(c.Data)) > maxChunk {
			return model.Invalid("A staged chunk is larger than a chunk may be")
		}
		return all(qid("Port", c.Port), qid("Transaction", c.Tx))
	case *command.StageChunkRef:
		if c.Size <= 0 || c.Size > maxChunk {
			return model.Invalid("A staged chunk's file holds 1 byte to the largest chunk")
		}
		return all(qid("Port", c.Port), qid("Transaction", c.Tx))
	case *command.CommitTx:
		return all(qid("Port", c.Port), qid("Transaction", c.Tx))
	case *command.StageCommit:
		if c.SHA256 != "" && len(c.Data) > 0 {
			return model.Invalid("A staged chunk is either in the command or in a file, not both")
		}
		if c.SHA256 == "" && c.Size != int64(len(c.Data)) {
			return model.Invalid("A staged chunk's size is the length of its bytes")
		}
		if c.Size <= 0 || c.Size > maxChunk {
			return model.Invalid("A staged chunk holds 1 byte to the largest chunk")
		}
		return all(qid("Port", c.Port), qid("Transaction", c.Tx))
	case *command.Lease:
		return all(qid("Port", c.Port), qid("Transaction", c.Tx))
	case *command.DropTx:
		return qid("Transaction", c.Tx)
	case *command.Ack:
		return qid("Transaction", c.Tx)
	case *command.Release:
		return qid("Transaction", c.Tx)
	case *command.AddSigningKey:
		return id("Signing key", c.ID)
	case *command.RevokeToken:
		return id("Token", c.TokenID)
	case *command.CreateUser:
		return all(id("User", c.ID), key("User identity", []byte(c.Identity)))
	case *command.UpdateUser:
		return all(id("User", c.ID), key("User identity", []byte(c.Identity)))
	case *command.DeleteUser:
		return id("User", c.ID)
	case *command.CreateGroup:
		return all(id("User group", c.ID), key("User group identity", []byte(c.Identity)), ids("User", c.Users))
	case *command.UpdateGroup:
		return all(id("User group", c.ID), key("User group identity", []byte(c.Identity)), ids("User", c.Users))
	case *command.DeleteGroup:
		return id("User group", c.ID)
	case *command.CreatePolicy:
		return all(id("Access policy", c.ID), key("Access policy resource", []byte(c.Resource)),
			ids("User", c.Users), ids("User group", c.Groups))
	case *command.UpdatePolicy:
		return all(id("Access policy", c.ID), ids("User", c.Users), ids("User group", c.Groups))
	case *command.DeletePolicy:
		return id("Access policy", c.ID)
	case *command.SeedSecurity:
		for _, u := range c.Users {
			if err := all(id("User", u.ID), key("User identity", []byte(u.Identity))); err != nil {
				return err
			}
		}
		for _, p := range c.Policies {
			if err := all(id("Access policy", p.ID), key("Access policy resource", []byte(p.Resource))); err != nil {
				return err
			}
		}
	}
	return nil
}

// ids checks a list of identifiers.
func ids(what string, vs []string) error {
	for _, v := range vs {
		if err := id(what, v); err != nil {
			return err
		}
	}
	return nil
}

// maxChunk bounds a staged chunk: far above what the relay proposes (a few
// MiB), far below what bbolt can hold in one value.
const maxChunk = 256 << 20

func all(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// id checks an identifier used as a key, alone or inside a composite key
// (prefixed: a uvarint length, then the id).
func id(what, v string) error {
	if v == "" {
		return model.Invalid(what + " identifier must not be empty")
	}
	return key(what+" identifier", prefixed(v, 0, 0, 0, 0))
}

// qid checks an identifier of the site-to-site tables, whose keys add 8
// bytes to it.
func qid(what, v string) error {
	if v == "" {
		return model.Invalid(what + " identifier must not be empty")
	}
	return key(what+" identifier", prefixed(v, 0, 0, 0, 0, 0, 0, 0, 0))
}

func name(what, v string) error {
	if strings.TrimSpace(v) == "" {
		return model.Invalid(what + " name must not be blank")
	}
	return nil
}

func key(what string, k []byte) error {
	if len(k) == 0 {
		return model.Invalid(what + " must not be empty")
	}
	if len(k) > bolt.MaxKeySize {
		return model.Invalid(what + " is too long to store")
	}
	return nil
}
