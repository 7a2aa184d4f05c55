package analysis_test

import (
	"strconv"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/kabi"
)

// bigProgram builds a program of about n slots in the shape clang emits:
// a main function calling nf subprograms, each made of blocks that spill
// and reload through r10, pass stack pointers to helpers, branch forward,
// and loop back once per block.
func bigProgram(n, nf int) *core.Object {
	alu := func(op uint8, dst core.Reg, imm int32) core.Insn { return ins(core.ALU64|op|core.K, dst, 0, 0, imm) }
	movx := func(dst, src core.Reg) core.Insn { return ins(core.ALU64|core.Mov|core.X, dst, src, 0, 0) }
	block := func(k int) []core.Insn {
		off := int16(-8 * (1 + k%32))
		lo := core.LdImm64(core.R5, 0, uint64(k)<<32|7)
		return []core.Insn{
			movx(core.R2, core.R10), alu(core.Add, core.R2, int32(off)), // r2 = r10 + off
			ins(core.STX|core.MEM|core.DW, core.R2, core.R6, 0, 0), // *(u64 *)(r2 +0) = r6
			ins(core.LDX|core.MEM|core.DW, core.R3, core.R10, off, 0),
			alu(core.And, core.R3, 7),
			ins(core.JMP|core.JGT|core.K, core.R3, 0, 2, 3), // if r3 > 3 goto +2
			movx(core.R4, core.R3), alu(core.Add, core.R4, 1),
			lo[0], lo[1],
			ins(core.STX|core.MEM|core.W, core.R10, core.R4, off, 0),
			helper(kabi.FnKtimeGetNs),
			alu(core.Add, core.R7, 1),
			ins(core.JMP|core.JLT|core.K, core.R7, 0, -3, 2), // a short loop back to the helper call
		}
	}
	var insns []core.Insn
	per := n / nf
	// main: calls every subprogram; the call offsets are patched below.
	var callAt []int
	for range nf - 1 {
		callAt = append(callAt, len(insns))
		insns = append(insns, movx(core.R1, core.R10), alu(core.Add, core.R1, -64), call(0))
	}
	insns = append(insns, mov0, exit)
	for fi := 1; fi < nf; fi++ {
		start := len(insns)
		c := callAt[fi-1] + 2
		insns[c].Imm = int32(start - c - 1)
		insns = append(insns, ins(core.ST|core.MEM|core.DW, core.R1, 0, 8, 0)) // through the caller's pointer
		for k := 0; len(insns)-start < per; k++ {
			insns = append(insns, block(k)...)
		}
		insns = append(insns, mov0, exit)
	}
	p := &core.Program{Name: "big", Insns: insns}
	return &core.Object{Progs: []*core.Program{p}, Helpers: core.HelpersKernel}
}

func TestBigProgram(t *testing.T) {
	obj := bigProgram(20_000, 8)
	if err := analysis.Check(obj); err != nil {
		t.Fatal(err)
	}
	fs := obj.Progs[0].Funcs
	if len(fs) != 8 {
		t.Fatalf("%d functions, want 8", len(fs))
	}
	// main: the callees' stores at r1+8 = r10-56; subprograms: their blocks
	// reach r10-256 (off cycles through -8..-256).
	if fs[0].StackDepth != 56 || fs[1].StackDepth != 256 || fs[1].CalleeSaved != saved(core.R6, core.R7) {
		t.Errorf("main %+v\nfunc_1 %+v", fs[0], fs[1])
	}
}

func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		obj := bigProgram(n, 16)
		slots := len(obj.Progs[0].Insns)
		b.Run(strconv.Itoa(slots), func(b *testing.B) {
			for b.Loop() {
				if err := analysis.Check(obj); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(slots)*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
		})
	}
}

// backChain builds n blocks, each jumping back to the one before it, with
// the last block setting r3 to a stack pointer: that fact flows backward
// one block per step, the worst case for a dataflow pass that rescans.
func backChain(n int) *core.Object {
	insns := []core.Insn{ins(core.ALU64|core.Mov|core.K, 3, 0, 0, 0)}
	for k := range n {
		// if r2 == k goto <start of the previous block>; a block is 2 slots
		insns = append(insns, ins(core.ALU64|core.Add|core.K, 4, 0, 0, 1), ins(core.JMP|core.JEQ|core.K, 2, 0, -4, int32(k)))
	}
	insns[2].Off = 0 // the first block has no predecessor block
	insns = append(insns, ins(core.ALU64|core.Mov|core.X, 3, 10, 0, 0), ins(core.ALU64|core.Add|core.K, 3, 0, 0, -8),
		ins(core.JMP|core.JEQ|core.K, 2, 0, -(2+2+1), -1), ins(core.ST|core.MEM|core.DW, 3, 0, 0, 0), mov0, exit)
	return &core.Object{Progs: []*core.Program{{Name: "chain", Insns: insns}}}
}

func TestBackChain(t *testing.T) {
	obj := backChain(1000)
	if err := analysis.Check(obj); err != nil {
		t.Fatal(err)
	}
	if got := obj.Progs[0].Funcs[0].StackDepth; got != 8 {
		t.Errorf("StackDepth = %d, want 8", got)
	}
}

func BenchmarkCheckBackChain(b *testing.B) {
	obj := backChain(100_000)
	slots := len(obj.Progs[0].Insns)
	for b.Loop() {
		if err := analysis.Check(obj); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(slots)*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
}
