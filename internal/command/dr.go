package command

import "fmt"

// Disaster recovery commands (level 6): a standby cluster applies the
// primary's committed commands in the primary's order (DRApply), and the
// DR role, epoch and followed primary are replicated state (SetDRRole).

// DR roles.
const (
	RolePrimary = "primary" // takes writes (every cluster starts so)
	RoleStandby = "standby" // applies a primary's log, refuses writes
	RoleFenced  = "fenced"  // a primary that another cluster replaced
)

// SetDRRole changes the cluster's DR role. Apply checks the transition:
// primary → standby (follow, or reset of a standby), standby → primary
// (promote: Epoch above the one recorded), primary → fenced (Epoch above
// the one recorded: another cluster was promoted), fenced → standby
// (demote). Index is the primary's log index the standby's state stands
// at (follow, reset) or, for fenced, the last index of ours the promoted
// cluster had applied (what is after it was never shipped).
type SetDRRole struct {
	Role    string   `json:"role"`
	Epoch   int64    `json:"epoch"`
	Primary []string `json:"primary,omitempty"`
	Index   uint64   `json:"index"`
	// Reset means the state was replaced from the primary's snapshot
	// (it then stands at Index whatever it was).
	Reset bool   `json:"reset,omitempty"`
	At    int64  `json:"at"`
	By    string `json:"by"`
}

// DRApply applies, on a standby, the primary's committed entries with
// index above the one recorded, in order: each command as the primary
// applied it (refusals included, since they refused there too), except
// the primary's member records. Indexes[i] is entry i's primary index and
// Lens[i] its length in the blob; Last is the highest primary index the
// batch covers (entries that carry no command count too).
type DRApply struct {
	Indexes []uint64 `json:"indexes"`
	Lens    []int    `json:"lens"`
	Last    uint64   `json:"last"`
	At      int64    `json:"at"`
	Data    []byte   `json:"-"`
}

func (c *DRApply) blob() []byte     { return c.Data }
func (c *DRApply) setBlob(b []byte) { c.Data = b }

// Entries splits the blob into the primary's entries.
func (c *DRApply) Entries() ([][]byte, error) {
	if len(c.Indexes) != len(c.Lens) {
		return nil, fmt.Errorf("%w: DRApply with %d indexes and %d lengths", ErrMalformed, len(c.Indexes), len(c.Lens))
	}
	out := make([][]byte, len(c.Lens))
	off := 0
	for i, n := range c.Lens {
		if n < 0 || n > len(c.Data)-off {
			return nil, fmt.Errorf("%w: DRApply entry %d overruns the blob", ErrMalformed, i)
		}
		out[i] = c.Data[off : off+n]
		off += n
	}
	if off != len(c.Data) {
		return nil, fmt.Errorf("%w: DRApply blob has %d bytes after its entries", ErrMalformed, len(c.Data)-off)
	}
	return out, nil
}

// NewDRApply builds a DRApply from entries (index, bytes), in order.
func NewDRApply(indexes []uint64, entries [][]byte, last uint64, at int64) *DRApply {
	c := &DRApply{Indexes: indexes, Last: last, At: at}
	n := 0
	for _, e := range entries {
		n += len(e)
	}
	c.Data = make([]byte, 0, n)
	for _, e := range entries {
		c.Lens = append(c.Lens, len(e))
		c.Data = append(c.Data, e...)
	}
	return c
}
