package sim

import (
	"encoding/binary"

	"jitsim/arch/arm64"
	"jitsim/arch/x86"
	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/mem"
	"jitsim/sim/uc"
)

// Helper trap stubs: one per helper id, stubStride bytes apart from the
// helper base, so HelperAddr(id) = base + id*stubStride is the formula
// both backends' callx (op 0x8d) computes and checks. A stub traps
// (x86 int3, arm64 brk) into the interrupt hook, which runs the Go helper
// and resumes at the stub's ret.
const (
	stubStride = 8
	numStubs   = 1024 // kernel helper ids end near 212; conformance ones at 5
	stubBytes  = numStubs * stubStride
	// The run returns to stopAddr (the main function's return address),
	// in its own page after the stubs: Unicorn drops the translation of
	// the block holding stopAddr-1 after every run, which must not be a
	// stub's.
	stopOffset  = stubBytes + mem.PageSize/2
	helperBytes = stubBytes + mem.PageSize
)

// codeBytes is the JIT code region: images are appended one after the
// other and stay until it fills up, so switching programs costs no
// retranslation.
const codeBytes = 16 << 20

// archInfo is what the engine needs to know about one instruction set and
// the backend's ABI on it.
type archInfo struct {
	name       string
	ucArch     uc.Arch
	ucMode     uc.Mode
	codeBase   uint64
	helperBase uint64
	backend    jit.Backend
	// bpf maps BPF r0-r10 to Unicorn register ids (the backend's reg2hex[]
	// / bpf2a64[]).
	bpf [core.NumRegs]int
	// args are the helper argument registers, ret the return register.
	args [5]int
	ret  int
	sp   int
	pc   int
	// reset lists every register a run starts from zero (sp and the
	// arguments are written after).
	reset []int
	// entry are the registers a run starts with set: the stack pointer,
	// r1, r2, then EFLAGS (x86) or the link register (arm64). batch is
	// reset followed by entry, written in one call.
	entry []int
	batch []int
	retPC [2]int // the return register and the PC, for a helper's return
	// tcRegs hold, where a tail call lands, the count (or tcc_ptr), the
	// frame pointer and r3 (the slot).
	tcRegs [3]int
	// trapNo is the interrupt number of a stub's trap; trapLen how far
	// past the trap the PC is when the hook runs (x86 int3: 1) and
	// resume how far the hook must move it on (arm64 brk: 4).
	trapNo  uint32
	trapLen uint64
	resume  uint64
	// stub is one helper id's trap stub; fill what the rest of the helper
	// region holds (traps that are no stub's).
	stub func(id int) [stubStride]byte
	fill [4]byte
	// lastExitFalls: the last exit of a function emits nothing and falls
	// into the epilogue that the other exits branch to (arm64). On x86 the
	// first exit emits the epilogue and the others jump to it.
	lastExitFalls bool
	// dataAbort is the exception a misaligned atomic raises (arm64 only;
	// 0 = none).
	dataAbort uint32
	// exceptions names CPU exceptions for error messages.
	exceptions map[uint32]string
}

var x86Arch = &archInfo{
	name:       "x86_64",
	ucArch:     uc.ArchX86,
	ucMode:     uc.Mode64,
	codeBase:   mem.X86CodeBase,
	helperBase: mem.X86HelperBase,
	backend:    x86.Backend{},
	bpf: [core.NumRegs]int{
		uc.X86RegRAX, uc.X86RegRDI, uc.X86RegRSI, uc.X86RegRDX, uc.X86RegRCX,
		uc.X86RegR8, uc.X86RegRBX, uc.X86RegR13, uc.X86RegR14, uc.X86RegR15,
		uc.X86RegRBP,
	},
	args: [5]int{uc.X86RegRDI, uc.X86RegRSI, uc.X86RegRDX, uc.X86RegRCX, uc.X86RegR8},
	ret:  uc.X86RegRAX,
	sp:   uc.X86RegRSP,
	pc:   uc.X86RegRIP,
	reset: []int{
		uc.X86RegRAX, uc.X86RegRBX, uc.X86RegRCX, uc.X86RegRDX, uc.X86RegRSI,
		uc.X86RegRDI, uc.X86RegRBP, uc.X86RegR8, uc.X86RegR9, uc.X86RegR10,
		uc.X86RegR11, uc.X86RegR12, uc.X86RegR13, uc.X86RegR14, uc.X86RegR15,
	},
	entry:   []int{uc.X86RegRSP, uc.X86RegRDI, uc.X86RegRSI, uc.X86RegEFLAGS},
	tcRegs:  [3]int{uc.X86RegRAX, uc.X86RegRBP, uc.X86RegRDX},
	trapNo:  3, // #BP
	trapLen: 1,
	stub: func(int) [stubStride]byte {
		return [stubStride]byte{0xcc, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc} // int3; ret; int3...
	},
	fill: [4]byte{0xcc, 0xcc, 0xcc, 0xcc},
	exceptions: map[uint32]string{
		0: "#DE (divide error)", 1: "#DB", 4: "#OF", 5: "#BR", 6: "#UD (invalid opcode)",
		13: "#GP (general protection)", 14: "#PF (page fault)", 17: "#AC (alignment check)",
	},
}

// arm64 A64 words for the stubs.
const (
	a64Brk = 0xd4200000 // BRK #imm16 (imm16 at bit 5)
	a64Ret = 0xd65f03c0 // RET (x30)
)

var arm64Arch = &archInfo{
	name:       "arm64",
	ucArch:     uc.ArchARM64,
	ucMode:     uc.ModeARM,
	codeBase:   mem.Arm64CodeBase,
	helperBase: mem.Arm64HelperBase,
	backend:    arm64.Backend{},
	bpf: [core.NumRegs]int{
		uc.ARM64RegX7, uc.ARM64RegX0, uc.ARM64RegX1, uc.ARM64RegX2, uc.ARM64RegX3,
		uc.ARM64RegX4, uc.ARM64RegX19, uc.ARM64RegX20, uc.ARM64RegX21, uc.ARM64RegX22,
		uc.ARM64RegX25,
	},
	args: [5]int{uc.ARM64RegX0, uc.ARM64RegX1, uc.ARM64RegX2, uc.ARM64RegX3, uc.ARM64RegX4},
	ret:  uc.ARM64RegX0,
	sp:   uc.ARM64RegSP,
	pc:   uc.ARM64RegPC,
	reset: []int{
		uc.ARM64RegX0, uc.ARM64RegX1, uc.ARM64RegX2, uc.ARM64RegX3, uc.ARM64RegX4,
		uc.ARM64RegX5, uc.ARM64RegX6, uc.ARM64RegX7, uc.ARM64RegX8, uc.ARM64RegX9,
		uc.ARM64RegX10, uc.ARM64RegX11, uc.ARM64RegX12, uc.ARM64RegX13, uc.ARM64RegX14,
		uc.ARM64RegX15, uc.ARM64RegX16, uc.ARM64RegX17, uc.ARM64RegX18, uc.ARM64RegX19,
		uc.ARM64RegX20, uc.ARM64RegX21, uc.ARM64RegX22, uc.ARM64RegX23, uc.ARM64RegX24,
		uc.ARM64RegX25, uc.ARM64RegX26, uc.ARM64RegX27, uc.ARM64RegX28, uc.ARM64RegX29,
		uc.ARM64RegX30, uc.ARM64RegNZCV,
	},
	entry:  []int{uc.ARM64RegSP, uc.ARM64RegX0, uc.ARM64RegX1, uc.ARM64RegLR},
	tcRegs: [3]int{uc.ARM64RegX26, uc.ARM64RegX29, uc.ARM64RegX2},
	trapNo: uc.ARM64ExcpBKPT,
	resume: 4,
	stub: func(id int) [stubStride]byte {
		var b [stubStride]byte
		binary.LittleEndian.PutUint32(b[0:], a64Brk|uint32(id&0xffff)<<5)
		binary.LittleEndian.PutUint32(b[4:], a64Ret)
		return b
	},
	fill:          [4]byte{0x00, 0xe0, 0x3f, 0xd4}, // brk #0xffff
	lastExitFalls: true,
	dataAbort:     4, // QEMU's EXCP_DATA_ABORT
	exceptions: map[uint32]string{
		uc.ARM64ExcpUDEF: "undefined instruction", uc.ARM64ExcpSWI: "svc",
		3: "prefetch abort", 4: "data abort (alignment or access fault)",
	},
}

func init() {
	for _, a := range []*archInfo{x86Arch, arm64Arch} {
		a.batch = append(append([]int(nil), a.reset...), a.entry...)
		a.retPC = [2]int{a.ret, a.pc}
	}
}
