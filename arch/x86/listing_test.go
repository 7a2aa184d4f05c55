package x86

import (
	"fmt"
	"strings"
	"testing"

	"jitsim/core"
	bpfasm "jitsim/core/asm"
	"jitsim/core/jit"
	"jitsim/core/mem"
)

// fn is what core/analysis would put in a core.Func, given by hand here.
type fn struct {
	depth int
	tcr   bool // tail_call_reachable
}

// program assembles src (one .prog, functions started by .func) and fills
// Funcs by hand: one per function entry symbol, in slot order.
func program(t testing.TB, src string, fns ...fn) *core.Program {
	t.Helper()
	obj, err := bpfasm.Parse(t.Name()+".s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p := obj.Progs[0]
	starts := []int{0}
	names := []string{p.Name}
	for _, s := range p.Symbols {
		if s.Func && s.Insn > 0 {
			starts = append(starts, s.Insn)
			names = append(names, s.Name)
		}
	}
	if len(fns) != len(starts) {
		t.Fatalf("%d functions in the source, %d given", len(starts), len(fns))
	}
	for k, s := range starts {
		end := len(p.Insns)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		p.Funcs = append(p.Funcs, core.Func{Name: names[k], Start: s, End: end,
			StackDepth: fns[k].depth, TailCallReachable: fns[k].tcr})
	}
	return p
}

// kernelHelpers puts helper id n's trap stub at X86HelperBase + 16n, the
// layout emitCallX assumes.
func kernelHelpers(id int32) uint64 { return mem.X86HelperBase + 16*uint64(id) }

func compile(t testing.TB, p *core.Program, opts jit.Options) *jit.Image {
	t.Helper()
	if opts.Base == 0 {
		opts.Base = mem.X86CodeBase
	}
	if opts.HelperAddr == nil {
		opts.HelperAddr = kernelHelpers
	}
	img, err := Backend{}.Compile(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// funcListing disassembles one function with offsets and branch targets
// relative to its start, as bpftool prints each function: "off: text".
func funcListing(img *jit.Image, fi int) []string {
	f := img.Funcs[fi]
	code := img.Code[f.Start:f.End]
	var out []string
	for off := 0; off < len(code); {
		text, n := decode(code, off, img.Base+uint64(f.Start))
		out = append(out, fmt.Sprintf("%x: %s", off, text))
		off += n
	}
	return out
}

// matchListing checks got against want in the kernel selftests' __jited
// style: each pattern is a prefix of the next line, with or without its
// "off: ", and "..." skips any number of lines.
func matchListing(t *testing.T, got, want []string) {
	t.Helper()
	match := func(line, pat string) bool {
		_, text, _ := strings.Cut(line, ": ")
		return strings.HasPrefix(line, pat) || strings.HasPrefix(text, pat)
	}
	g := 0
	for w := 0; w < len(want); w++ {
		if want[w] == "..." {
			w++
			if w == len(want) {
				return
			}
			for g < len(got) && !match(got[g], want[w]) {
				g++
			}
		}
		if g >= len(got) || !match(got[g], want[w]) {
			at := "end of listing"
			if g < len(got) {
				at = fmt.Sprintf("line %d %q", g, got[g])
			}
			t.Fatalf("pattern %d %q does not match %s\nlisting:\n%s", w, want[w], at, strings.Join(got, "\n"))
		}
		g++
	}
}

// The seed's "bpftool prog dump jited" of tailcall hierarchy's entry and
// subprog_tail (fixed scheme, IBT on): every offset and instruction must
// come out the same.
const seedSrc = `
.prog entry tc
	r6 = r1
	r1 = 0xffffb50a00000000 ll
	r2 = *(u32 *)(r1 +0)
	w2 += 1
	*(u32 *)(r1 +0) = r2
	r1 = r6
	call subprog_tail
	r1 = r6
	call subprog_tail
	r0 = 1
	exit
.func subprog_tail
	r6 = r1
	r7 = 0xffffa01000000000 ll
	r1 = r6
	r2 = r7
	r3 = 0
	tail_call
	exit
`

func seedProgram(t testing.TB) *core.Program {
	p := program(t, seedSrc, fn{tcr: true}, fn{tcr: true})
	p.Insns[len(p.Insns)-2].Imm = 1 // direct: poke descriptor 0
	p.TailCallPokes = []core.TailCallPoke{{Map: 0, Key: 0}}
	return p
}

func TestSeedListing(t *testing.T) {
	img := compile(t, seedProgram(t), jit.Options{Scheme: core.Fixed, IBT: true})
	matchListing(t, funcListing(img, 0), []string{
		"0: endbr64",
		"4: nopl (%rax,%rax)",
		"9: xor %rax,%rax", // rax = 0 (tail_call_cnt)
		"c: push %rbp",
		"d: mov %rsp,%rbp",
		"10: endbr64", // X86_TAIL_CALL_OFFSET
		"14: cmp $0x21,%rax",
		"18: ja 0x20",
		"1a: push %rax",
		"1b: mov %rsp,%rax",
		"1e: jmp 0x21",
		"20: push %rax",
		"21: push %rax",
		"22: push %rbx",
		"23: mov %rdi,%rbx",
		"26: mov $-0x4af600000000,%rdi",
		"30: mov (%rdi),%esi",
		"33: add $0x1,%esi",
		"36: mov %esi,(%rdi)",
		"39: mov %rbx,%rdi",
		"3c: mov -0x10(%rbp),%rax",     // tcc_ptr
		"43: callq 0xffffffffc000005f", // subprog_tail follows entry
		"48: mov %rbx,%rdi",
		"4b: mov -0x10(%rbp),%rax",
		"52: callq 0xffffffffc000005f",
		"57: mov $0x1,%eax",
		"5c: pop %rbx",
		"5d: leaveq",
		"5e: retq",
	})
	matchListing(t, funcListing(img, 1), []string{
		"0: endbr64",
		"4: nopl (%rax,%rax)",
		"9: nopl (%rax)", // do not touch tail_call_cnt
		"c: push %rbp",
		"d: mov %rsp,%rbp",
		"10: endbr64",
		"14: push %rax", // [rbp-8] = tcc_ptr
		"15: push %rax", // [rbp-16] = tcc_ptr
		"16: push %rbx",
		"17: push %r13",
		"19: mov %rdi,%rbx",
		"1c: mov $-0x5ff000000000,%r13",
		"26: mov %rbx,%rdi",
		"29: mov %r13,%rsi",
		"2c: xor %edx,%edx",
		"2e: mov -0x10(%rbp),%rax",
		"35: cmpq $0x21,(%rax)",
		"39: jae 0x4e",
		"3b: jmpq 0x4e", // bypass, toggled by poking
		"40: addq $0x1,(%rax)",
		"44: pop %r13",
		"46: pop %rbx",
		"47: pop %rax",
		"48: pop %rax",
		"49: nopl (%rax,%rax)", // tail call target, toggled by poking
		"4e: pop %r13",
		"50: pop %rbx",
		"51: leaveq",
		"52: retq",
	})
	sub := img.Funcs[1].Start
	want := []jit.Poke{{Insn: 18, Map: 0, Key: 0, TailCallSite: sub + 0x49, BypassSite: sub + 0x3b, BypassTarget: sub + 0x4e}}
	if fmt.Sprint(img.Pokes) != fmt.Sprint(want) {
		t.Errorf("pokes = %+v, want %+v", img.Pokes, want)
	}
	if img.TailCallOffset != 16 || img.Funcs[0].Start != 0 || img.Funcs[1].Start != 0x5f || img.Funcs[1].End != 0x5f+0x53 {
		t.Errorf("layout: tail call offset %d, funcs %+v", img.TailCallOffset, img.Funcs)
	}
}

// The kernel selftest verifier_tailcall_jit.c pins this listing for a main
// program calling a subprogram that tail-calls slot 0 of a one-slot array
// holding main itself; the slot is filled at load time, so
// bpf_tail_call_direct_fixup has already patched both poke sites.
func TestSelftestTailcallJit(t *testing.T) {
	p := program(t, `
.prog main tc
	call sub
	r0 = 0
	exit
.func sub
	r2 = 0xffff888110000000 ll
	r3 = 0
	tail_call
	exit
`, fn{tcr: true}, fn{tcr: true})
	p.Insns[6].Imm = 1
	p.TailCallPokes = []core.TailCallPoke{{Map: 0, Key: 0}}
	img := compile(t, p, jit.Options{Scheme: core.Fixed, IBT: true})
	if len(img.Pokes) != 1 {
		t.Fatalf("pokes = %+v", img.Pokes)
	}
	fixupDirect(t, img, img.Pokes[0], img.Base+uint64(img.Funcs[0].Start))
	matchListing(t, funcListing(img, 0), []string{
		"0: endbr64",
		"4: nopl (%rax,%rax)",
		"9: xor %rax,%rax",
		"c: push %rbp",
		"d: mov %rsp,%rbp",
		"10: endbr64",
		"14: cmp $0x21,%rax",
		"18: ja 0x20",
		"1a: push %rax",
		"1b: mov %rsp,%rax",
		"1e: jmp 0x21",
		"20: push %rax",
		"21: push %rax",
		"22: mov -0x10(%rbp),%rax",
		"...",
		"29: callq 0x",
		"2e: xor %eax,%eax",
		"30: leaveq",
		"31: retq",
	})
	matchListing(t, funcListing(img, 1), []string{
		"0: endbr64",
		"4: nopl (%rax,%rax)",
		"9: nopl (%rax)",
		"c: push %rbp",
		"d: mov %rsp,%rbp",
		"10: endbr64",
		"14: push %rax",
		"15: push %rax",
		"16: mov $-0x777ef0000000,%rsi",
		"20: xor %edx,%edx",
		"22: mov -0x10(%rbp),%rax",
		"29: cmpq $0x21,(%rax)",
		"2d: jae 0x3f",
		"2f: nopl (%rax,%rax)", // bypass, nopped by the fixup
		"34: addq $0x1,(%rax)",
		"38: pop %rax",
		"39: pop %rax",
		"3a: jmpq ", // tailcall_target: main + X86_TAIL_CALL_OFFSET
		"3f: leaveq",
		"40: retq",
	})
	// The patched jump lands on main's second endbr64.
	site := img.Pokes[0].TailCallSite
	rel := int32(uint32(img.Code[site+1]) | uint32(img.Code[site+2])<<8 | uint32(img.Code[site+3])<<16 | uint32(img.Code[site+4])<<24)
	if target := site + 5 + int(rel); target != img.Funcs[0].Start+16 {
		t.Errorf("tail call target %#x, want main+16 = %#x", target, img.Funcs[0].Start+16)
	}
}

// fixupDirect does what bpf_tail_call_direct_fixup does for a filled slot:
// tailcall_target becomes "jmp target + adj_off" first, then the bypass
// becomes a nop5, each only if the site holds what the kernel expects
// (__bpf_arch_text_poke's -EBUSY check).
func fixupDirect(t *testing.T, img *jit.Image, p jit.Poke, bpfFunc uint64) {
	t.Helper()
	nop5 := x86Nops[5]
	site := img.Code[p.TailCallSite : p.TailCallSite+5]
	if string(site) != string(nop5) {
		t.Fatalf("tailcall_target %x is not a nop5", site)
	}
	a := newAsm()
	target := bpfFunc + uint64(img.TailCallOffset)
	a.jmpRel32(int32(target - (img.Base + uint64(p.TailCallSite) + 5)))
	copy(site, a.bytes())
	bypass := img.Code[p.BypassSite : p.BypassSite+5]
	a.reset()
	a.jmpRel32(int32(p.BypassTarget - (p.BypassSite + 5)))
	if string(bypass) != string(a.bytes()) {
		t.Fatalf("tailcall_bypass %x is not jmp %#x", bypass, p.BypassTarget)
	}
	copy(bypass, nop5)
}

const indirectSrc = `
.prog main tc
	r6 = r1
	*(u64 *)(r10 -8) = r6
	tail_call
	r0 = 1
	exit
`

// An indirect tail call from a main program with stack and a callee-saved
// register: every byte of emit_bpf_tail_call_indirect (6.11+).
func TestTailCallIndirectFixed(t *testing.T) {
	img := compile(t, program(t, indirectSrc, fn{depth: 8, tcr: true}), jit.Options{Scheme: core.Fixed})
	matchListing(t, funcListing(img, 0), []string{
		"0: nopl (%rax,%rax)",
		"5: xor %rax,%rax",
		"8: push %rbp",
		"9: mov %rsp,%rbp",
		"c: sub $0x8,%rsp", // X86_TAIL_CALL_OFFSET = 12
		"13: cmp $0x21,%rax",
		"17: ja 0x1f",
		"19: push %rax",
		"1a: mov %rsp,%rax",
		"1d: jmp 0x20",
		"1f: push %rax",
		"20: push %rax",
		"21: push %rbx",
		"22: mov %rdi,%rbx",
		"25: mov %rbx,-0x8(%rbp)",
		"29: mov %edx,%edx",
		"2b: cmp %edx,0x24(%rsi)", // kabi.ArrayMaxEntriesOff
		"2e: jbe 0x63",
		"30: mov -0x18(%rbp),%rax", // tcc_ptr below 8 bytes of stack
		"37: cmpq $0x21,(%rax)",
		"3b: jae 0x63",
		"3d: mov 0x110(%rsi,%rdx,8),%rcx", // kabi.ArrayPtrsOff
		"45: test %rcx,%rcx",
		"48: je 0x63",
		"4a: addq $0x1,(%rax)",
		"4e: pop %rbx",
		"4f: pop %rax",
		"50: pop %rax",
		"51: add $0x8,%rsp",
		"58: mov 0x30(%rcx),%rcx", // kabi.ProgBpfFuncOff
		"5c: add $0xc,%rcx",
		"60: jmp *%rcx",
		"62: int3",
		"63: mov $0x1,%eax",
		"68: pop %rbx",
		"69: leaveq",
		"6a: retq",
	})
	if len(img.Pokes) != 0 || img.TailCallOffset != 12 {
		t.Errorf("pokes %v, tail call offset %d", img.Pokes, img.TailCallOffset)
	}
}

// The same program under the legacy scheme (Source A): the count is the
// frame's own dword at rbp-rsd-4, checked and incremented before the slot
// is read; one push/pop rax; tail calls land at 11.
func TestTailCallIndirectLegacy(t *testing.T) {
	img := compile(t, program(t, indirectSrc, fn{depth: 8, tcr: true}), jit.Options{Scheme: core.Legacy})
	matchListing(t, funcListing(img, 0), []string{
		"0: nopl (%rax,%rax)",
		"5: xor %eax,%eax",
		"7: push %rbp",
		"8: mov %rsp,%rbp",
		"b: sub $0x8,%rsp", // X86_TAIL_CALL_OFFSET = 11
		"12: push %rax",
		"13: push %rbx",
		"14: mov %rdi,%rbx",
		"17: mov %rbx,-0x8(%rbp)",
		"1b: mov %edx,%edx",
		"1d: cmp %edx,0x24(%rsi)",
		"20: jbe 0x56",
		"22: mov -0xc(%rbp),%eax",
		"28: cmp $0x21,%eax",
		"2b: jae 0x56",
		"2d: add $0x1,%eax",
		"30: mov %eax,-0xc(%rbp)",
		"36: mov 0x110(%rsi,%rdx,8),%rcx",
		"3e: test %rcx,%rcx",
		"41: je 0x56",
		"43: pop %rbx",
		"44: pop %rax",
		"45: add $0x8,%rsp",
		"4c: mov 0x30(%rcx),%rcx",
		"50: add $0xb,%rcx",
		"54: jmp *%rcx",
		"56: mov $0x1,%eax",
	})
	if img.TailCallOffset != 11 {
		t.Errorf("tail call offset %d, want 11", img.TailCallOffset)
	}
}

const directSrc = `
.prog main tc
	call sub
	r0 = 0
	exit
.func sub
	call 7
	r2 = 0xffff888110000000 ll
	r3 = 0
	tail_call
	exit
`

func directProgram(t *testing.T) *core.Program {
	p := program(t, directSrc, fn{tcr: true}, fn{tcr: true})
	p.Insns[7].Imm = 1
	p.TailCallPokes = []core.TailCallPoke{{Map: 3, Key: 0}}
	return p
}

// Legacy: rax is reloaded from the count slot before every call, helper
// calls included; the direct tail call counts before its bypass.
func TestTailCallDirectLegacy(t *testing.T) {
	img := compile(t, directProgram(t), jit.Options{Scheme: core.Legacy})
	helper := fmt.Sprintf("%#x", kernelHelpers(7))
	matchListing(t, funcListing(img, 0), []string{
		"0: nopl (%rax,%rax)",
		"5: xor %eax,%eax",
		"7: push %rbp",
		"8: mov %rsp,%rbp",
		"b: push %rax",
		"c: mov -0x8(%rbp),%rax", // RESTORE_TAIL_CALL_CNT
		"13: callq 0xffffffffc000001c",
		"18: xor %eax,%eax",
		"1a: leaveq",
		"1b: retq",
	})
	matchListing(t, funcListing(img, 1), []string{
		"0: nopl (%rax,%rax)",
		"5: data16 nop",
		"7: push %rbp",
		"8: mov %rsp,%rbp",
		"b: push %rax",
		"c: mov -0x8(%rbp),%rax", // before a helper call too
		"13: callq " + helper,
		"18: mov $-0x777ef0000000,%rsi",
		"22: xor %edx,%edx",
		"24: mov -0x4(%rbp),%eax",
		"2a: cmp $0x21,%eax",
		"2d: jae 0x43",
		"2f: add $0x1,%eax",
		"32: mov %eax,-0x4(%rbp)",
		"38: jmpq 0x43", // tailcall_bypass
		"3d: pop %rax",
		"3e: nopl (%rax,%rax)", // tailcall_target
		"43: leaveq",
		"44: retq",
	})
	sub := img.Funcs[1].Start
	want := []jit.Poke{{Insn: 7, Map: 3, Key: 0, TailCallSite: sub + 0x3e, BypassSite: sub + 0x38, BypassTarget: sub + 0x43}}
	if fmt.Sprint(img.Pokes) != fmt.Sprint(want) {
		t.Errorf("pokes = %+v, want %+v", img.Pokes, want)
	}
}

// Fixed (mainline): helper calls leave rax alone; the increment comes after
// the bypass, on *tcc_ptr.
func TestTailCallDirectFixed(t *testing.T) {
	img := compile(t, directProgram(t), jit.Options{Scheme: core.Fixed})
	helper := fmt.Sprintf("%#x", kernelHelpers(7))
	matchListing(t, funcListing(img, 1), []string{
		"0: nopl (%rax,%rax)",
		"5: nopl (%rax)",
		"8: push %rbp",
		"9: mov %rsp,%rbp",
		"c: push %rax",
		"d: push %rax",
		"e: callq " + helper,
		"13: mov $-0x777ef0000000,%rsi",
		"1d: xor %edx,%edx",
		"1f: mov -0x10(%rbp),%rax",
		"26: cmpq $0x21,(%rax)",
		"2a: jae 0x3c",
		"2c: jmpq 0x3c",
		"31: addq $0x1,(%rax)",
		"35: pop %rax",
		"36: pop %rax",
		"37: nopl (%rax,%rax)",
		"3c: leaveq",
		"3d: retq",
	})
	sub := img.Funcs[1].Start
	want := []jit.Poke{{Insn: 7, Map: 3, Key: 0, TailCallSite: sub + 0x37, BypassSite: sub + 0x2c, BypassTarget: sub + 0x3c}}
	if fmt.Sprint(img.Pokes) != fmt.Sprint(want) {
		t.Errorf("pokes = %+v, want %+v", img.Pokes, want)
	}
}

// Without tail calls there is no count at all: nop3 and no pushes of rax,
// no load before calls, in either scheme.
func TestPrologueNoTailCalls(t *testing.T) {
	src := `
.prog main
	r9 = r1
	call sub
	exit
.func sub
	r0 = 2
	exit
`
	for _, scheme := range []core.Scheme{core.Fixed, core.Legacy} {
		img := compile(t, program(t, src, fn{depth: 24}, fn{}), jit.Options{Scheme: scheme})
		nop := "5: nopl (%rax)"
		body := "c: sub $0x18,%rsp"
		if scheme == core.Legacy {
			nop, body = "5: data16 nop", "b: sub $0x18,%rsp"
		}
		matchListing(t, funcListing(img, 0), []string{"0: nopl (%rax,%rax)", nop, "...", body, "...", "mov %rdi,%r15", "callq 0x", "pop %r15", "leaveq", "retq"})
		for _, l := range funcListing(img, 0) {
			if strings.Contains(l, "push %rax") || strings.Contains(l, "(%rbp),%rax") {
				t.Errorf("%v: %q in a program without tail calls", scheme, l)
			}
		}
	}
}

func TestTailCallOffset(t *testing.T) {
	for _, tc := range []struct {
		scheme core.Scheme
		ibt    bool
		want   int
	}{{core.Fixed, false, 12}, {core.Fixed, true, 16}, {core.Legacy, false, 11}, {core.Legacy, true, 15}} {
		img := compile(t, program(t, indirectSrc, fn{tcr: true}), jit.Options{Scheme: tc.scheme, IBT: tc.ibt})
		if img.TailCallOffset != tc.want || TailCallOffset(tc.scheme, tc.ibt) != tc.want {
			t.Errorf("%v ibt=%v: offset %d, want %d", tc.scheme, tc.ibt, img.TailCallOffset, tc.want)
		}
		// The landing point is right after "mov rbp, rsp".
		if got := string(img.Code[tc.want-3 : tc.want]); got != "\x48\x89\xe5" {
			t.Errorf("%v ibt=%v: bytes before the landing point are %x", tc.scheme, tc.ibt, got)
		}
	}
}
