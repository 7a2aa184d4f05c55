package x86

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/mem"
)

// branchTarget returns the image offset a decoded jcc/jmp line goes to.
func branchTarget(t *testing.T, l Line) (int, bool) {
	op, arg, ok := strings.Cut(l.Text, " ")
	if !ok || !(strings.HasPrefix(op, "j")) || strings.HasPrefix(arg, "*") {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(arg, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("%v: target %q", l, arg)
	}
	return int(v), true
}

// Every BPF jump and every later exit must land exactly on the code of its
// target slot (or the epilogue); the other slots' code must not contain
// branches at all. This ties addrs[]/InsnOffsets to the emitted bytes.
func TestJumpTargetsMatchInsnOffsets(t *testing.T) {
	p := benchProgram(20_000)
	// Backward jumps and a few exits, too.
	for k := 100; k < len(p.Insns)-1; k += 997 {
		p.Insns[k] = core.Insn{Op: core.JMP32 | core.JSLT | core.K, Dst: core.R1, Imm: -5, Off: int16(-min(k, 300))}
	}
	for k := 555; k < len(p.Insns)-1; k += 4001 {
		p.Insns[k] = core.Insn{Op: core.JMP | core.Exit}
	}
	img := compile(t, p, jit.Options{})
	lines := Dump(img)
	firstExit := -1
	for k, ins := range p.Insns {
		if ins.IsExit() {
			firstExit = k
			break
		}
	}
	epilogue := img.InsnOffsets[firstExit]
	seen := 0
	for _, l := range lines {
		target, isBranch := branchTarget(t, l)
		if !isBranch || l.Insn < 0 {
			continue
		}
		ins := p.Insns[l.Insn]
		var want int
		switch {
		case ins.IsJump():
			want = img.InsnOffsets[ins.JumpTarget(l.Insn)]
		case ins.IsExit() && l.Insn != firstExit:
			want = epilogue
		default:
			t.Fatalf("slot %d (op %#02x) has a branch: %v", l.Insn, ins.Op, l)
		}
		if target != want {
			t.Fatalf("slot %d: %v goes to %#x, want %#x", l.Insn, l, target, want)
		}
		seen++
	}
	if seen < len(p.Insns)/10 {
		t.Errorf("only %d branches checked", seen)
	}
	if !slices.IsSorted(img.InsnOffsets) || img.InsnOffsets[len(p.Insns)] != len(img.Code) {
		t.Errorf("InsnOffsets not monotonic or not ending at %d", len(img.Code))
	}
}

// filler returns n "r0 = r1" (3 bytes each) and k "w0 = w0" (2 bytes).
func filler(n, k int) string {
	return strings.Repeat("r0 = r1\n", n) + strings.Repeat("w0 = w0\n", k)
}

// The pass loop's rules decide short or long jumps exactly as the kernel's:
// forward rel8 up to +123 (is_imm8_jmp_offset), and a backward jump that
// started long in the first pass (the 64-byte estimates) is measured from
// its own long end in the next pass, so it only shrinks if -(distance + 9)
// fits.
func TestJumpForms(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		slot      int
		gnu       string // the jump's text, targets as image offsets
		hex       string
	}{
		{"forward +123 is rel8", "if r1 == 0 goto +41\n" + filler(41, 0) + "exit", 0, "je 0x8c", "4885ff747b"},
		{"forward +124 is rel32", "if r1 == 0 goto +41\n" + filler(40, 0) + "r0 += 1\nexit", 0, "je 0x91", "4885ff0f847c000000"},
		{"ja +123 is rel8", "goto +41\n" + filler(41, 0) + "exit", 0, "jmp 0x89", "eb7b"},
		{"ja +124 is rel32", "goto +41\n" + filler(40, 0) + "r0 += 1\nexit", 0, "jmpq 0x8d", "e97c000000"},
		{"backward over 119 bytes shrinks", filler(39, 1) + "if r1 == 0 goto -41\nexit", 40, "je 0xc", "4885ff7484"},
		{"backward over 120 bytes stays rel32", filler(40, 0) + "if r1 == 0 goto -41\nexit", 40, "je 0xc", "4885ff0f847fffffff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, gnu := slotCode(t, Backend{}, tc.src, tc.slot, jit.Options{})
			if h != tc.hex || len(gnu) == 0 || gnu[len(gnu)-1] != tc.gnu {
				t.Errorf("code %s %q, want %s ..., %q", h, gnu, tc.hex, tc.gnu)
			}
		})
	}
}

// In padding passes (from PADDING_PASSES on) a jump that would shrink is
// padded to its previous size instead, with exactly the sizes the kernel
// accepts; anything else is the kernel's -EFAULT.
func TestPaddingForms(t *testing.T) {
	c := &compiler{p: &core.Program{Name: "p"}}
	c.fs = &funcState{padding: true, f: &core.Func{}}
	for _, tc := range []struct {
		prev, emitted, off int // previous size of the insn, bytes before the jump
		cond               bool
		nops, jlen         int
		err                string
	}{
		{prev: 3 + 6, emitted: 3, off: 10, cond: true, nops: 4, jlen: 2},
		{prev: 3 + 2, emitted: 3, off: 10, cond: true, nops: 0, jlen: 2},
		{prev: 3 + 6, emitted: 3, off: 200, cond: true, nops: 0, jlen: 6},
		{prev: 3 + 5, emitted: 3, off: 10, cond: true, err: "unexpected jmp_cond padding: 3 bytes"},
		{prev: 5, off: 10, nops: 3, jlen: 2},
		{prev: 2, off: 10, nops: 0, jlen: 2},
		{prev: 6, off: 10, err: "unexpected jump padding: 4 bytes"},
	} {
		c.prevLen = tc.prev
		var nops, jlen int
		var err error
		if tc.cond {
			nops, jlen, err = c.condJmpForm(1, tc.off, tc.emitted)
		} else {
			nops, jlen, err = c.jmpForm(1, tc.off)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err %v, want %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || nops != tc.nops || jlen != tc.jlen {
			t.Errorf("%+v: nops %d, jlen %d, err %v", tc, nops, jlen, err)
		}
	}
	for prev, want := range map[int]int{0: 0, 2: 2, 5: 5, 3: -1} {
		c.prevLen = prev
		nops, err := c.jaNops(1)
		if want < 0 {
			if err == nil {
				t.Errorf("elided ja after %d bytes: no error", prev)
			}
		} else if err != nil || nops != want {
			t.Errorf("elided ja after %d bytes: %d nops, %v", prev, nops, err)
		}
	}
}

// Compiling is a pure function of the program and options, whatever was
// compiled before with the pooled buffers.
func TestCompileDeterministic(t *testing.T) {
	a := seedProgram(t)
	b := benchProgram(3000)
	opts := jit.Options{Scheme: core.Fixed, IBT: true}
	first := compile(t, a, opts)
	compile(t, b, jit.Options{Scheme: core.Legacy})
	again := compile(t, a, opts)
	if !bytes.Equal(first.Code, again.Code) || !slices.Equal(first.InsnOffsets, again.InsnOffsets) ||
		fmt.Sprint(first.Pokes, first.Funcs) != fmt.Sprint(again.Pokes, again.Funcs) {
		t.Errorf("recompiling gave a different image")
	}
}

// Image bookkeeping: functions tile the code, BodyStart is where the first
// slot's code starts, second ld_imm64 slots start where they end.
func TestImageLayout(t *testing.T) {
	img := compile(t, seedProgram(t), jit.Options{Scheme: core.Fixed, IBT: true})
	if img.Arch != "x86_64" || img.Base != mem.X86CodeBase || len(img.InsnOffsets) != 21 {
		t.Fatalf("arch %q base %#x offsets %d", img.Arch, img.Base, len(img.InsnOffsets))
	}
	want := []jit.Func{{Name: "entry", Start: 0, End: 0x5f, BodyStart: 0x23}, {Name: "subprog_tail", Start: 0x5f, End: 0xb2, BodyStart: 0x5f + 0x19}}
	if fmt.Sprint(img.Funcs) != fmt.Sprint(want) {
		t.Errorf("funcs %+v, want %+v", img.Funcs, want)
	}
	// entry: slot 1-2 is "r1 = ... ll" at 0x26..0x30; sub: 13-14 at 0x1c..0x26.
	for slot, off := range map[int]int{0: 0x23, 1: 0x26, 2: 0x30, 3: 0x30, 12: 0x5f + 0x19, 13: 0x5f + 0x1c, 14: 0x5f + 0x26, 15: 0x5f + 0x26, 19: 0x5f + 0x4e, 20: 0xb2} {
		if img.InsnOffsets[slot] != off {
			t.Errorf("InsnOffsets[%d] = %#x, want %#x", slot, img.InsnOffsets[slot], off)
		}
	}
}

func TestDumpText(t *testing.T) {
	img := compile(t, seedProgram(t), jit.Options{Scheme: core.Fixed, IBT: true})
	text := DumpText(img)
	for _, want := range []string{
		"entry:\n",
		"    0:  f3 0f 1e fa              endbr64\n",
		"; insn 0\n   23:  48 89 fb                 mov %rdi,%rbx\n",
		"; insn 7\n   3c:  48 8b 85 f0 ff ff ff     mov -0x10(%rbp),%rax\n   43:  e8 17 00 00 00           callq 0x5f\n",
		"subprog_tail:\n",
		"; insn 18\n   8d:",
		"   a8:  0f 1f 44 00 00           nopl (%rax,%rax)\n; insn 19\n   ad:  41 5d                    pop %r13\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dump lacks %q:\n%s", want, text)
		}
	}
}

// scan's volCount agrees with counting the volatile slots before each
// slot, in every function.
func TestVolCount(t *testing.T) {
	p := benchProgram(300)
	// Three functions, so that the counts start again at each.
	p.Funcs = []core.Func{{Name: "a", End: 100, StackDepth: 8}, {Name: "b", Start: 100, End: 200}, {Name: "c", Start: 200, End: 300}}
	for k := range p.Insns {
		if ins := &p.Insns[k]; ins.IsJump() && ins.JumpTarget(k) >= k/100*100+100 {
			ins.Off = 0 // no jump leaves its function
		}
	}
	p.Insns[99], p.Insns[199] = core.Insn{Op: core.JMP | core.Exit}, core.Insn{Op: core.JMP | core.Exit}
	c := &compiler{p: p, opts: jit.Options{Base: mem.X86CodeBase, HelperAddr: kernelHelpers}}
	if _, err := c.compile(); err != nil {
		t.Fatal(err)
	}
	for _, fs := range c.funcs {
		want := int32(0)
		vol := fs.volSlots
		for k := range fs.n {
			if got := c.volCount[fs.start+k]; got != want {
				t.Errorf("function %s, slot %d: %d volatile slots before, want %d", fs.f.Name, fs.start+k, got, want)
			}
			if len(vol) > 0 && int(vol[0]) == k {
				want++
				vol = vol[1:]
			}
		}
		if want == 0 {
			t.Errorf("function %s: no volatile slot", fs.f.Name)
		}
	}
}

// fastRun emits the same bytes as the emitters (emitInsn in the first
// pass) for every opcode it covers, across registers, immediates, offsets
// and both jcc forms (a jump by -1 is 128 bytes back, one by 2 is 128
// forward, as the first pass estimates), or leaves the insn to emitInsn.
func TestFastRunMatchesEmitters(t *testing.T) {
	imms := []int32{0, 1, -1, 127, 128, -129, -0x80000000}
	offs := []int16{0, 1, 2, -1, -128, 128, -0x8000}
	fast, declined := 0, 0
	for op := range 256 {
		if fastForms[op].form() == fastNone {
			continue
		}
		for dst := core.R0; dst <= core.R10; dst++ {
			for src := core.R0; src <= core.R10; src++ {
				for _, imm := range imms {
					for _, off := range offs {
						ins := core.Insn{Op: uint8(op), Dst: dst, Src: src, Off: off, Imm: imm}
						if fastForms[op].form() >= fastJmpX && off < -1 {
							continue // scan rejects a jump before the function
						}
						c := &compiler{p: &core.Program{Insns: []core.Insn{ins}}, firstPass: true,
							fs: &funcState{n: 1, addrs: make([]int, 2)}, a: asm{b: make([]byte, 2*asmSize)}}
						c.kind = make([]uint8, 1)
						b, kind := make([]byte, 4*asmSize), make([]uint8, 1)
						k, n := fastRun([]core.Insn{ins}, make([]int, 2), kind, b, 0, 0)
						if k == 0 {
							declined++
							continue
						}
						fast++
						if err := c.emitInsn(1, &ins); err != nil {
							t.Fatalf("%+v: fastRun emitted % x, emitInsn: %v", ins, b[:n], err)
						}
						if want := c.a.bytes(); !bytes.Equal(b[:n], want) {
							t.Fatalf("%+v: fastRun emitted % x, emitInsn % x", ins, b[:n], want)
						}
						if kind[0] != c.kind[0] {
							t.Fatalf("%+v: fastRun's kind %#x, emitInsn's %#x", ins, kind[0], c.kind[0])
						}
					}
				}
			}
		}
	}
	// Reserved offsets of ALU insns are emitInsn's to reject.
	if fast == 0 || declined == 0 {
		t.Errorf("fastRun emitted %d insns and declined %d: want some of both", fast, declined)
	}
}
