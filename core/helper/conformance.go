package helper

import (
	"math/bits"

	"jitsim/core/mem"
)

// conformanceHelpers are the ids the bpf_conformance runtimes register
// (uBPF's test plugin), indexed by id. See shared/bpf_conformance/README.md.
var conformanceHelpers = [...]Helper{
	0: {"gather_bytes", gatherBytes},
	1: {"memfrob", memfrob},
	2: {"no_op", noOp},
	3: {"sqrti", sqrti},
	4: {"strcmp_ext", strcmpExt},
	5: {"unwind", unwind},
}

func gatherBytes(_ *Env, a *[5]uint64) (uint64, error) {
	return (a[0]&0xff)<<32 | (a[1]&0xff)<<24 | (a[2]&0xff)<<16 | (a[3]&0xff)<<8 | a[4]&0xff, nil
}

// memfrobKey is glibc memfrob's XOR constant.
const memfrobKey = 42

func memfrob(env *Env, a *[5]uint64) (uint64, error) {
	if a[1] == 0 {
		return 0, nil // memfrob(p, 0) touches nothing, wherever p points
	}
	b, err := env.Bytes("memfrob", a[0], a[1], mem.Read|mem.Write)
	if err != nil {
		return 0, err
	}
	for i := range b {
		b[i] ^= memfrobKey
	}
	return 0, nil
}

func noOp(*Env, *[5]uint64) (uint64, error) { return 0, nil }

// sqrti is floor(sqrt(a)) computed exactly on integers: a float64 square
// root rounds for a >= 2^53 and would disagree with itself across hosts.
func sqrti(_ *Env, a *[5]uint64) (uint64, error) {
	x := a[0]
	if x < 2 {
		return x, nil
	}
	// Newton's iteration from a power of two above the root decreases
	// monotonically to floor(sqrt(x)).
	r := uint64(1) << ((bits.Len64(x) + 1) / 2)
	for {
		n := (r + x/r) / 2
		if n >= r {
			return r, nil
		}
		r = n
	}
}

// strcmpExt is C strcmp: the difference of the first differing bytes as
// unsigned chars (what glibc returns), 0 when equal. The int result reaches
// r0 sign-extended, as a C helper returning int into uint64_t does.
func strcmpExt(env *Env, a *[5]uint64) (uint64, error) {
	s1, err := env.String("strcmp_ext", a[0])
	if err != nil {
		return 0, err
	}
	s2, err := env.String("strcmp_ext", a[1])
	if err != nil {
		return 0, err
	}
	for i := 0; ; i++ {
		var c1, c2 byte // the NUL past the end
		if i < len(s1) {
			c1 = s1[i]
		}
		if i < len(s2) {
			c2 = s2[i]
		}
		if c1 != c2 || c1 == 0 {
			return uint64(int64(int(c1) - int(c2))), nil
		}
	}
}

func unwind(_ *Env, a *[5]uint64) (uint64, error) {
	if a[0] == 0 {
		return 0, ErrUnwind
	}
	return a[0], nil
}
