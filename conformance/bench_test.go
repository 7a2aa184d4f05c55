package conformance

import (
	"os"
	"testing"

	"jitsim/core"
	"jitsim/internal/cputime"
)

// BenchmarkConformance is the whole conformance suite (the public
// bpf_conformance files and jitsim's own, tail calls included) per op,
// both schemes, on the interpreter and x86-64, then on all three engines:
// what "jitsim conform" does after parsing, loading and checking included.
// Engines are built once, as the CLI builds them once per invocation.
func BenchmarkConformance(b *testing.B) {
	files, err := Files([]string{sharedDir + "/tests", "testdata"})
	if err != nil {
		b.Fatal(err)
	}
	cases := make([]*Case, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if cases[i], err = ParseCase(f, data); err != nil {
			b.Fatal(err)
		}
	}
	for _, set := range []string{"interp,x86_64", "interp,x86_64,arm64"} {
		es, err := NewEngines(set)
		if err != nil {
			b.Fatal(err)
		}
		r := &Runner{Engines: es, Schemes: []core.Scheme{core.Fixed, core.Legacy}, Strict: true}
		b.Run(set, func(b *testing.B) {
			runs := 0
			cpu0 := cputime.Now()
			for b.Loop() {
				for _, c := range cases {
					for _, rep := range r.Run(c) {
						runs++
						if !rep.Pass && rep.Skipped == "" {
							b.Fatalf("%s %s %v: %s", rep.File, rep.Engine, rep.Scheme, rep.Reason)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/suite")
			b.ReportMetric(float64((cputime.Now()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/suite")
			b.ReportMetric(float64(runs)/float64(b.N), "reports/suite")
		})
		for _, e := range es {
			if c, ok := e.(interface{ Close() error }); ok {
				c.Close()
			}
		}
	}
}
