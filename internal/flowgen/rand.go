package flowgen

import "math/bits"

// rng is xoshiro256** seeded through splitmix64. The package carries its own
// generator instead of using math/rand because the promise "same seed, same
// bytes" must hold across Go releases, and the standard library does not
// promise that the helpers layered over its sources (IntN, Float64, ...) will
// keep drawing the same numbers forever.
type rng struct{ s [4]uint64 }

func newRNG(seed uint64) *rng {
	r := &rng{}
	x := seed
	for i := range r.s {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
	return r
}

func (r *rng) u64() uint64 {
	s := &r.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

// intn returns a number in [0, n). It uses the multiply-high reduction; the
// bias is far below anything a test generator could notice.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return r.float() < p }

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// child derives an independent stream, so that a sub-task (for example the
// size estimate of one processor kind) does not shift the main sequence.
func (r *rng) child() *rng { return newRNG(r.u64()) }

const hexDigits = "0123456789abcdef"

// uuid returns a random (version 4, RFC 4122 variant) UUID in the lowercase
// 8-4-4-4-12 form that NiFi prints.
func (r *rng) uuid() string {
	var b [16]byte
	a, c := r.u64(), r.u64()
	for i := 0; i < 8; i++ {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexDigits[v>>4]
		out[j+1] = hexDigits[v&0x0f]
		j += 2
	}
	return string(out[:])
}
