package asm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"jitsim/core"
)

// fastPathLines are lines of the shapes the fast path takes, and near
// misses it must leave to the general parser; TestFastPath also mutates
// them.
var fastPathLines = []string{
	"mov %r0, 1", "mov32 %r1, -1", "add %r1, %r2", "lsh32 %r3, 0x1f", "sdiv %r1, 0x7fffffff", "neg %r1",
	"be16 %r1", "movsx1632 %r1, %r2", "lddw %r1, 0x1122334455667788", "lddw %r1, -1", "ldxw %r0, [%r1+4]",
	"ldxdw %r2, [%r10-8]", "ldxb %r0, [%r1]", "stw [%r1+2], 0x12", "stxdw [%r10-8], %r1", "ldabsh 12",
	"ldindb %r1, 2", "ja +3", "ja -1", "ja32 +100000", "jeq %r1, 2, +1", "jsgt32 %r1, %r2, L", "jne %r0, 1, exit",
	"call 5", "call -1", "call bpf_map_lookup_elem", "call local L", "call helper 3", "exit",
	"lock add [%r1+8], %r2", "lock *(u64 *)(r10 -8) += r1", "lock *(u32 *)(r1 +0) |= w2",
	"r0 = 1", "w1 += w2", "r1 s>>= 3", "r2 s/= r3", "r1 = r2", "w1 = w2", "r1 = -5", "r1 = - 5", "r1 = -r1",
	"r1 = 0x1122334455667788 ll", "r1 = -1 ll", "w1 = 5 ll", "r1 = (s8)r2", "r1 = be16 r1", "r1 = map[m] ll",
	"r0 = *(u32 *)(r1 +4)", "w0 = *(u8 *)(r1 + 4)", "r0 = *(s16 *)(r1 -2)", "r0 = *(u8 *)skb[12]",
	"*(u64 *)(r10 -8) = r1", "*(u32 *)(r1 +0) = 5", "*(u64 *)(r10 -8) = w1", "*(s32 *)(r1 +0) = 5",
	"if r1 > 0x5 goto L", "if w1 s<= w2 goto +3", "if r1 & 1 goto pc+2", "if r1 == r2 goto L <LBB0_2>",
	"goto +3", "goto L", "gotol L", "goto pc-1", "r0 = atomic64_fetch_add((u64 *)(r1 +0), r0)",
	"L:", "L: r0 = 1", "l0_%=: goto l0_%=", "  12: (b7) r0 = 1", "r0 = 1 ; exit", "r0 = 1 # c", "r0 = /* c */ 1",
	"r11 = 1", "r1 = 99999999999999999999", "mov %r0, 0x100000000", "ldxw %r0, [%r1+40000]", "r1 += w2",
	"if %r1 > 2 goto L", "*(u64 *)(r10 -8) == 5", "r1 = *(u32 *)(r1 +4) x", "call local", "call pc+1",
	"r0 = atomic64_cmpxchg((u64 *)(r2 +0), r0, r1)", "w1 = atomic_xchg((u32 *)(r2 +8), w1)",
	"r1 = atomic_fetch_or((u64 *)(r2 +0), r1)", "r2 = atomic64_fetch_and((u32 *)(r2 +0), r2)",
	"r1 = xchg_64(r2 + 0, r1)", "L1: # c", "L1:", "exit:", "r1:", "1L:", "r0 = 1 # c", "r0 = 1 #c", "r0 = 1, # c",
	"call foo#1", "r0 /= 2", "r0 = 1 // c", "; c", "",
}

var fastPathJunk = []string{" ", "\t", ",", "%", "r", "w", "1", "0x", "-", "+", "(", ")", "[", "]", "*", "=",
	":", ";", "#", "<", ">", "&", "s", "ll", "goto", "_%=", "u64", "99999999999999999999", "0xffffffff", "\x00", "\v", "\r"}

// TestFastPath: the fast path assembles what the general parser assembles,
// slot by slot with positions, and leaves everything else to it, so errors
// are the general parser's too. Inputs: the conformance suite, the test
// data, and mutations of fastPathLines.
func TestFastPath(t *testing.T) {
	var corpus []string
	for _, pattern := range []string{"../../../shared/bpf_conformance/*/*.data", "testdata/*.s"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if _, asm, ok := strings.Cut(s, "-- asm\n"); ok {
				s, _, _ = strings.Cut(asm, "\n-- ")
			}
			corpus = append(corpus, s)
		}
	}
	if len(corpus) < 300 {
		t.Fatalf("%d files, want the conformance suite and testdata", len(corpus))
	}
	for _, src := range corpus {
		checkFastPath(t, src)
	}
	lines := fastPathLines
	for _, src := range corpus {
		lines = append(lines, strings.Split(src, "\n")...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		b.WriteString("L:\n")
		for k := rng.IntN(3); k >= 0; k-- {
			l := []byte(fastPathLines[rng.IntN(len(fastPathLines))])
			if k == 0 {
				l = []byte(lines[rng.IntN(len(lines))])
			}
			for m := rng.IntN(3); m > 0; m-- {
				i := rng.IntN(len(l) + 1)
				switch rng.IntN(3) {
				case 0:
					if i < len(l) {
						l = append(l[:i], l[i+1:]...)
					}
				default:
					l = append(l[:i], append([]byte(fastPathJunk[rng.IntN(len(fastPathJunk))]), l[i:]...)...)
				}
			}
			b.Write(l)
			b.WriteByte('\n')
		}
		b.WriteString("exit\n")
		checkFastPath(t, b.String())
	}
}

func FuzzFastPath(f *testing.F) {
	for _, l := range fastPathLines {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkFastPath(t, src)
	})
}

// checkFastPath parses src with and without the fast path and compares.
func checkFastPath(t *testing.T, src string) {
	t.Helper()
	parse := func(fast bool) (*core.Object, error) {
		fastPath = fast
		defer func() { fastPath = true }()
		return ParseOpts([]byte(src), Options{File: "f.s", Helpers: core.HelpersConformance})
	}
	want, wantErr := parse(false)
	got, gotErr := parse(true)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s\nfast path: %v\ngeneral:   %v", strconv.Quote(src), gotErr, wantErr)
	}
	if wantErr != nil {
		if g, w := gotErr.(*core.Error).Pos, wantErr.(*core.Error).Pos; g != w {
			t.Fatalf("%s: error at %+v, general parser %+v", strconv.Quote(src), g, w)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		for k := range min(len(want.Progs), len(got.Progs)) {
			if !reflect.DeepEqual(got.Progs[k], want.Progs[k]) {
				t.Logf("general:   %+v", *want.Progs[k])
				t.Logf("fast path: %+v", *got.Progs[k])
			}
		}
		t.Fatalf("%s: objects differ", strconv.Quote(src))
	}
}
