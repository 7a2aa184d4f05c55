package sim_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"jitsim/conformance"
	"jitsim/core"
	"jitsim/core/interp"
	"jitsim/internal/cputime"
	"jitsim/sim"
)

// loopSrc is the tight ALU loop: three BPF instructions per iteration, one
// translated block, so the budget hook runs once per three instructions.
const loopSrc = `r0 = 0
r1 = 0
loop:
r0 += r1
r1 += 1
if r1 < %d goto loop
exit
`

// BenchmarkLoop: BPF instructions per second of JITed code under Unicorn,
// the budget enforced (the weighted block hook counts every block).
func BenchmarkLoop(b *testing.B) {
	const n = 1_000_000
	obj := load(b, fmt.Sprintf(loopSrc, n))
	for _, c := range configs[:2] {
		b.Run(c.name, func(b *testing.B) {
			e := getEngine(b, c.name)
			opts := core.RunOptions{Budget: 4 * n}
			var insns uint64
			cpu0 := cputime.Now()
			for b.Loop() {
				res, err := e.Run(obj, 0, core.Input{}, opts)
				if err != nil {
					b.Fatal(err)
				}
				insns += res.Insns
			}
			b.ReportMetric(float64(insns)/b.Elapsed().Seconds(), "insns/s")
			b.ReportMetric(float64(insns)/(cputime.Now()-cpu0).Seconds(), "insns/cpu-s")
		})
	}
}

// BenchmarkTinyRun is a whole small run with instance reuse: write the
// context, enter, load, exit, read r0 and copy the context back.
func BenchmarkTinyRun(b *testing.B) {
	obj := load(b, "r0 = *(u32 *)(r1 + 0)\nr0 += 1\nexit")
	in := core.Input{Ctx: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	engines := map[string]core.Engine{"interp": interp.New()}
	for _, c := range configs[:2] {
		engines[c.name] = getEngine(b, c.name)
	}
	for _, name := range []string{"interp", "x86_64", "arm64"} {
		for _, timeout := range []time.Duration{0, time.Second} {
			b.Run(fmt.Sprintf("%s/timeout=%v", name, timeout), func(b *testing.B) {
				e := engines[name]
				opts := core.RunOptions{Timeout: timeout}
				cpu0 := cputime.Now()
				for b.Loop() {
					res, err := e.Run(obj, 0, in, opts)
					if err != nil || res.R0 != 0x04030202 {
						b.Fatal(res, err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/run")
				b.ReportMetric(float64((cputime.Now()-cpu0).Microseconds())/float64(b.N), "cpu-µs/run")
			})
		}
	}
}

// BenchmarkStop is what the unhappy endings cost: a budget stop in the
// middle of a block (the block is run again up to the limit) and a fault
// whose instruction the registers single out.
func BenchmarkStop(b *testing.B) {
	budget := load(b, "r0 = 1\nr0 += 2\nr0 += 3\nr0 += 4\nexit")
	fault := load(b, "r0 = *(u32 *)(r1 + 4096)\nexit")
	in := core.Input{Ctx: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	for _, c := range configs[:2] {
		e := getEngine(b, c.name)
		b.Run(c.name+"/budget", func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Run(budget, 0, in, core.RunOptions{Budget: 3}); err == nil {
					b.Fatal("no budget error")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/run")
		})
		b.Run(c.name+"/fault", func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Run(fault, 0, in, core.RunOptions{}); err == nil {
					b.Fatal("no fault")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/run")
		})
	}
}

// BenchmarkNew is the cost of an engine: a Unicorn instance, its regions
// and hooks, and a first run (Unicorn builds its CPU lazily).
func BenchmarkNew(b *testing.B) {
	obj := load(b, "r0 = 1\nexit")
	for _, arch := range []string{"x86_64", "arm64"} {
		b.Run(arch, func(b *testing.B) {
			for b.Loop() {
				e, err := sim.New(arch)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Run(obj, 0, core.Input{}, core.RunOptions{}); err != nil {
					b.Fatal(err)
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/engine")
		})
	}
}

// BenchmarkSuite is the public conformance suite on the interpreter and
// both simulators, both schemes (loading and checking included), per
// suite run.
func BenchmarkSuite(b *testing.B) {
	files, err := conformance.Files([]string{filepath.Join("../../shared/bpf_conformance/tests")})
	if err != nil {
		b.Fatal(err)
	}
	cases := make([]*conformance.Case, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if cases[i], err = conformance.ParseCase(f, data); err != nil {
			b.Fatal(err)
		}
	}
	r := &conformance.Runner{
		Engines: []core.Engine{interp.New(), getEngine(b, "x86_64"), getEngine(b, "arm64")},
		Schemes: []core.Scheme{core.Fixed, core.Legacy},
	}
	runs := 0
	cpu0 := cputime.Now()
	for b.Loop() {
		for _, c := range cases {
			for _, rep := range r.Run(c) {
				runs++
				if !rep.Pass {
					b.Fatalf("%s %s %v: %s", rep.File, rep.Engine, rep.Scheme, rep.Reason)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/suite")
	b.ReportMetric(float64((cputime.Now()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/suite")
	b.ReportMetric(float64(runs)/float64(b.N), "runs/suite")
}
