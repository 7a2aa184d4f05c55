package interp_test

import (
	"testing"

	"jitsim/core"
	"jitsim/core/interp"
	"jitsim/internal/cputime"
)

// benchRun runs obj b.N times and reports the BPF instruction rate per
// wall-clock second and per CPU second.
func benchRun(b *testing.B, obj *core.Object, in core.Input, want uint64) {
	e := interp.New()
	defer e.Close()
	opts := core.RunOptions{Budget: 1 << 40}
	var insns uint64
	cpu0 := cputime.Now()
	for b.Loop() {
		res, err := e.Run(obj, 0, in, opts)
		if err != nil {
			b.Fatal(err)
		}
		if res.R0 != want {
			b.Fatalf("r0 = %#x, want %#x", res.R0, want)
		}
		insns += res.Insns
	}
	cpu := cputime.Now() - cpu0
	b.ReportMetric(float64(insns)/b.Elapsed().Seconds(), "insns/s")
	b.ReportMetric(float64(insns)/cpu.Seconds(), "insns/cpu-s")
}

const loopN = 1_000_000

// BenchmarkALULoop: r0 += r1; r1 += 1; if r1 < N goto -3, a tight loop with
// a conditional back-edge.
func BenchmarkALULoop(b *testing.B) {
	obj := object(core.HelpersKernel, prog(
		mov(core.R0, 0),
		mov(core.R1, 0),
		alu64x(core.Add, core.R0, core.R1),
		alu64(core.Add, core.R1, 1),
		jmp(core.JMP, core.JLT, core.R1, loopN, -3),
		exit(),
	))
	benchRun(b, obj, core.Input{}, loopN*(loopN-1)/2)
}

// BenchmarkMemLoop: a counter kept on the stack, loaded, incremented and
// stored back each iteration.
func BenchmarkMemLoop(b *testing.B) {
	obj := object(core.HelpersKernel, prog(
		st(core.DW, core.R10, -8, 0),
		mov(core.R1, 0),
		ldx(core.DW, core.R0, core.R10, -8),
		alu64x(core.Add, core.R0, core.R1),
		stx(core.DW, core.R10, core.R0, -8),
		alu64(core.Add, core.R1, 1),
		jmp(core.JMP, core.JLT, core.R1, loopN, -5),
		ldx(core.DW, core.R0, core.R10, -8),
		exit(),
	))
	benchRun(b, obj, core.Input{}, loopN*(loopN-1)/2)
}

// BenchmarkCtxLoop: the same through the context region (the mem.Space
// path rather than the stack fast path).
func BenchmarkCtxLoop(b *testing.B) {
	obj := object(core.HelpersKernel, prog(
		mov(core.R3, 0),
		ldx(core.DW, core.R0, core.R1, 0),
		alu64x(core.Add, core.R0, core.R3),
		stx(core.DW, core.R1, core.R0, 0),
		alu64(core.Add, core.R3, 1),
		jmp(core.JMP, core.JLT, core.R3, loopN, -5),
		ldx(core.DW, core.R0, core.R1, 0),
		exit(),
	))
	benchRun(b, obj, core.Input{Ctx: make([]byte, 8)}, loopN*(loopN-1)/2)
}
