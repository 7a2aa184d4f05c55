package sim_test

import (
	"testing"

	"jitsim/core"
	"jitsim/core/interp"
	"jitsim/internal/cputime"
	"jitsim/sim"
)

// selfTailCall tail-calls itself through slot 0 until the count stops it:
// 33 tail calls and 34 executions per run on every engine and scheme
// (conformance/testdata/tailcall/self_33.data, without the global).
const selfTailCall = `
.helpers kernel
.map jmp_table prog_array key=4 value=4 max=1
.slot jmp_table 0 entry
.prog entry tc
	r2 = map[jmp_table] ll
	r3 = 0
	call bpf_tail_call
	r0 = 7
	exit
`

// BenchmarkTailCalls: successful tail calls per second, a whole run each
// op (33 tail calls: the direct site patched on x86-64, the indirect
// sequence on arm64, the interpreter's JMP_TAIL_CALL), both schemes.
func BenchmarkTailCalls(b *testing.B) {
	obj := load(b, selfTailCall)
	engines := map[string]core.Engine{"interp": interp.New()}
	for _, c := range configs[:2] {
		engines[c.name] = getEngine(b, c.name)
	}
	for _, name := range []string{"interp", "x86_64", "arm64"} {
		for _, scheme := range []core.Scheme{core.Fixed, core.Legacy} {
			b.Run(name+"/"+scheme.String(), func(b *testing.B) {
				e := engines[name]
				opts := core.RunOptions{Scheme: scheme}
				calls := 0
				cpu0 := cputime.Now()
				for b.Loop() {
					res, err := e.Run(obj, 0, core.Input{}, opts)
					if err != nil || res.R0 != 7 || len(res.TailCalls) != 33 {
						b.Fatalf("%+v, %v", res, err)
					}
					calls += len(res.TailCalls)
				}
				b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "tailcalls/s")
				b.ReportMetric(float64(calls)/(cputime.Now()-cpu0).Seconds(), "tailcalls/cpu-s")
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/run")
			})
		}
	}
}

// pokeProgs: main tail-calls slot 0 directly (a poke descriptor); target
// returns 2. With the slot empty main returns 1.
const pokeProgs = `
.helpers kernel
.map jmp_table prog_array key=4 value=4 max=1
.prog main tc
	r2 = map[jmp_table] ll
	r3 = 0
	call bpf_tail_call
	r0 = 1
	exit
.prog target tc
	r0 = 2
	exit
`

// BenchmarkPoke: what a prog array update costs on x86-64 until the next
// run sees it: the slot written, the direct tail call site patched (jmp
// and bypass, bpf_arch_poke_desc_update's two pokes), Unicorn's
// translations of the patched bytes dropped, and the run that
// retranslates them. "run" is the same run with the slot unchanged; the
// difference is the poke.
func BenchmarkPoke(b *testing.B) {
	obj := load(b, pokeProgs)
	e, err := sim.New("x86_64")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	set, err := e.Maps(obj)
	if err != nil {
		b.Fatal(err)
	}
	opts := core.RunOptions{Scheme: core.Fixed, KeepMaps: true}
	run := func(b *testing.B, want uint64) {
		res, err := e.Run(obj, 0, core.Input{}, opts)
		if err != nil || res.R0 != want {
			b.Fatalf("r0 %+v, %v; want %d", res, err, want)
		}
	}
	b.Run("run", func(b *testing.B) {
		if err := set.SetSlot(0, 0, 1); err != nil {
			b.Fatal(err)
		}
		cpu0 := cputime.Now()
		for b.Loop() {
			run(b, 2)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/run")
		b.ReportMetric(float64((cputime.Now()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/run")
	})
	b.Run("poke+run", func(b *testing.B) {
		filled := false
		cpu0 := cputime.Now()
		for b.Loop() {
			var err error
			if filled {
				err = set.ClearSlot(0, 0)
			} else {
				err = set.SetSlot(0, 0, 1)
			}
			if err != nil {
				b.Fatal(err)
			}
			filled = !filled
			want := uint64(1)
			if filled {
				want = 2
			}
			run(b, want)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/poke+run")
		b.ReportMetric(float64((cputime.Now()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/poke+run")
	})
}
