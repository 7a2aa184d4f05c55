// Package x86 is jitsim's x86-64 backend: the BPF JIT of
// arch/x86/net/bpf_jit_comp.c (Linux >= 6.11, mainline) in Go, emitting the
// same bytes for the same xlated program, addresses aside.
//
// The file layout follows the kernel file: regs.go (reg2hex[], is_ereg),
// insn.go (the EMIT* sequences as one builder per machine instruction),
// jit.go (bpf_int_jit_compile and the do_jit loop), emit_*.go (the do_jit
// cases), prologue.go (emit_prologue, epilogue), tailcall.go
// (emit_bpf_tail_call_indirect/_direct), dump.go (listings).
//
// jit.Options.Scheme selects how the tail call count travels (prologue,
// tail calls, the rax load before calls): Legacy is the code of Linux
// 5.17-6.10, Fixed mainline's. Everything else is mainline's in both.
// Where the kernel relies on its verifier having rewritten the program
// (div/mod guards, sdiv/smod by -1, the zero extension after a 32-bit
// cmpxchg), the JIT emits the code of the rewritten instructions itself,
// since jitsim's engines run programs the verifier has not touched.
package x86

import "jitsim/core"

// reg is an x86-64 general purpose register by its hardware number. The
// kernel indexes reg2hex[] by BPF register and adds is_ereg() for REX; here
// the table maps straight to the hardware number, whose bit 3 is the REX
// extension bit (is_ereg) and whose low three bits are reg2hex[].
type reg uint8

const (
	rax reg = iota
	rcx
	rdx
	rbx
	rsp
	rbp
	rsi
	rdi
	r8
	r9
	r10
	r11
	r12
	r13
	r14
	r15
)

// bpf2x86 follows reg2hex[] in arch/x86/net/bpf_jit_comp.c. r12 is left out:
// as a base register it always needs a SIB byte, and it is callee saved.
// It has an entry for every byte so that indexing needs no bounds check:
// scan rejects a register field past r10 wherever it names a register,
// and where it does not (the src of a K-form insn) the entry is not used.
var bpf2x86 = [256]reg{
	core.R0: rax, core.R1: rdi, core.R2: rsi, core.R3: rdx, core.R4: rcx,
	core.R5: r8,
	core.R6: rbx, core.R7: r13, core.R8: r14, core.R9: r15, // callee saved
	core.R10: rbp, // read-only frame pointer
}

const (
	// auxReg is AUX_REG: JIT scratch, never a BPF register.
	auxReg = r11
	// axReg is BPF_REG_AX, the kernel's hidden eleventh register that the
	// verifier's rewrites (constant blinding, div/mod guards) use.
	axReg = r10
)

// isEreg is is_ereg(): r8..r15 need a REX prefix bit.
func isEreg(r reg) bool { return r >= r8 }

// isEreg8l is is_ereg_8l(): besides r8..r15, the byte registers of
// rsp/rbp/rsi/rdi (spl, bpl, sil, dil) need a REX prefix, without which the
// same encoding means ah/ch/dh/bh.
func isEreg8l(r reg) bool { return r >= rsp }

// lo3 is reg2hex[]: the register's ModRM/opcode field.
func (r reg) lo3() byte { return byte(r) & 7 }

var regNames = [...]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

func (r reg) String() string { return regNames[r&15] }

// calleeSaved lists the registers push_callee_regs saves, indexed like
// callee_regs_used[] (BPF r6..r9).
var calleeSaved = [4]reg{rbx, r13, r14, r15}
