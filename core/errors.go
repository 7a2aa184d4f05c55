package core

import (
	"errors"
	"fmt"
	"strconv"
)

// Pos says where something came from: a text line (assembler, ELF line
// info) and/or an instruction slot index. Zero fields are unknown; Insn is
// -1 when no instruction is meant.
type Pos struct {
	File string
	Line int
	Col  int
	// Section names the ELF section an instruction came from; Source is the
	// C source line quoted from BTF line info. Both may be empty.
	Section string
	Source  string
	Insn    int
}

// SlotPos is the position of one slot, kept small because a program has
// one per slot (a Pos with its three strings is 72 bytes, this 12).
type SlotPos struct {
	Line, Col int32 // 0: unknown
	// Origin indexes Program.Origins. -1 (or any index outside Origins)
	// means no file, section or source line is known.
	Origin int32
}

// Origin is what many slots share: the file, the ELF section and the C
// source line (from BTF line info) they came from. Any may be empty.
type Origin struct {
	File, Section, Source string
}

// NoInsn is a Pos that names no instruction.
var NoInsn = Pos{Insn: -1}

// String renders "file:line:col (insn N)", leaving out what is unknown.
func (p Pos) String() string {
	s := p.File
	if p.Section != "" {
		if s != "" {
			s += ":"
		}
		s += p.Section
	}
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
		if p.Col > 0 {
			s += ":" + strconv.Itoa(p.Col)
		}
	}
	if p.Insn >= 0 {
		if s != "" {
			s += " "
		}
		s += "(insn " + strconv.Itoa(p.Insn) + ")"
	}
	if s == "" {
		return "?"
	}
	return s
}

// Error is every error jitsim reports about a user's input: what stage
// failed, where, and why.
type Error struct {
	Pos  Pos
	Prog string // program name, when known
	Op   string // "parse", "load", "verify", "xlate", "jit x86_64", "jit arm64", "run"
	Err  error
}

func (e *Error) Error() string {
	where := e.Pos.String()
	if e.Prog != "" {
		where = e.Prog + ": " + where
	}
	return fmt.Sprintf("%s: %s: %v", where, e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error.
func Errorf(pos Pos, op, format string, args ...any) *Error {
	return &Error{Pos: pos, Op: op, Err: fmt.Errorf(format, args...)}
}

var (
	// ErrBudget: the run used up its instruction budget.
	ErrBudget = errors.New("instruction budget exhausted")
	// ErrTimeout: the run hit its wall-clock limit.
	ErrTimeout = errors.New("wall-clock limit reached")
	// ErrUnsupported: valid BPF that jitsim does not model (kfuncs, ...).
	ErrUnsupported = errors.New("not supported")
	// ErrFault: a memory access outside every mapped region.
	ErrFault = errors.New("memory fault")
)
