package main

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from jitsim's output (review the diff first)")

const (
	seedStory = "../../../shared/seed/000_e0ffa50af1d87fbf.txt"
	seedProg  = "testdata/seed_hierarchy.s"
)

// asmLine is one machine instruction of a listing: its offset in its
// function and its text.
type asmLine struct {
	off  int
	text string
}

var (
	seedFunc = regexp.MustCompile(`^bpf_prog_[0-9a-f]+_(\w+):$`)
	seedInsn = regexp.MustCompile(`^\s*([0-9a-f]+):\s+(.*)$`)
	ourInsn  = regexp.MustCompile(`^\t\s*([0-9a-f]+):\t(.*)$`)
)

// seedListing reads the annotated "bpftool prog dump jited" of the seed
// story (the x86-64 listing near its end) straight from the story, its
// ";;" comments dropped, by function.
func seedListing(t *testing.T) map[string][]asmLine {
	t.Helper()
	f, err := os.Open(seedStory)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]asmLine{}
	fn, started := "", false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "When bpftool p d j id") {
			started = true
			continue
		}
		if !started {
			continue
		}
		if m := seedFunc.FindStringSubmatch(line); m != nil {
			fn = m[1]
			continue
		}
		if line != "" && line[0] >= 0x80 {
			break // the story goes on in prose
		}
		m := seedInsn.FindStringSubmatch(line)
		if m == nil || fn == "" {
			continue
		}
		off, _ := strconv.ParseInt(m[1], 16, 64)
		text, _, _ := strings.Cut(m[2], ";;")
		out[fn] = append(out[fn], asmLine{int(off), strings.TrimSpace(text)})
	}
	if len(out["entry"]) == 0 || len(out["subprog_tail"]) == 0 {
		t.Fatalf("no listing found in %s: %v", seedStory, out)
	}
	return out
}

// dumpListing reads a jited dump's machine instructions by function,
// annotations dropped.
func dumpListing(out string) map[string][]asmLine {
	got := map[string][]asmLine{}
	fn := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") {
			fn = strings.TrimSuffix(line, ":")
			continue
		}
		m := ourInsn.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		off, _ := strconv.ParseInt(m[1], 16, 64)
		text, _, _ := strings.Cut(m[2], "\t#")
		got[fn] = append(got[fn], asmLine{int(off), text})
	}
	return got
}

// canonX86 puts an AT&T instruction as LLVM's disassembler (the seed's
// bpftool) or x86asm (jitsim) prints it into one form: the size suffix
// dropped where a register operand gives the size, numbers in decimal,
// no blanks. Call targets and movabs immediates are addresses (the
// subprogram's, a map's, a global's) and become "ADDR".
func canonX86(s string) string {
	mn, ops, _ := strings.Cut(strings.TrimSpace(s), " ")
	ops = strings.ReplaceAll(ops, " ", "")
	hasReg := false
	depth := 0
	for i, c := range ops {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case '%':
			hasReg = hasReg || depth == 0 && i >= 0
		}
	}
	switch {
	case mn == "movabsq" || mn == "movabs":
		mn = "mov"
		if _, reg, ok := strings.Cut(ops, ","); ok {
			ops = "$ADDR," + reg
		}
	case mn == "nopl" || mn == "nopw":
	case mn == "mov" || mn == "movq":
		// x86asm spells movabs "mov": a 64-bit immediate gives it away.
		if imm, reg, ok := strings.Cut(ops, ","); ok && strings.HasPrefix(imm, "$") {
			if v, ok := parseNum(imm[1:]); ok && v != int64(int32(v)) {
				ops = "$ADDR," + reg
			}
		}
		mn = "mov"
	default:
		base := mn
		if strings.HasSuffix(mn, "l") || strings.HasSuffix(mn, "q") {
			base = mn[:len(mn)-1]
		}
		switch base {
		case "mov", "xor", "push", "pop", "add", "sub", "cmp", "call", "ret", "leave", "jmp", "test":
			if hasReg || ops == "" || base == "call" || base == "jmp" {
				mn = base
			}
		}
	}
	if mn == "call" {
		ops = "ADDR"
	}
	num := regexp.MustCompile(`-?(0x[0-9a-fA-F]+|[0-9]+)`)
	ops = num.ReplaceAllStringFunc(ops, func(n string) string {
		if v, ok := parseNum(n); ok {
			return strconv.FormatInt(v, 10)
		}
		return n
	})
	return mn + " " + ops
}

// parseNum reads a decimal or 0x number with an optional minus sign, as
// both disassemblers print them, as a two's complement 64-bit value.
func parseNum(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "-"), 0, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// TestSeedListingThroughCLI: our asm translation of the seed's program,
// through the whole pipeline (asm, analysis, xlate, sim's JIT entry point)
// and "jitsim dump -arch x86_64 -tcc fixed -ibt", prints the seed story's
// bpftool listing: the same instructions at the same offsets in the same
// order with the same operands, map and global addresses aside.
func TestSeedListingThroughCLI(t *testing.T) {
	want := seedListing(t)
	code, out, errOut := jitsim(t, "dump", "-arch", "x86_64", "-tcc", "fixed", "-ibt", seedProg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := dumpListing(out)
	for _, fn := range []string{"entry", "subprog_tail"} {
		w, g := want[fn], got[fn]
		for i := 0; i < max(len(w), len(g)); i++ {
			switch {
			case i >= len(g):
				t.Errorf("%s: missing %x: %s", fn, w[i].off, w[i].text)
			case i >= len(w):
				t.Errorf("%s: extra %x: %s", fn, g[i].off, g[i].text)
			case g[i].off != w[i].off || canonX86(g[i].text) != canonX86(w[i].text):
				t.Errorf("%s: got %x: %s (%s), seed has %x: %s (%s)", fn, g[i].off, g[i].text, canonX86(g[i].text), w[i].off, w[i].text, canonX86(w[i].text))
			}
		}
	}
	if len(got) != 2 {
		t.Errorf("functions %v, want entry and subprog_tail", got)
	}
}

// TestCanonX86 pins the normalisation the seed comparison relies on, both
// ways: equal where only the spelling differs, different where the
// instruction does.
func TestCanonX86(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"movq    -16(%rbp), %rax", "mov -0x10(%rbp),%rax", true},
		{"cmpq    $33, (%rax)", "cmpq $0x21,(%rax)", true},
		{"movabsq $-82417199407104, %rdi", "mov $-0x777edffffef0,%rdi", true},
		{"callq   0x80", "callq 0xffffffffc000005f", true},
		{"leave", "leaveq", true},
		{"xorq    %rax, %rax", "xor %rax,%rax", true},
		{"xorq    %rax, %rax", "xor %eax,%eax", false},
		{"movl    $1, %eax", "mov $0x2,%eax", false},
		{"cmpq    $33, (%rax)", "cmpl $0x21,(%rax)", false},
		{"movabsq $1, %rdi", "mov $0x1,%r13", false},
		{"ja      0x20", "jae 0x20", false},
	} {
		if got := canonX86(tc.a) == canonX86(tc.b); got != tc.same {
			t.Errorf("%q (%s) vs %q (%s): same %v, want %v", tc.a, canonX86(tc.a), tc.b, canonX86(tc.b), got, tc.same)
		}
	}
}

// golden compares out with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, out string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if out != string(want) {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(out, "\n")
		for i := range max(len(wl), len(gl)) {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("%s: line %d is %q, golden has %q (go test -run %s -update rewrites it after review)", path, i+1, g, w, t.Name())
			}
		}
	}
}

// canonA64 puts an arm64 instruction as objdump (the kernel's dumps) or
// arm64asm (jitsim) prints it into one form: fp and lr by number, the
// kernel's A64_MOV (ADD #0, which objdump calls mov only next to sp) as
// mov, numbers in decimal, no blanks.
func canonA64(s string) string {
	s = strings.TrimSpace(s)
	for _, r := range []struct{ from, to string }{{"fp", "x29"}, {"lr", "x30"}} {
		s = regexp.MustCompile(`\b`+r.from+`\b`).ReplaceAllString(s, r.to)
	}
	if m := regexp.MustCompile(`^add ([xw]\d+|sp), ([xw]\d+|sp), #0(x0)?$`).FindStringSubmatch(s); m != nil {
		s = "mov " + m[1] + ", " + m[2]
	}
	s = regexp.MustCompile(`-?(0x[0-9a-fA-F]+|[0-9]+)\b`).ReplaceAllStringFunc(s, func(n string) string {
		if v, ok := parseNum(n); ok {
			return strconv.FormatInt(v, 10)
		}
		return n
	})
	mn, ops, _ := strings.Cut(s, " ")
	return mn + " " + strings.ReplaceAll(ops, " ", "")
}

// matchA64 checks a function's instructions from offset from against the
// kernel's, in order.
func matchA64(t *testing.T, fn string, got []asmLine, from int, want []asmLine) {
	t.Helper()
	i := 0
	for i < len(got) && got[i].off != from {
		i++
	}
	for k, w := range want {
		if i+k >= len(got) {
			t.Errorf("%s: listing ends before %x: %s", fn, w.off, w.text)
			return
		}
		g := got[i+k]
		if g.off != w.off || canonA64(g.text) != canonA64(w.text) {
			t.Errorf("%s: got %x: %s, kernel has %x: %s", fn, g.off, g.text, w.off, w.text)
		}
	}
}

// TestArm64KernelListing: with BTI and PAC, the prologue, epilogue and tail
// call sequence of the arm64 JIT since Linux 6.11 (tail_call_cnt_ptr in
// x26; kernel-notes/arm64.md, the empty-program dump of "bpf, arm64: Avoid
// blindly saving/restoring all callee-saved registers" and
// emit_bpf_tail_call), as "jitsim dump -arch arm64" prints them.
func TestArm64KernelListing(t *testing.T) {
	// The kernel's dump of "r0 = 0; exit", instruction for instruction,
	// then build_plt: a nop aligning the target, "ldr x10, <target>; br x10".
	code, out, errOut := jitsim(t, "dump", "-arch", "arm64", "-bti", "-pac", "testdata/empty.s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	matchA64(t, "main", dumpListing(out)["main"], 0, []asmLine{
		{0x0, "bti jc"},
		{0x4, "mov x9, lr"},
		{0x8, "nop"},
		{0xc, "paciasp"},
		{0x10, "stp fp, lr, [sp, #-16]!"},
		{0x14, "mov fp, sp"},
		{0x18, "stp xzr, x26, [sp, #-16]!"},
		{0x1c, "mov x26, sp"},
		{0x20, "bti j"}, // tailcall target: PROLOGUE_OFFSET = 1+2+1+4 = 8
		{0x24, "mov x7, #0"},
		{0x28, "ldp xzr, x26, [sp], #16"},
		{0x2c, "ldp fp, lr, [sp], #16"},
		{0x30, "mov x0, x7"},
		{0x34, "autiasp"},
		{0x38, "ret"},
		{0x3c, "nop"},
		{0x40, "ldr x10, 0x48"},
		{0x44, "br x10"},
	})

	// The seed's program: entry, a main program using r6; subprog_tail,
	// a subprogram using r6 and r7 whose tail call (direct in the
	// verifier's eyes; arm64 JITs every tail call indirect) goes through
	// x26 = tail_call_cnt_ptr.
	code, out, errOut = jitsim(t, "dump", "-arch", "arm64", "-bti", "-pac", seedProg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := dumpListing(out)
	matchA64(t, "entry", got["entry"], 0, []asmLine{
		{0x0, "bti jc"},
		{0x4, "mov x9, lr"},
		{0x8, "nop"},
		{0xc, "paciasp"},
		{0x10, "stp fp, lr, [sp, #-16]!"},
		{0x14, "mov fp, sp"},
		{0x18, "stp xzr, x26, [sp, #-16]!"}, // tail_call_cnt = 0, caller's x26
		{0x1c, "mov x26, sp"},               // x26 = &tail_call_cnt
		{0x20, "bti j"},
		{0x24, "stp x19, xzr, [sp, #-16]!"}, // push_callee_regs: r6 alone, with xzr
	})
	matchA64(t, "subprog_tail", got["subprog_tail"], 0, []asmLine{
		{0x0, "bti jc"},
		{0x4, "mov x9, lr"},
		{0x8, "nop"},
		{0xc, "paciasp"},
		{0x10, "stp fp, lr, [sp, #-16]!"},
		{0x14, "mov fp, sp"},
		{0x18, "stp x26, x26, [sp, #-16]!"}, // a subprogram keeps the pointer it got
		{0x1c, "stp x19, x20, [sp, #-16]!"}, // no bti j: only main programs are tail call targets
	})
	// emit_bpf_tail_call with struct bpf_array's max_entries at 0x24 and
	// ptrs at 0x110, bpf_prog's bpf_func at 0x30 (the v5.19 dump's
	// offsets, kabi), no stack, r6/r7 popped before the jump.
	matchA64(t, "subprog_tail", got["subprog_tail"], 0x3c, []asmLine{
		{0x3c, "mov w10, #0x24"},
		{0x40, "ldr w10, [x1, x10]"},
		{0x44, "mov w2, w2"},
		{0x48, "cmp w2, w10"},
		{0x4c, "b.cs 0x90"}, // out
		{0x50, "mov w10, #0x21"},
		{0x54, "ldr x12, [x26]"},
		{0x58, "cmp x12, x10"},
		{0x5c, "b.cs 0x90"},
		{0x60, "add x12, x12, #0x1"},
		{0x64, "mov w10, #0x110"},
		{0x68, "add x10, x1, x10"},
		{0x6c, "lsl x11, x2, #3"},
		{0x70, "ldr x11, [x10, x11]"},
		{0x74, "cbz x11, 0x90"},
		{0x78, "str x12, [x26]"},
		{0x7c, "ldp x19, x20, [sp], #16"},
		{0x80, "mov w10, #0x30"},
		{0x84, "ldr x10, [x11, x10]"},
		{0x88, "add x10, x10, #0x20"}, // 4 * PROLOGUE_OFFSET
		{0x8c, "br x10"},
		// out: the epilogue of build_epilogue.
		{0x90, "ldp x19, x20, [sp], #16"},
		{0x94, "ldp xzr, x26, [sp], #16"},
		{0x98, "ldp fp, lr, [sp], #16"},
		{0x9c, "mov x0, x7"},
		{0xa0, "autiasp"},
		{0xa4, "ret"},
	})
}

// TestJitedGolden: the whole "jitsim dump" of the seed's program on both
// JITs, byte for byte (testdata/*.golden; -update rewrites them, to be
// reviewed against the kernel facts the tests above pin).
func TestJitedGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"seed_hierarchy.x86_64.golden", []string{"-arch", "x86_64", "-tcc", "fixed", "-ibt"}},
		{"seed_hierarchy.x86_64.legacy.golden", []string{"-arch", "x86_64", "-tcc", "legacy", "-ibt"}},
		{"seed_hierarchy.arm64.golden", []string{"-arch", "arm64", "-tcc", "fixed", "-bti", "-pac"}},
		{"seed_hierarchy.arm64.legacy.golden", []string{"-arch", "arm64", "-tcc", "legacy", "-bti", "-pac"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			code, out, errOut := jitsim(t, append(append([]string{"dump"}, tc.args...), seedProg)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
}
