package codec

import "math"

// MaxNiFiAttributes is the attribute count above which NiFi's
// StandardFlowFileCodec refuses a packet (MAX_NUM_ATTRIBUTES). The
// encoders refuse to write more, since the peer would reject the packet.
const MaxNiFiAttributes = 25000

// Defaults for Limits.
const (
	DefaultMaxAttributes     = MaxNiFiAttributes
	DefaultMaxKeyBytes       = 1 << 20
	DefaultMaxValueBytes     = 1 << 20
	DefaultMaxAttributeBytes = 4 << 20
)

// Limits bound what a decoder accepts in one packet. A zero field takes
// its default. Attributes are held in memory while a packet is handled, so
// they are bounded; content streams, so by default it is not.
type Limits struct {
	MaxAttributes     int   // attributes per packet (default 25000, NiFi's own bound)
	MaxKeyBytes       int   // bytes of one key (default 1 MiB)
	MaxValueBytes     int   // bytes of one value (default 1 MiB)
	MaxAttributeBytes int   // key and value bytes of one packet together (default 4 MiB)
	MaxContentBytes   int64 // content bytes of one packet (default: any int64)
}

// DefaultLimits returns the limits used when none are given.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

func (l Limits) withDefaults() Limits {
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	if l.MaxKeyBytes <= 0 {
		l.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	if l.MaxAttributeBytes <= 0 {
		l.MaxAttributeBytes = DefaultMaxAttributeBytes
	}
	if l.MaxContentBytes <= 0 {
		l.MaxContentBytes = math.MaxInt64
	}
	return l
}
