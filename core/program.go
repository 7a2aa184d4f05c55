package core

import "strconv"

// Object is what a loader produces from one file: programs, the maps they
// reference and the helper table they expect.
type Object struct {
	File  string
	Progs []*Program
	Maps  []*Map
	// Helpers names the helper id space the programs call into.
	Helpers HelperSet
	// Notes are what a loader wants a reader to know that fits nowhere else,
	// e.g. a program type jitsim does not model, loaded as unspec.
	Notes []string
}

// HelperSet selects a helper id space. Kernel ids (1 = map_lookup_elem,
// 12 = tail_call, ...) and the conformance suite's (uBPF's test plugin:
// 0 = gather_bytes, 1 = memfrob, ...) overlap, so an object says which it
// means.
type HelperSet uint8

const (
	HelpersKernel HelperSet = iota
	HelpersConformance
)

func (h HelperSet) String() string {
	if h == HelpersConformance {
		return "conformance"
	}
	return "kernel"
}

// Program is one loadable BPF program: its main function followed by its
// subprograms in one slot array, as the kernel holds it (pseudo calls jump
// by relative slot offset).
type Program struct {
	Name string
	Type ProgType
	// Insns are the program's slots; an ld_imm64 takes two.
	Insns []Insn
	// SlotPos has one entry per slot (or is nil): where it came from.
	// PosOf expands an entry into a Pos.
	SlotPos []SlotPos
	// Origins are what the SlotPos entries point at: one per source file
	// for the assembler, one per ELF section and C source line for the ELF
	// loader.
	Origins []Origin
	// Symbols name slots: labels and function entries from the source, in
	// slot order. Used by printers and error messages.
	Symbols []Symbol
	// Funcs is filled by analysis: Funcs[0] is the main function, the rest
	// the subprograms in slot order.
	Funcs []Func
	// KernelCtx: r1 is the kernel's context for Type (struct __sk_buff for
	// socket filters and tc, struct xdp_md for XDP), as for clang-built
	// objects; xlate rewrites context accesses and LD_ABS/LD_IND into
	// accesses to jitsim's simulated kernel objects (core/kabi, built by
	// core/ctx) and clears the flag on its output. false: r1 points at plain
	// bytes whatever Type says (the conformance suite's convention).
	KernelCtx bool
	// TailCallPokes is the verifier's poke_tab: xlate turns a tail call
	// whose map and key are constants into JMP|TailCall with Imm = k > 0,
	// naming TailCallPokes[k-1] (the kernel's insn->imm = poke index + 1).
	// Imm 0 is an indirect tail call.
	TailCallPokes []TailCallPoke
}

// TailCallPoke is the tail_call part of a struct bpf_jit_poke_descriptor:
// the prog array and the constant slot of a direct tail call site.
type TailCallPoke struct {
	Map int // index in Object.Maps
	Key uint32
}

// Func is one function of a program, with what the kernel's verifier
// computes for the JIT.
type Func struct {
	Name       string
	Start, End int // slots [Start, End)
	// StackDepth is the verifier's stack_depth: bytes below r10 used,
	// rounded up to 8 as the kernel rounds it (grow_stack_state, 6.8+).
	// core/analysis gives 512 when an access has no provable lower bound.
	StackDepth int
	// CalleeSaved[i] is set when the function uses r6+i (r6..r9).
	CalleeSaved [4]bool
	// TailCallReachable is the kernel's tail_call_reachable (the main
	// function's is prog->aux's, a subprogram's its func[i]->aux's): set on
	// a function that tail-calls, and by check_max_stack_depth's walk on the
	// callers above a tail-calling subprogram and on every caller the walk
	// passes after first meeting one. The JITs keep the tail call count
	// across this function's calls when it is set. core/analysis documents
	// the exact rule.
	TailCallReachable bool
	// HasTailCall: the function itself holds a tail call.
	HasTailCall bool
}

// Symbol names one instruction slot.
type Symbol struct {
	Name string
	Insn int
	Func bool // a function entry, not a plain label
}

// PosOf returns the position of slot i.
func (p *Program) PosOf(i int) Pos {
	pos := Pos{Insn: i}
	if i >= 0 && i < len(p.SlotPos) {
		s := p.SlotPos[i]
		pos.Line, pos.Col = int(s.Line), int(s.Col)
		if o := s.Origin; o >= 0 && int(o) < len(p.Origins) {
			pos.File, pos.Section, pos.Source = p.Origins[o].File, p.Origins[o].Section, p.Origins[o].Source
		}
	}
	return pos
}

// OriginOf returns the origin of slot i, the zero Origin when unknown.
func (p *Program) OriginOf(i int) Origin {
	if i >= 0 && i < len(p.SlotPos) {
		if o := p.SlotPos[i].Origin; o >= 0 && int(o) < len(p.Origins) {
			return p.Origins[o]
		}
	}
	return Origin{}
}

// Errorf builds an *Error naming this program and slot i.
func (p *Program) Errorf(i int, op, format string, args ...any) *Error {
	e := Errorf(p.PosOf(i), op, format, args...)
	e.Prog = p.Name
	return e
}

// ProgType is the kernel's enum bpf_prog_type for the types jitsim models.
type ProgType uint32

const (
	ProgTypeUnspec       ProgType = 0
	ProgTypeSocketFilter ProgType = 1
	ProgTypeSchedCLS     ProgType = 3
	ProgTypeSchedAct     ProgType = 4
	ProgTypeXDP          ProgType = 6
)

// MapType is the kernel's enum bpf_map_type for the types jitsim models.
type MapType uint32

const (
	MapHash      MapType = 1
	MapArray     MapType = 2
	MapProgArray MapType = 3
)

func (t MapType) String() string {
	switch t {
	case MapHash:
		return "hash"
	case MapArray:
		return "array"
	case MapProgArray:
		return "prog_array"
	}
	return "map_type(" + strconv.Itoa(int(t)) + ")"
}

// Map declares one map. ld_imm64 with Src PseudoMapFD or PseudoMapValue
// names a map by its index in Object.Maps (as a file descriptor would).
type Map struct {
	Name       string
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// Entries are the initial key/value pairs (array, hash).
	Entries []MapEntry
	// Progs are the initial prog array slots: slot -> program name.
	Progs map[uint32]string
	// Section is set for global data maps (.data, .bss, .rodata).
	Section string
	// Vars are the C variables a global data map holds, in offset order:
	// each a range of its one value.
	Vars []Var
	Pos  Pos
}

// Var is one global variable of a data map: its C name and where its bytes
// are in the map's value.
type Var struct {
	Name         string
	Offset, Size uint32
}

// MapEntry is one initial key/value pair.
type MapEntry struct {
	Key, Value []byte
}
