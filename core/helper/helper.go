// Package helper is the one helper table every engine calls into: the
// interpreter directly, the simulator from its trap stub. A helper is a Go
// function over guest memory, so a helper call gives the same r0 and leaves
// the same bytes behind on every engine.
package helper

import (
	"errors"
	"fmt"

	"jitsim/core"
	"jitsim/core/maps"
	"jitsim/core/mem"
)

// Func is one helper: args are r1-r5 at the call, the result goes to r0.
// An error stops the run; the engine wraps it with the calling instruction.
type Func func(env *Env, args *[5]uint64) (uint64, error)

// Helper is one entry of a helper table.
type Helper struct {
	Name string
	Fn   Func
}

// ErrUnwind is returned by the conformance suite's unwind helper when its
// argument is 0: uBPF's unwind index semantics, where the program stops at
// once with r0 = 0 (not an error: engines turn it into a normal exit, from
// any call depth).
var ErrUnwind = errors.New("unwind")

// Env is what helpers see of a run. Engines make one per guest address
// space and Reset it at the start of every run, so the fake clock, the
// random stream and the printk buffer start from the same state on every
// engine. Map helpers find the maps through Maps, which the engine sets to
// the Set of the object it runs (nil: a map helper call is an error).
type Env struct {
	Mem  *mem.Space
	Maps *maps.Set
	// Clock is the next value bpf_ktime_get_ns returns.
	Clock uint64
	// Rand is the state of bpf_get_prandom_u32's generator.
	Rand uint64
	// Printk collects bpf_trace_printk output, as the trace pipe would.
	Printk []byte
}

// The deterministic starting points of a run. A boot-like clock (a second
// after boot) makes printed times look plausible; each call advances it by
// ClockStep so consecutive reads differ, as real reads would.
const (
	ClockStart = 1_000_000_000
	ClockStep  = 1000
	RandSeed   = 0x6a697473696d // "jitsim"
)

// NewEnv returns an Env over m, already Reset.
func NewEnv(m *mem.Space) *Env {
	e := &Env{Mem: m}
	e.Reset()
	return e
}

// Reset puts the per-run state back to its starting point.
func (e *Env) Reset() {
	e.Clock = ClockStart
	e.Rand = RandSeed
	e.Printk = e.Printk[:0]
}

// maxHelperBytes bounds one memory argument, so a garbage length turns into
// a fault message instead of an int overflow.
const maxHelperBytes = 1 << 30

// Bytes returns the n guest bytes at addr with the rights asked for, or an
// error wrapping core.ErrFault. what names the access in the message.
func (e *Env) Bytes(what string, addr, n uint64, want mem.Prot) ([]byte, error) {
	kind := "read"
	if want&mem.Write != 0 {
		kind = "write"
	}
	if n > maxHelperBytes {
		return nil, fmt.Errorf("%s: %s of %d bytes at %#x: %w", what, kind, n, addr, core.ErrFault)
	}
	b := e.Mem.Bytes(addr, int(n), want)
	if b == nil {
		return nil, fmt.Errorf("%s: %s of %d bytes at %#x: %w", what, kind, n, addr, core.ErrFault)
	}
	return b, nil
}

// String reads the NUL-terminated string at addr (without the NUL). The
// string must end inside the region it starts in.
func (e *Env) String(what string, addr uint64) ([]byte, error) {
	r := e.Mem.Find(addr, 1)
	if r == nil || r.Prot&mem.Read == 0 {
		return nil, fmt.Errorf("%s: string at %#x: %w", what, addr, core.ErrFault)
	}
	b := r.Data[addr-r.Base:]
	for i, c := range b {
		if c == 0 {
			return b[:i:i], nil
		}
	}
	return nil, fmt.Errorf("%s: string at %#x runs past the end of %s at %#x: %w", what, addr, r.Name, r.End(), core.ErrFault)
}

// Lookup finds helper id in the set a program calls into.
func Lookup(set core.HelperSet, id int32) (Helper, bool) {
	var h Helper
	switch set {
	case core.HelpersConformance:
		if id >= 0 && int(id) < len(conformanceHelpers) {
			h = conformanceHelpers[id]
		}
	case core.HelpersKernel:
		h = kernelHelpers[id]
	}
	return h, h.Fn != nil
}

// Describe names helper id for an error message about a call that Lookup
// could not serve, and says whether the id is known but not modelled (the
// engine should then report core.ErrUnsupported).
func Describe(set core.HelperSet, id int32) (name string, known bool) {
	if h, ok := Lookup(set, id); ok {
		return h.Name, true
	}
	if set == core.HelpersKernel {
		if n, ok := kernelUnmodelled[id]; ok {
			return n, true
		}
	}
	return fmt.Sprintf("unknown helper %d (%s set)", id, set), false
}
