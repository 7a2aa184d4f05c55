package asm_test

import (
	"fmt"
	"strings"
	"testing"

	"jitsim/core/asm"
	"jitsim/internal/cputime"
)

// benchSource generates n lines mixing both syntaxes, labels, jumps,
// memory operands, ld_imm64 and comments, in the proportions of the
// conformance suite and bpftool listings.
func benchSource(n int) []byte {
	lines := []string{
		"mov %%r0, %d",
		"r1 = *(u32 *)(r1 +%d)",
		"jne %%r0, %d, L%d",
		"*(u64 *)(r10 -8) = r%d",
		"lddw %%r1, 0x%x",
		"if r1 > 0x%x goto L%d",
		"add32 %%r0, %%r%d",
		"w%d += 7 # comment",
		"ldxdw %%r2, [%%r10-%d]",
		"lock *(u64 *)(r10 -8) += r%d",
		"r0 = atomic64_fetch_add((u64 *)(r1 +%d), r0)",
		"call %d",
	}
	var b strings.Builder
	label := 0
	for i := 0; i < n; i++ {
		if i%16 == 0 {
			label++
			fmt.Fprintf(&b, "L%d:\n", label)
			i++
		}
		f := lines[i%len(lines)]
		if strings.Count(f, "%")-2*strings.Count(f, "%%") == 2 {
			fmt.Fprintf(&b, f+"\n", i%8, label+1)
		} else {
			fmt.Fprintf(&b, f+"\n", i%8)
		}
	}
	fmt.Fprintf(&b, "L%d:\nexit\n", label+1)
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	src := benchSource(200_000)
	lines := strings.Count(string(src), "\n")
	if _, err := asm.Parse("bench.s", src); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	cpu0 := cputime.Now()
	b.ResetTimer()
	for b.Loop() {
		if _, err := asm.Parse("bench.s", src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	// The machine is shared: CPU time says what the parser costs when wall
	// time includes waiting for a core.
	if cpu := (cputime.Now() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(lines)*float64(b.N)/cpu, "lines/cpu-s")
	}
}

func BenchmarkFormat(b *testing.B) {
	obj, err := asm.Parse("bench.s", benchSource(200_000))
	if err != nil {
		b.Fatal(err)
	}
	n := len(obj.Progs[0].Insns)
	b.ResetTimer()
	for b.Loop() {
		asm.Format(obj)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
}
