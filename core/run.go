package core

import "time"

// Scheme selects how the tail call count travels between frames.
type Scheme uint8

const (
	// Fixed is Linux >= 6.11: one counter in the entry program's frame and
	// a pointer to it (tcc_ptr) handed to subprograms and tail callees.
	Fixed Scheme = iota
	// Legacy is Linux <= 6.10: the count passed by value, so tail calls
	// made from subprograms count on their own copy.
	Legacy
)

func (s Scheme) String() string {
	if s == Legacy {
		return "legacy"
	}
	return "fixed"
}

// ParseScheme accepts "fixed" and "legacy".
func ParseScheme(s string) (Scheme, bool) {
	switch s {
	case "fixed":
		return Fixed, true
	case "legacy":
		return Legacy, true
	}
	return 0, false
}

// DefaultBudget is the instruction budget of a run unless asked otherwise.
const DefaultBudget = 1_000_000

// RunOptions are the same for every engine.
type RunOptions struct {
	Scheme Scheme
	// Budget bounds the BPF instructions a run may execute (0: DefaultBudget).
	Budget uint64
	// Timeout bounds a run's wall-clock time (0: none beyond the budget).
	Timeout time.Duration
	// KeepMaps keeps the maps and global data as the engine's previous
	// run of the same object left them (and as Go code changed them since,
	// through core/maps), as bpf_prog_test_run does: the kernel selftests
	// read counters that accumulate over several runs. false: every run
	// starts from the object's initial map contents.
	KeepMaps bool
}

// Input is what a run starts with. When Ctx is non-empty its bytes are
// placed at mem.CtxBase and r1 points there, r2 holds its length (the
// conformance suite's convention); otherwise r1 = r2 = 0.
type Input struct {
	Ctx []byte
	// Packet, when non-empty, is placed at mem.PacketBase: the packet a
	// kernel context (core/ctx: a simulated struct sk_buff or xdp_buff in
	// Ctx) points into.
	Packet []byte
}

// Result is what every engine reports for a run, so runs compare exactly.
type Result struct {
	R0 uint64
	// Insns is how many BPF instructions ran (JITs: as counted by the
	// simulator's budget accounting).
	Insns uint64
	// Ctx is the context memory after the run.
	Ctx []byte
	// Packet is the packet memory after the run (programs may write it).
	Packet []byte
	// TailCalls records every tail call attempt that succeeded, in order.
	TailCalls []TailCallEvent
}

// TailCallEvent is one successful tail call.
type TailCallEvent struct {
	From, To string // program names
	Slot     uint32
	Direct   bool
	// CountBefore and CountAfter are the tail call count of the frame
	// making the call (legacy) or of the run (fixed).
	CountBefore, CountAfter uint32
	Depth                   int // call depth of the frame making the call (0: entry frame)
}

// Engine runs a verified object's program. Engines are reused across runs.
type Engine interface {
	Name() string
	Run(obj *Object, prog int, in Input, opts RunOptions) (*Result, error)
}
