package uc_test

import (
	"testing"
	"time"

	"jitsim/core/mem"
	"jitsim/sim/uc"
)

// Creating an engine: uc_open is lazy, the CPU and its translator are built
// on the first call that needs them (here RegWrite). The simulator pays the
// second figure once per engine it keeps.
func BenchmarkOpenClose(b *testing.B) {
	for _, tg := range []struct {
		name string
		arch uc.Arch
		mode uc.Mode
		reg  int
	}{
		{"x86", uc.ArchX86, uc.Mode64, uc.X86RegRAX},
		{"arm64", uc.ArchARM64, uc.ModeARM, uc.ARM64RegX0},
	} {
		for _, init := range []bool{false, true} {
			name := tg.name + "/lazy"
			if init {
				name = tg.name + "/initialised"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					u, err := uc.Open(tg.arch, tg.mode)
					if err != nil {
						b.Fatal(err)
					}
					if init {
						if err := u.RegWrite(tg.reg, 1); err != nil {
							b.Fatal(err)
						}
					}
					if err := u.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/engine")
			})
		}
	}
}

// loopIters trips of a 10-instruction loop body: 1e8 instructions per run.
const loopIters = 10_000_000

// loopCode is a tight loop of register ALU work, eight instructions and a
// decrement-and-branch per trip, like a BPF loop after JIT.
func loopCode(tb testing.TB, arch uc.Arch) (code []byte, insns uint64) {
	if arch == uc.ArchX86 {
		return x86Code(tb,
			x86{"b980969800", "mov $0x989680,%ecx"},
			x86{"4801c3", "add %rax,%rbx"}, // loop:
			x86{"4831de", "xor %rbx,%rsi"},
			x86{"48ffc0", "inc %rax"},
			x86{"4801f2", "add %rsi,%rdx"},
			x86{"4829c7", "sub %rax,%rdi"},
			x86{"4821d3", "and %rdx,%rbx"},
			x86{"4809f8", "or %rdi,%rax"},
			x86{"48c1e603", "shl $0x3,%rsi"},
			x86{"ffc9", "dec %ecx"},
			x86{"75e3", "jne .-0x1d"},
		), 1 + 10*loopIters
	}
	return a64Code(tb,
		a64{0x5292d001, "mov w1, #0x9680"},
		a64{0x72a01301, "movk w1, #0x98, lsl #16"},
		a64{0x8b030042, "add x2, x2, x3"}, // loop:
		a64{0xca020063, "eor x3, x3, x2"},
		a64{0x91000484, "add x4, x4, #0x1"},
		a64{0x8b0400a5, "add x5, x5, x4"},
		a64{0xcb0500c6, "sub x6, x6, x5"},
		a64{0x8a0600e7, "and x7, x7, x6"},
		a64{0xaa070108, "orr x8, x8, x7"},
		a64{0xd37df129, "lsl x9, x9, #3"},
		a64{0x71000421, "subs w1, w1, #0x1"},
		a64{0x54fffee1, "b.ne .+0xffffffffffffffdc"},
	), 2 + 10*loopIters
}

// BenchmarkLoop runs ~1e8 native instructions per iteration, unbounded and
// under each way of bounding a run, and reports native instructions per
// second: what an instruction budget or a wall-clock limit costs.
func BenchmarkLoop(b *testing.B) {
	for _, tg := range []struct {
		name    string
		arch    uc.Arch
		base    uint64
		counter int
	}{
		{"x86", uc.ArchX86, x86Base, uc.X86RegRCX},
		{"arm64", uc.ArchARM64, a64Base, uc.ARM64RegX1},
	} {
		for _, bound := range []string{"none", "count", "timeout", "count+timeout", "blockhook", "blockbudget"} {
			b.Run(tg.name+"/"+bound, func(b *testing.B) {
				// A fresh engine per bound: switching one engine from
				// counted to uncounted runs flushes its translations.
				m := newMachine(b, tg.arch, -1)
				code, insns := loopCode(b, tg.arch)
				m.code(b, tg.base, code)
				end := tg.base + uint64(len(code))
				var timeout time.Duration
				var count uint64
				switch bound {
				case "count":
					count = insns + 1
				case "timeout":
					timeout = time.Hour
				case "count+timeout":
					count, timeout = insns+1, time.Hour
				}
				var blocks uint64
				if bound == "blockhook" {
					m.u.HookBlock(tg.base, end, func(uint64, uint32) { blocks++ })
				}
				if bound == "blockbudget" {
					m.u.SetBlockBudget(loopIters + 10)
				}
				for b.Loop() {
					m.u.ResetBlockBudget()
					if err := m.u.Start(tg.base, end, timeout, count); err != nil {
						b.Fatal(err)
					}
					if n, pc := m.reg(b, tg.counter), m.reg(b, m.pcReg(tg.arch)); n != 0 || pc != end {
						b.Fatalf("counter %d, pc %#x: the loop did not finish", n, pc)
					}
				}
				if bound == "blockhook" && blocks != uint64(b.N)*(loopIters) {
					b.Fatalf("%d blocks, want %d", blocks, uint64(b.N)*loopIters)
				}
				if used, hit := m.u.BlockBudget(); bound == "blockbudget" && (used != loopIters || hit) {
					b.Fatalf("block budget used %d, hit %v; want %d, false", used, hit, loopIters)
				}
				b.ReportMetric(float64(insns)*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
			})
		}
	}
}

// BenchmarkRoundTrip is one tiny run as the simulator does it per program
// invocation: write the argument registers, run a few instructions, read the
// registers back.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tg := range []struct {
		name string
		arch uc.Arch
		base uint64
		regs []int
		code func(testing.TB) []byte
	}{
		{"x86", uc.ArchX86, x86Base,
			[]int{uc.X86RegRAX, uc.X86RegRDI, uc.X86RegRSI, uc.X86RegRDX, uc.X86RegRCX, uc.X86RegR8,
				uc.X86RegRBX, uc.X86RegR13, uc.X86RegR14, uc.X86RegR15, uc.X86RegRBP, uc.X86RegRSP},
			func(tb testing.TB) []byte {
				return x86Code(tb, x86{"488b07", "mov (%rdi),%rax"}, x86{"4801f0", "add %rsi,%rax"}, x86{"48894708", "mov %rax,0x8(%rdi)"})
			}},
		{"arm64", uc.ArchARM64, a64Base,
			[]int{uc.ARM64RegX0, uc.ARM64RegX1, uc.ARM64RegX2, uc.ARM64RegX3, uc.ARM64RegX4, uc.ARM64RegX5,
				uc.ARM64RegX19, uc.ARM64RegX20, uc.ARM64RegX21, uc.ARM64RegX22, uc.ARM64RegX25, uc.ARM64RegSP},
			func(tb testing.TB) []byte {
				return a64Code(tb, a64{0xf9400002, "ldr x2, [x0]"}, a64{0x8b010042, "add x2, x2, x1"}, a64{0xf9000402, "str x2, [x0,#8]"})
			}},
	} {
		for _, bound := range []string{"none", "count", "count+timeout", "blockbudget"} {
			b.Run(tg.name+"/"+bound, func(b *testing.B) {
				m := newMachine(b, tg.arch, -1)
				code := tg.code(b)
				m.code(b, tg.base, code)
				m.region(b, "stack", mem.StackBase, mem.StackSize, rw)
				in := make([]uint64, len(tg.regs))
				out := make([]uint64, len(tg.regs))
				in[0], in[1] = stackBase, stackBase // x86 reads rdi, arm64 x0
				var count uint64
				var timeout time.Duration
				switch bound {
				case "count":
					count = 1_000_000
				case "count+timeout":
					count, timeout = 1_000_000, time.Second
				case "blockbudget":
					m.u.SetBlockBudget(1_000_000)
				}
				for b.Loop() {
					m.u.ResetBlockBudget()
					m.u.RegWriteBatch(tg.regs, in)
					if err := m.u.Start(tg.base, tg.base+uint64(len(code)), timeout, count); err != nil {
						b.Fatal(err)
					}
					m.u.RegReadBatch(tg.regs, out)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/run")
			})
		}
	}
}

func (m *machine) pcReg(arch uc.Arch) int {
	if arch == uc.ArchX86 {
		return uc.X86RegRIP
	}
	return uc.ARM64RegPC
}
