package examples_test

import (
	"slices"
	"testing"

	"jitsim/core"
	"jitsim/core/ctx"
	"jitsim/core/maps"
)

// BenchmarkDemo: one run of the story's demo per iteration (1208 BPF
// instructions and 66 tail calls under legacy, 615 and 33 under fixed)
// on each engine, from the checked-in object.
func BenchmarkDemo(b *testing.B) {
	for _, e := range allEngines(b) {
		for _, s := range []core.Scheme{core.Legacy, core.Fixed} {
			b.Run(e.Name()+"/"+s.String(), func(b *testing.B) {
				obj := loadObject(b, "seed/demo.o", "seed/demo.o")
				prog := func(name string) int {
					return slices.IndexFunc(obj.Progs, func(p *core.Program) bool { return p.Name == name })
				}
				set, err := e.(maps.Holder).Maps(obj)
				if err != nil {
					b.Fatal(err)
				}
				jt, _ := set.Lookup("jmp_table")
				if err := set.SetSlot(jt.Index, 0, prog("classifier_01")); err != nil {
					b.Fatal(err)
				}
				if err := set.SetSlot(jt.Index, 2, prog("classifier_23")); err != nil {
					b.Fatal(err)
				}
				entry := prog("entry")
				in, err := ctx.Build(obj.Progs[entry], ctx.PktV4(), ctx.Options{})
				if err != nil {
					b.Fatal(err)
				}
				var insns uint64
				for b.Loop() {
					res, err := e.Run(obj, entry, in, core.RunOptions{Scheme: s, KeepMaps: true})
					if err != nil {
						b.Fatal(err)
					}
					insns += res.Insns
				}
				b.ReportMetric(float64(insns)/b.Elapsed().Seconds(), "insns/s")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			})
		}
	}
}
