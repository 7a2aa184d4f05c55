package arm64

import (
	"fmt"
	"testing"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/internal/cputime"
)

// benchProgram builds n slots of a typical mix: ALU with immediates and
// registers, stack and pointer loads and stores, ld_imm64, short forward
// conditional jumps, a division and a helper call now and then, one exit.
func benchProgram(n int) *core.Program {
	pattern := []core.Insn{
		{Op: core.ALU64 | core.Mov | core.K, Dst: 1, Imm: 42},
		{Op: core.ALU64 | core.Add | core.X, Dst: 0, Src: 1},
		{Op: core.STX | core.MEM | core.DW, Dst: 10, Src: 0, Off: -8},
		{Op: core.LDX | core.MEM | core.W, Dst: 2, Src: 10, Off: -8},
		{Op: core.ALU | core.And | core.K, Dst: 2, Imm: 0xff},
		{Op: core.JMP | core.JGT | core.K, Dst: 2, Imm: 100, Off: 2},
		{Op: core.ALU64 | core.Lsh | core.K, Dst: 0, Imm: 3},
		{Op: core.ALU64 | core.Xor | core.X, Dst: 0, Src: 2},
		{Op: core.LD | core.IMM | core.DW, Dst: 3, Imm: 0x5678}, {Imm: 0x1234},
		{Op: core.ALU64 | core.Div | core.X, Dst: 0, Src: 3},
		{Op: core.JMP32 | core.JEQ | core.X, Dst: 0, Src: 3, Off: 1},
		{Op: core.ALU64 | core.Sub | core.K, Dst: 0, Imm: 1000000},
		{Op: core.ST | core.MEM | core.W, Dst: 10, Off: -16, Imm: 7},
		{Op: core.JMP | core.Call, Imm: 1},
		{Op: core.ALU64 | core.Mov | core.X, Dst: 6, Src: 0},
	}
	insns := make([]core.Insn, 0, n)
	for len(insns) < n-len(pattern)-1 {
		insns = append(insns, pattern...)
	}
	for len(insns) < n-1 {
		insns = append(insns, core.Insn{Op: core.ALU64 | core.Add | core.K, Dst: 0, Imm: 1})
	}
	insns = append(insns, core.Insn{Op: core.JMP | core.Exit})
	return &core.Program{Name: "bench", Insns: insns, Funcs: []core.Func{{Name: "bench", End: n, StackDepth: 16}}}
}

// BenchmarkCompile reports BPF instructions JITed per second.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		for _, s := range []core.Scheme{core.Fixed, core.Legacy} {
			b.Run(fmt.Sprintf("%s/%d", s, n), func(b *testing.B) {
				p := benchProgram(n)
				opts := jit.Options{Scheme: s, HelperAddr: testHelperAddr, BTI: true, PAC: true, LSE: true}
				if _, err := Compile(p, opts); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				cpu0 := cputime.Now()
				b.ResetTimer()
				for b.Loop() {
					if _, err := Compile(p, opts); err != nil {
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
}
