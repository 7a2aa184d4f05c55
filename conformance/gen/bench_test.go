package gen_test

import (
	"testing"

	"jitsim/conformance/gen"
	"jitsim/core/analysis"
)

// BenchmarkGenerate: programs made per second, and their slots.
func BenchmarkGenerate(b *testing.B) {
	g := gen.New(gen.Config{})
	slots, i := 0, uint64(0)
	for b.Loop() {
		slots += len(g.Generate(1, i).Obj.Progs[0].Insns)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "programs/s")
	b.ReportMetric(float64(slots)/b.Elapsed().Seconds(), "slots/s")
}

// BenchmarkDefined: the minimiser's per-candidate check, after analysis.
func BenchmarkDefined(b *testing.B) {
	g := gen.New(gen.Config{})
	var progs []*gen.Program
	for i := range uint64(64) {
		p := g.Generate(1, i)
		if err := analysis.Check(p.Obj); err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	n := 0
	for b.Loop() {
		if err := gen.Defined(progs[n%len(progs)].Obj.Progs[0]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "programs/s")
}
