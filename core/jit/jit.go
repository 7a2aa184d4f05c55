// Package jit is the contract between the backends (arch/*) and whoever
// runs their output (sim/, cmd/jitsim dump): what a backend is asked to do
// and the image it hands back. It holds no machine code knowledge itself.
package jit

import "jitsim/core"

// Options select what differs between kernel builds and runs.
type Options struct {
	Scheme core.Scheme
	// IBT emits endbr64 as a CONFIG_X86_KERNEL_IBT kernel does (x86-64).
	IBT bool
	// BTI and PAC emit bti/paciasp as CONFIG_ARM64_BTI_KERNEL and
	// CONFIG_ARM64_PTR_AUTH_KERNEL kernels do (arm64).
	BTI, PAC bool
	// LSE selects the ARMv8.1 LSE atomics, as the kernel does when the CPU
	// has them; otherwise the LL/SC loops (arm64).
	LSE bool
	// Base is the guest address the image will be loaded at: x86 call
	// rel32 and arm64 adr depend on it.
	Base uint64
	// HelperAddr gives the guest address a call to helper id lands on.
	HelperAddr func(id int32) uint64
}

// Image is one JITed program: its main function and subprograms laid out
// one after the other, as jit_subprogs() leaves them in separate images but
// here in one buffer so the simulator maps it once.
type Image struct {
	Arch string // "x86_64" or "arm64"
	Code []byte
	Base uint64
	// Funcs follow core.Program.Funcs: where each function's code starts
	// and ends in Code.
	Funcs []Func
	// InsnOffsets has len(Insns)+1 entries: InsnOffsets[i] is the offset in
	// Code where the native code of BPF slot i starts; the last entry is
	// the end of the last function's body. Second slots of ld_imm64 start
	// where they end (they emit nothing). This is the kernel's addrs[] /
	// ctx->offset[] shifted to "start of" and made image-relative, which is
	// what fault mapping and listings need.
	InsnOffsets []int
	// TailCallOffset is where a tail call enters a program: bytes from the
	// function's start (x86 X86_TAIL_CALL_OFFSET, arm64 PROLOGUE_OFFSET*4).
	TailCallOffset int
	// EntryFrameSize is how far below the stack pointer at entry to the
	// main function its prologue sets the BPF frame pointer (r10): a
	// runner that wants r10 at a given address starts with the stack
	// pointer that much above it (x86-64: 8, the pushed rbp; arm64: the
	// frame record, the count slot and the callee-saved pairs pushed
	// before x25 = sp).
	EntryFrameSize int
	// Pokes are the direct tail call sites (x86-64 only).
	Pokes []Poke
}

// Func is one function's place in an Image.
type Func struct {
	Name       string
	Start, End int // byte offsets in Code
	// BodyStart is where the code of the function's first BPF slot begins,
	// after the prologue.
	BodyStart int
}

// Poke is a direct tail call site the kernel patches when a prog array slot
// changes (struct bpf_jit_poke_descriptor; bpf_arch_poke_desc_update).
type Poke struct {
	Insn int    // BPF slot of the tail call
	Map  int    // index of the prog array in core.Object.Maps
	Key  uint32 // constant slot
	// TailCallSite is the offset of the nop5 that becomes "jmp target"
	// (the kernel's tailcall_target); BypassSite the offset of the "jmp
	// out" that is nopped once the slot is filled (tailcall_bypass), and
	// BypassTarget where that jump goes.
	TailCallSite int
	BypassSite   int
	BypassTarget int
}

// Backend compiles verified, xlated programs (analysis has filled Funcs).
type Backend interface {
	Arch() string
	Compile(p *core.Program, opts Options) (*Image, error)
}
