package conformance

import (
	"os"
	"syscall"
	"testing"
	"time"

	"jitsim/core"
)

// cpuTime is the process's user+system time: the machine is shared, so
// the suite's time per CPU second is reported beside the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
			cpu0 := cpuTime()
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
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/suite")
			b.ReportMetric(float64(runs)/float64(b.N), "reports/suite")
		})
		for _, e := range es {
			if c, ok := e.(interface{ Close() error }); ok {
				c.Close()
			}
		}
	}
}
