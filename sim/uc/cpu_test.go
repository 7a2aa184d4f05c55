package uc_test

import (
	"errors"
	"testing"

	"jitsim/core/mem"
	"jitsim/sim/uc"
)

// What the kernel's arm64 JIT emits for BPF atomics: LSE instructions when
// the CPU has ARMv8.1 atomics (emit_lse_atomic), an exclusive-load/store loop
// otherwise (emit_ll_sc_atomic).
var (
	lseInsns = []a64{
		{0xf8e10002, "ldaddal x1, x2, [x0]"}, // BPF_ADD | BPF_FETCH
		{0xc8e3fc04, "casal x3, x4, [x0]"},   // BPF_CMPXCHG
		{0xf8e58006, "swpal x5, x6, [x0]"},   // BPF_XCHG
	}
	llscLoop = []a64{ // BPF_ADD | BPF_FETCH
		{0xc85f7c02, "ldxr x2, [x0]"},
		{0x8b010047, "add x7, x2, x1"},
		{0xc808fc07, "stlxr w8, x7, [x0]"},
		{0x35ffffa8, "cbnz w8, .+0xfffffffffffffff4"},
		{0xd5033bbf, "dmb ish"},
	}
)

func isLSE(in a64) bool {
	for _, l := range lseInsns {
		if in == l {
			return true
		}
	}
	return false
}

// TestLSEEncoding builds the LSE words from their fields (Arm ARM C6.2:
// LDADD/SWP are size:111000:A:R:1:Rs:o3:opc:00:Rn:Rt, CAS is
// size:0010001:L:1:Rs:o0:11111:Rn:Rt), since arm64asm cannot decode them.
// llvm-mc -triple=aarch64 -mattr=+lse agrees with all three words.
func TestLSEEncoding(t *testing.T) {
	const size64, acq, rel = 3, 1, 1
	atomic := func(o3, opc, rs, rn, rt uint32) uint32 {
		return size64<<30 | 0b111000<<24 | acq<<23 | rel<<22 | 1<<21 | rs<<16 | o3<<15 | opc<<12 | rn<<5 | rt
	}
	cas := func(rs, rn, rt uint32) uint32 {
		return size64<<30 | 0b0010001<<23 | acq<<22 | 1<<21 | rs<<16 | rel<<15 | 0b11111<<10 | rn<<5 | rt
	}
	for i, want := range []uint32{
		atomic(0, 0b000, 1, 0, 2), // ldaddal x1, x2, [x0]
		cas(3, 0, 4),              // casal x3, x4, [x0]
		atomic(1, 0b000, 5, 0, 6), // swpal x5, x6, [x0]
	} {
		if lseInsns[i].word != want {
			t.Errorf("%s = %#08x, fields give %#08x", lseInsns[i].gnu, lseInsns[i].word, want)
		}
	}
}

// runAtomics runs insns on a fresh engine with the given CPU model, x0
// pointing at a word holding 100, and returns the word and the engine.
func runAtomics(t *testing.T, model int, insns []a64, regs map[int]uint64) (uint64, *machine, error) {
	t.Helper()
	m := newMachine(t, uc.ArchARM64, model)
	code := a64Code(t, insns...)
	m.code(t, a64Base, code)
	data := m.region(t, "stack", mem.StackBase, mem.StackSize, rw)
	put64(data, 100)
	m.setReg(t, uc.ARM64RegX0, stackBase)
	for r, v := range regs {
		m.setReg(t, r, v)
	}
	err := m.u.Start(a64Base, a64Base+uint64(len(code)), 0, 1000)
	return le64(data), m, err
}

func TestARM64DefaultModelIsA72(t *testing.T) {
	m := newMachine(t, uc.ArchARM64, -1)
	if got, err := m.u.CPUModel(); err != nil || got != uc.CPUARM64A72 {
		t.Fatalf("default model = %d, %v; want %d (A72)", got, err, uc.CPUARM64A72)
	}
}

func TestARM64LSE(t *testing.T) {
	word, m, err := runAtomics(t, uc.CPUARM64Max, lseInsns, map[int]uint64{
		uc.ARM64RegX1: 5,   // addend
		uc.ARM64RegX3: 105, // expected by cas: the value after ldadd
		uc.ARM64RegX4: 7,   // stored by cas
		uc.ARM64RegX5: 9,   // stored by swp
	})
	if err != nil {
		t.Fatal(err)
	}
	if word != 9 {
		t.Errorf("word = %d, want 9 (100 +5, cas to 7, swap to 9)", word)
	}
	for _, r := range []struct {
		reg  int
		want uint64
		why  string
	}{
		{uc.ARM64RegX2, 100, "ldaddal returns the old value"},
		{uc.ARM64RegX3, 105, "casal returns the old value, equal to the expected one"},
		{uc.ARM64RegX6, 7, "swpal returns the old value"},
	} {
		if got := m.reg(t, r.reg); got != r.want {
			t.Errorf("reg %d = %d, want %d: %s", r.reg, got, r.want, r.why)
		}
	}
}

// ARMv8.0 models take LSE as undefined instructions, so a JIT that emits
// LSE must run on CPUARM64Max. An undefined instruction raises EXCP_UDEF:
// without an interrupt hook the run ends with ErrException; with one, the
// hook sees ARM64ExcpUDEF with PC on the instruction and must Stop (resuming
// would execute it again).
func TestARM64NoLSEBeforeV81(t *testing.T) {
	for _, model := range []struct {
		name string
		id   int
	}{{"default", -1}, {"a53", uc.CPUARM64A53}, {"a57", uc.CPUARM64A57}, {"a72", uc.CPUARM64A72}} {
		for _, in := range lseInsns {
			t.Run(model.name+"/"+in.gnu, func(t *testing.T) {
				word, _, err := runAtomics(t, model.id, []a64{in}, nil)
				if !errors.Is(err, uc.ErrException) {
					t.Errorf("err = %v, want %v", err, uc.ErrException)
				}
				if word != 100 {
					t.Errorf("word = %d, want 100 untouched", word)
				}
			})
		}
	}
	t.Run("hooked", func(t *testing.T) {
		m := newMachine(t, uc.ArchARM64, uc.CPUARM64A72)
		code := a64Code(t, a64{0xd503201f, "nop"}, lseInsns[0], a64{0xd503201f, "nop"})
		m.code(t, a64Base, code)
		m.region(t, "stack", mem.StackBase, mem.StackSize, rw)
		m.setReg(t, uc.ARM64RegX0, stackBase)
		var intnos []uint32
		var pcs []uint64
		m.u.HookIntr(func(intno uint32) {
			intnos = append(intnos, intno)
			pcs = append(pcs, m.reg(t, uc.ARM64RegPC))
			m.u.Stop()
		})
		if err := m.u.Start(a64Base, a64Base+uint64(len(code)), 0, 0); err != nil {
			t.Fatal(err)
		}
		if len(intnos) != 1 || intnos[0] != uc.ARM64ExcpUDEF || pcs[0] != a64Base+4 {
			t.Errorf("traps = %v at %#x, want [%d] at [%#x]", intnos, pcs, uc.ARM64ExcpUDEF, a64Base+4)
		}
	})
}

func TestARM64LLSC(t *testing.T) {
	for _, model := range []struct {
		name string
		id   int
	}{{"a72", uc.CPUARM64A72}, {"max", uc.CPUARM64Max}} {
		t.Run(model.name, func(t *testing.T) {
			word, m, err := runAtomics(t, model.id, llscLoop, map[int]uint64{uc.ARM64RegX1: 5})
			if err != nil {
				t.Fatal(err)
			}
			if word != 105 {
				t.Errorf("word = %d, want 105", word)
			}
			if x2 := m.reg(t, uc.ARM64RegX2); x2 != 100 {
				t.Errorf("x2 = %d, want 100 (the old value)", x2)
			}
			if w8 := m.reg(t, uc.ARM64RegX8); w8 != 0 {
				t.Errorf("stlxr status = %d, want 0 (stored)", w8)
			}
		})
	}
}

// The kernel's x86 JIT uses shlx/shrx/sarx for shifts by a register when
// the CPU has BMI2. Unicorn decodes them on its default x86 model already.
func TestX86BMI2(t *testing.T) {
	m := newMachine(t, uc.ArchX86, -1)
	m.code(t, x86Base, x86Code(t, x86{"c4e2f3f7d0", "shrxq %rcx,%rax,%rdx"}))
	m.setReg(t, uc.X86RegRAX, 0x100)
	m.setReg(t, uc.X86RegRCX, 4+64) // the count is masked to 6 bits
	if err := m.u.Start(x86Base, x86Base+5, 0, 0); err != nil {
		t.Fatal(err)
	}
	if rdx := m.reg(t, uc.X86RegRDX); rdx != 0x10 {
		t.Errorf("rdx = %#x, want 0x10", rdx)
	}
}

// IBT, BTI and PAC builds of the kernel JITs start programs with
// endbr64 / bti c / paciasp; these must run as hints.
func TestHints(t *testing.T) {
	t.Run("x86 endbr64", func(t *testing.T) {
		m := newMachine(t, uc.ArchX86, -1)
		// x86asm does not know endbr64 (f3 0f 1e fa); binutils objdump
		// prints these bytes as endbr64.
		code := append([]byte{0xf3, 0x0f, 0x1e, 0xfa}, x86Code(t, x86{"b801000000", "mov $0x1,%eax"})...)
		m.code(t, x86Base, code)
		if err := m.u.Start(x86Base, x86Base+uint64(len(code)), 0, 0); err != nil {
			t.Fatal(err)
		}
		if rax := m.reg(t, uc.X86RegRAX); rax != 1 {
			t.Errorf("rax = %d, want 1", rax)
		}
	})
	for _, model := range []struct {
		name string
		id   int
	}{{"a72", uc.CPUARM64A72}, {"max", uc.CPUARM64Max}} {
		t.Run("arm64 "+model.name+" bti paciasp autiasp", func(t *testing.T) {
			m := newMachine(t, uc.ArchARM64, model.id)
			code := a64Code(t,
				// arm64asm prints the hint numbers; llvm-mc -mattr=+bti,+pauth
				// prints bti c, paciasp, autiasp.
				a64{0xd503245f, "hint #0x22"},
				a64{0xd503233f, "hint #0x19"},
				a64{0xd50323bf, "hint #0x1d"},
				a64{0xd2800020, "mov x0, #0x1"},
			)
			m.code(t, a64Base, code)
			m.setReg(t, uc.ARM64RegLR, 0xffff800080001234)
			if err := m.u.Start(a64Base, a64Base+uint64(len(code)), 0, 0); err != nil {
				t.Fatal(err)
			}
			if x0, lr := m.reg(t, uc.ARM64RegX0), m.reg(t, uc.ARM64RegLR); x0 != 1 || lr != 0xffff800080001234 {
				t.Errorf("x0 = %d, lr = %#x; want 1, 0xffff800080001234", x0, lr)
			}
		})
	}
}
