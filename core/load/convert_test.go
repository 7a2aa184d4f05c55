package load

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// BenchmarkConvert times the conversion alone (cilium/ebpf's spec and the
// symbol index made once): the part of BenchmarkELF/elf that is jitsim's.
// The spec is parsed anew for each batch of iterations, as a conversion
// may not reuse one (CO-RE fixups and cloned instructions aside, it only
// reads it).
func BenchmarkConvert(b *testing.B) {
	const file = "testdata/big.o"
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	syms, err := readSymbols(f)
	if err != nil {
		b.Fatal(err)
	}
	slots := 0
	for b.Loop() {
		obj, err := convert(file, spec, syms)
		if err != nil {
			b.Fatal(err)
		}
		slots = len(obj.Progs[0].Insns)
	}
	b.ReportMetric(float64(slots)*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
}
