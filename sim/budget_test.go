package sim

import (
	"fmt"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
	"jitsim/core/mem"
	"jitsim/internal/cputime"
	"jitsim/sim/uc"
)

// BenchmarkBound compares ways to bound the tight loop of BenchmarkLoop on
// the same JITed image: no bound at all (a bare Unicorn instance with the
// same regions and no hook), the engine's weighted block budget, and
// Unicorn's own instruction count (a hook per native instruction).
func BenchmarkBound(b *testing.B) {
	const n = 1_000_000
	src := fmt.Sprintf("r0 = 0\nr1 = 0\nloop:\nr0 += r1\nr1 += 1\nif r1 < %d goto loop\nexit", n)
	obj, err := asm.Parse("loop.s", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	if err := analysis.Check(obj); err != nil {
		b.Fatal(err)
	}
	const insns = 3*n + 3 // the loop, two movs and the exit
	for _, arch := range []string{"x86_64", "arm64"} {
		e, err := New(arch)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		im, err := e.image(obj.Progs[0], obj.Progs[0], obj.Helpers, core.Fixed)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(arch+"/budget", func(b *testing.B) {
			cpu0 := cputime.Now()
			for b.Loop() {
				res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{Budget: 4 * n})
				if err != nil || res.Insns != insns {
					b.Fatal(res, err)
				}
			}
			b.ReportMetric(insns*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
			b.ReportMetric(insns*float64(b.N)/(cputime.Now()-cpu0).Seconds(), "insns/cpu-s")
		})
		// Other instances over the same host memory, without hooks. Each
		// bound gets its own: Unicorn compiles the count hook into the code
		// it translates, so a warm instance would run uncounted code.
		bareInstance := func(b *testing.B) *uc.Unicorn {
			u, err := uc.Open(e.arch.ucArch, e.arch.ucMode)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { u.Close() })
			if arch == "arm64" {
				if err := u.SetCPUModel(uc.CPUARM64Max); err != nil {
					b.Fatal(err)
				}
			}
			for _, r := range []*mem.Region{e.stack, e.code, e.helpers} {
				if err := u.MemMapPtr(r.Base, r.Data, uc.Prot(r.Prot)); err != nil {
					b.Fatal(err)
				}
			}
			return u
		}
		stop := e.arch.helperBase + stopOffset
		setup := func(b *testing.B, u *uc.Unicorn) {
			sp := mem.StackTop + uint64(im.img.EntryFrameSize)
			if arch == "x86_64" {
				mem.StoreLE(e.stack.Data[sp-mem.StackBase:], 8, stop)
			} else if err := u.RegWrite(uc.ARM64RegLR, stop); err != nil {
				b.Fatal(err)
			}
			if err := u.RegWrite(e.arch.sp, sp); err != nil {
				b.Fatal(err)
			}
		}
		for _, count := range []uint64{0, 4 * n * 4} {
			name := arch + "/none"
			if count > 0 {
				name = arch + "/uc-count"
			}
			b.Run(name, func(b *testing.B) {
				bare := bareInstance(b)
				cpu0 := cputime.Now()
				for b.Loop() {
					setup(b, bare)
					if err := bare.Start(im.entry, stop, 0, count); err != nil {
						b.Fatal(err)
					}
					if r0, _ := bare.RegRead(e.arch.ret); r0 != n*(n-1)/2 {
						b.Fatalf("r0 = %d", r0)
					}
				}
				b.ReportMetric(insns*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
				b.ReportMetric(insns*float64(b.N)/(cputime.Now()-cpu0).Seconds(), "insns/cpu-s")
			})
		}
	}
}
