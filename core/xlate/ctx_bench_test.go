package xlate_test

import (
	"os"
	"testing"

	"jitsim/core/analysis"
	"jitsim/core/load"
	"jitsim/core/xlate"
)

// BenchmarkKernelCtx: xlate of clang-built objects whose context accesses
// and LD_ABS loads are rewritten (slots of input per second).
func BenchmarkKernelCtx(b *testing.B) {
	for _, name := range []string{"real/parse.o", "real/counter.o", "seed/demo.o", "tailcall/tailcall_bpf2bpf3.o"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile("../../examples/" + name)
			if err != nil {
				b.Fatal(err)
			}
			obj, err := load.ELF(name, data)
			if err != nil {
				b.Fatal(err)
			}
			if err := analysis.Check(obj); err != nil {
				b.Fatal(err)
			}
			slots := 0
			for _, p := range obj.Progs {
				slots += len(p.Insns)
			}
			for b.Loop() {
				if _, err := xlate.Object(obj); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(slots*b.N)/b.Elapsed().Seconds(), "slots/s")
		})
	}
}
