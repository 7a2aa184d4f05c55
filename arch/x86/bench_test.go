package x86

import (
	"fmt"
	"testing"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/mem"
	"jitsim/internal/cputime"
)

// benchProgram builds an n-slot function that looks like compiled code: a
// mix of ALU, loads and stores on the stack, and forward branches of
// varying reach (some short, some needing rel32 until the passes shrink
// them), ending in exit.
func benchProgram(n int) *core.Program {
	insns := make([]core.Insn, 0, n)
	for len(insns) < n-1 {
		k := len(insns)
		switch k % 8 {
		case 0:
			insns = append(insns, core.Insn{Op: core.ALU64 | core.Add | core.X, Dst: core.R0, Src: core.R1})
		case 1:
			insns = append(insns, core.Insn{Op: core.STX | core.MEM | core.DW, Dst: core.R10, Src: core.R0, Off: -8})
		case 2:
			insns = append(insns, core.Insn{Op: core.ALU | core.Mov | core.K, Dst: core.R2, Imm: int32(k)})
		case 3:
			// Forward jump of 1..40 slots, never past the end.
			off := min(1+k%40, n-2-k)
			insns = append(insns, core.Insn{Op: core.JMP | core.JGT | core.X, Dst: core.R0, Src: core.R2, Off: int16(off)})
		case 4:
			insns = append(insns, core.Insn{Op: core.LDX | core.MEM | core.W, Dst: core.R3, Src: core.R10, Off: -8})
		case 5:
			insns = append(insns, core.Insn{Op: core.ALU64 | core.Lsh | core.K, Dst: core.R3, Imm: 3})
		case 6:
			insns = append(insns, core.Insn{Op: core.ALU64 | core.Xor | core.X, Dst: core.R0, Src: core.R3})
		case 7:
			insns = append(insns, core.Insn{Op: core.ALU64 | core.Add | core.K, Dst: core.R1, Imm: 0x1000})
		}
	}
	insns = append(insns, core.Insn{Op: core.JMP | core.Exit})
	return &core.Program{Name: "bench", Insns: insns,
		Funcs: []core.Func{{Name: "bench", End: len(insns), StackDepth: 8}}}
}

// BenchmarkCompile reports BPF instructions JITed per second, whole
// Compile (all passes) included.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p := benchProgram(n)
			opts := jit.Options{Base: mem.X86CodeBase, HelperAddr: kernelHelpers}
			b.ReportAllocs()
			cpu0 := cputime.Now()
			for b.Loop() {
				if _, err := (Backend{}).Compile(p, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
			// The machine is shared: CPU time says what the code costs
			// when wall time includes waiting for a core.
			if cpu := (cputime.Now() - cpu0).Seconds(); cpu > 0 {
				b.ReportMetric(float64(n)*float64(b.N)/cpu, "insns/cpu-s")
			}
		})
	}
}
