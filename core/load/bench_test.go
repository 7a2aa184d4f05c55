package load_test

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf"

	"jitsim/core/analysis"
	"jitsim/core/load"
)

// BenchmarkELF times loading testdata/big.o (one program of about 10,900
// slots: unrolled loops, map lookups, globals, two subprograms) by stage:
// cilium/ebpf's reader alone, the whole load (reader + conversion), the
// verifier-lite on the loaded object, and load + check. The conversion's
// own cost is elf minus cilium.
func BenchmarkELF(b *testing.B) {
	const file = "testdata/big.o"
	data := readObject(b, file)
	obj, err := load.ELF(file, data)
	if err != nil {
		b.Fatal(err)
	}
	slots := 0
	for _, p := range obj.Progs {
		slots += len(p.Insns)
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(slots)*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
		b.SetBytes(int64(len(data)))
	}
	b.Run("cilium", func(b *testing.B) {
		for b.Loop() {
			if _, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("elf", func(b *testing.B) {
		for b.Loop() {
			if _, err := load.ELF(file, data); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if err := analysis.Check(obj); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("elf+check", func(b *testing.B) {
		for b.Loop() {
			o, err := load.ELF(file, data)
			if err != nil {
				b.Fatal(err)
			}
			if err := analysis.Check(o); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}
