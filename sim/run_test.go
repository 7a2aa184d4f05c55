package sim_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"jitsim/core"
	"jitsim/core/asm"
	"jitsim/core/mem"
	"jitsim/sim"
)

// ctxOf is an input of n bytes 0, 1, 2, ...
func ctxOf(n int) core.Input {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return core.Input{Ctx: b}
}

// Every fault names the BPF instruction and its source line exactly as the
// interpreter does; the fragment checks that the case faults where it is
// meant to (the interpreter's text, written out).
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		in        core.Input
		frag      string
	}{
		{"load through a null context", "r0 = *(u32 *)(r1 + 0)\nexit", core.Input{},
			"t.s:1:1 (insn 0): run: load of 4 bytes at 0x0: memory fault"},
		{"second load of a block", "r2 = *(u64 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4096)\nr0 = r2\nexit", ctxOf(8),
			"t.s:2:1 (insn 1): run: load of 4 bytes at 0xffff888100001000: memory fault"},
		{"base register moved since an earlier load", "r1 += 4096\nr0 = *(u32 *)(r1 - 8)\nr2 = *(u32 *)(r1 + 0)\nexit", ctxOf(64),
			"t.s:3:1 (insn 2): run: load of 4 bytes at 0xffff888100001000: memory fault"},
		{"earlier load of the block matches the registers too", "r2 = *(u32 *)(r1 + 0)\nr1 += 4096\nr3 = *(u32 *)(r1 + 0)\nr0 = r2\nexit", ctxOf(8),
			"t.s:3:1 (insn 2): run: load of 4 bytes at 0xffff888100001000: memory fault"},
		{"later load of the block matches the registers too", "r3 = *(u32 *)(r1 + 4096)\nr2 = *(u32 *)(r1 + 4096)\nr0 = r2\nexit", ctxOf(8),
			"t.s:1:1 (insn 0): run: load of 4 bytes at 0xffff888100001000: memory fault"},
		{"store straddling the end of the context", "r2 = 1\n*(u64 *)(r1 + 4092) = r2\nr0 = 0\nexit", ctxOf(100),
			"t.s:2:1 (insn 1): run: store of 8 bytes at 0xffff888100000ffc: memory fault"},
		{"immediate store after a good one", "*(u32 *)(r1 + 0) = 7\n*(u8 *)(r1 - 1) = 7\nr0 = 0\nexit", ctxOf(16),
			"t.s:2:1 (insn 1): run: store of 1 bytes at 0xffff8880ffffffff: memory fault"},
		{"atomic add through null", "r2 = 1\nr1 = 0\nlock *(u64 *)(r1 + 0) += r2\nr0 = 0\nexit", core.Input{},
			"t.s:3:1 (insn 2): run: atomic access of 8 bytes at 0x0: memory fault"},
		{"cmpxchg past the context", "r0 = 0\nr2 = 1\nr0 = cmpxchg_64(r1 + 4096, r0, r2)\nexit", ctxOf(64),
			"t.s:3:1 (insn 2): run: atomic access of 8 bytes at 0xffff888100001000: memory fault"},
		{"fault in a subprogram", "r6 = 5\ncall f\nr0 = r6\nexit\nf:\nr0 = 1\nr0 = *(u64 *)(r0 + 16)\nexit", core.Input{},
			"t.s:7:1 (insn 5): run: load of 8 bytes at 0x11: memory fault"},
		{"fault after a helper returned", ".helpers conformance\nr6 = r1\nr1 = 3\ncall sqrti\nr0 = *(u8 *)(r6 + 0)\nexit", core.Input{},
			"t.s:5:1 (insn 3): run: load of 1 bytes at 0x0: memory fault"},
		{"helper writing past the context", ".helpers conformance\nr2 = 5000\ncall memfrob\nr0 = 0\nexit", ctxOf(100),
			"t.s:3:1 (insn 1): run: call memfrob: memfrob: write of 5000 bytes at 0xffff888100000000: memory fault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := load(t, tc.src)
			ref := agree(t, obj, tc.in, core.RunOptions{})
			if !strings.Contains(ref.err, "memory fault") || !strings.Contains(ref.err, tc.frag) {
				t.Errorf("interp: %v; want a memory fault with %q", ref, tc.frag)
			}
		})
	}
}

// A misaligned atomic faults on arm64 (an alignment fault) as on the
// interpreter. x86 "lock" instructions work on any address, so the x86
// engine runs it: the kernel's verifier never lets such a program reach a
// JIT, and jitsim does not add a check the x86 JIT does not have.
func TestMisalignedAtomic(t *testing.T) {
	for _, src := range []string{
		"r2 = 1\nr0 = 0\nr0 = cmpxchg_64(r1 + 4, r0, r2)\nexit",
		"r2 = 1\nlock *(u32 *)(r1 + 2) += r2\nr0 = 0\nexit",
		"r2 = 1\nr2 = atomic_fetch_add((u64 *)(r1 + 9), r2)\nr0 = 0\nexit",
	} {
		obj := load(t, src)
		ref := want(t, obj, ctxOf(16), core.RunOptions{})
		if !strings.Contains(ref.err, "is misaligned: memory fault") {
			t.Fatalf("interp: %v", ref)
		}
		for _, c := range configs {
			if c.arch != "arm64" {
				continue
			}
			if got := runOn(getEngine(t, c.name), obj, ctxOf(16), core.RunOptions{}); !got.equal(ref) {
				t.Errorf("%s: %v\ninterp: %v", c.name, got, ref)
			}
		}
	}
}

// After a fault, a budget stop, a helper error, an unwind or a timeout the
// next run starts clean: zero registers and stack, the new context.
func TestReuse(t *testing.T) {
	// clean reads a stack slot and a register nothing wrote, and the
	// context, so leftovers of the run before show.
	clean := load(t, "r0 = *(u64 *)(r10 - 8)\nr2 = *(u64 *)(r1 + 0)\nr0 += r2\nr0 += r7\nexit")
	dirty := map[string]string{
		"fault": "r7 = 77\n*(u64 *)(r10 - 8) = r7\n*(u64 *)(r1 + 0) = r7\nr0 = *(u64 *)(r7 + 0)\nexit",
		"budget": "r7 = 77\n*(u64 *)(r10 - 8) = r7\n*(u64 *)(r1 + 0) = r7\nloop:\nr0 += 1\ngoto loop\n" +
			"exit",
		"helper error": ".helpers conformance\nr7 = 77\n*(u64 *)(r10 - 8) = r7\nr2 = 4096\ncall memfrob\nexit",
		"unwind": ".helpers conformance\nr7 = 77\n*(u64 *)(r10 - 8) = r7\n*(u64 *)(r1 + 0) = r7\n" +
			"r1 = 0\ncall unwind\nr0 = 5\nexit",
		"callx": ".helpers conformance\nr7 = 77\n*(u64 *)(r10 - 8) = r7\nr2 = 99\ncallx r2\nexit",
	}
	in := core.Input{Ctx: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	for _, c := range configs {
		e := getEngine(t, c.name)
		for name, src := range dirty {
			obj := load(t, src)
			opts := core.RunOptions{Budget: 1000}
			ref := want(t, obj, in, opts)
			if got := runOn(e, obj, in, opts); !got.equal(ref) {
				t.Errorf("%s %s: %v\ninterp: %v", c.name, name, got, ref)
			}
			ref = want(t, clean, in, core.RunOptions{})
			if ref.r0 != 0x0807060504030201 {
				t.Fatalf("interp: %v, want r0 = the context's first qword", ref)
			}
			if got := runOn(e, clean, in, core.RunOptions{}); !got.equal(ref) {
				t.Errorf("%s after %s: %v\ninterp: %v", c.name, name, got, ref)
			}
		}
		// A timeout: the loop runs until the clock stops it.
		loop := load(t, "r7 = 77\n*(u64 *)(r10 - 8) = r7\nloop:\nr0 += 1\ngoto loop\nexit")
		if _, err := e.Run(loop, 0, in, core.RunOptions{Budget: math.MaxUint64, Timeout: 20 * time.Millisecond}); !errors.Is(err, core.ErrTimeout) {
			t.Errorf("%s: endless loop with a timeout: %v, want %v", c.name, err, core.ErrTimeout)
		}
		if got, ref := runOn(e, clean, in, core.RunOptions{}), want(t, clean, in, core.RunOptions{}); !got.equal(ref) {
			t.Errorf("%s after a timeout: %v\ninterp: %v", c.name, got, ref)
		}
	}
}

// The context region is exactly the input's pages on every run, as on the
// interpreter: a bigger input before does not leave memory mapped.
func TestContextSizes(t *testing.T) {
	obj := load(t, "r0 = *(u8 *)(r1 + 5000)\nexit")
	for _, n := range []int{8000, 100, 8000, 4097, 4096, 0, 12288} {
		in := ctxOf(n)
		if n == 0 {
			in = core.Input{}
		}
		agree(t, obj, in, core.RunOptions{})
	}
}

// Division and modulo edge cases: the backends' guards must give the
// interpreter's (RFC 9669) results, never a CPU exception.
func TestDivEdges(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"div64 by zero reg", "r0 = 7\nr1 = 0\nr0 /= r1\nexit"},
		{"div32 by zero with upper bits", "r0 = 7\nr1 = 1\nr1 <<= 32\nw0 /= w1\nexit"},
		{"mod64 by zero keeps dst", "r0 = -7\nr1 = 0\nr0 %= r1\nexit"},
		{"mod32 by zero truncates dst", "r0 = -7\nr1 = 0\nw0 %= w1\nexit"},
		{"sdiv64 INT_MIN by -1", "r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s/= r1\nexit"},
		{"sdiv64 INT_MIN by imm -1", "r0 = 0x8000000000000000 ll\nr0 s/= -1\nexit"},
		{"smod64 INT_MIN by -1", "r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s%= r1\nexit"},
		{"sdiv32 INT_MIN by -1", "w0 = 0x80000000\nw1 = -1\nw0 s/= w1\nexit"},
		{"smod32 INT_MIN by imm -1", "w0 = 0x80000000\nw0 s%= -1\nexit"},
		{"sdiv64 by zero", "r0 = -9\nr1 = 0\nr0 s/= r1\nexit"},
		{"smod64 by zero", "r0 = -9\nr1 = 0\nr0 s%= r1\nexit"},
		{"div64 of the max by 3", "r0 = -1\nr0 /= 3\nexit"},
		{"div by r0 itself", "r0 = 9\nr1 = 3\nr1 /= r0\nr0 = r1\nexit"},
		{"div with rdx as operand", "r0 = 100\nr3 = 7\nr0 /= r3\nr0 += r3\nexit"},
		{"mod with rdx as destination", "r3 = 100\nr2 = 7\nr3 %= r2\nr0 = r3\nexit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := agree(t, load(t, tc.src), core.Input{}, core.RunOptions{})
			if ref.err != "" {
				t.Errorf("interp: %v", ref)
			}
		})
	}
}

// The budget is exact: for every budget from 1 to one more than the program
// needs, each engine stops at the interpreter's instruction (or runs to the
// same end with the same count), through subprogram calls, helper calls, a
// loop, an ld_imm64 and a fault.
func TestBudgetSweep(t *testing.T) {
	src := `.helpers conformance
r6 = 0
r7 = 0x100000000 ll
loop:
r1 = r6
call sqrti
r7 += r0
call f
r6 += 1
if r6 < 5 goto loop
r0 = r7
exit
f:
r0 = 1
if r6 == 3 goto out
r0 = 2
exit
out:
exit
`
	obj := load(t, src)
	full := want(t, obj, core.Input{}, core.RunOptions{})
	if full.err != "" || full.insns < 50 {
		t.Fatalf("interp: %v", full)
	}
	for b := uint64(1); b <= full.insns+1; b++ {
		agree(t, obj, core.Input{}, core.RunOptions{Budget: b})
	}
	// A fault at the 4th instruction: budgets below it stop first.
	fault := load(t, "r0 = 1\nr0 += 2\nr1 = 0\nr0 = *(u64 *)(r1 + 0)\nexit")
	for b := uint64(1); b <= 6; b++ {
		agree(t, fault, core.Input{}, core.RunOptions{Budget: b})
	}
}

// An endless loop ends with core.ErrBudget naming the interpreter's
// instruction, the budget fully spent.
func TestEndlessLoop(t *testing.T) {
	obj := load(t, "r0 = 0\nloop:\nr0 += 1\ngoto loop\nexit")
	ref := agree(t, obj, core.Input{}, core.RunOptions{Budget: 100_001})
	if !strings.Contains(ref.err, "(insn 1): run: instruction budget exhausted (100001 instructions ran)") {
		t.Errorf("interp: %v", ref)
	}
	for _, c := range configs {
		_, err := getEngine(t, c.name).Run(obj, 0, core.Input{}, core.RunOptions{})
		var ce *core.Error
		if !errors.Is(err, core.ErrBudget) || !errors.As(err, &ce) || ce.Op != "run" || ce.Pos.Insn != 1 && ce.Pos.Insn != 2 {
			t.Errorf("%s with the default budget: %v", c.name, err)
		}
	}
}

func TestTimeout(t *testing.T) {
	obj := load(t, "r0 = 0\nloop:\nr0 += 1\nif r0 != 0 goto loop\nexit")
	for _, c := range configs {
		start := time.Now()
		_, err := getEngine(t, c.name).Run(obj, 0, core.Input{}, core.RunOptions{Budget: math.MaxUint64, Timeout: 30 * time.Millisecond})
		var ce *core.Error
		if !errors.Is(err, core.ErrTimeout) || !errors.As(err, &ce) || ce.Pos.Insn < 1 || ce.Pos.Insn > 2 {
			t.Errorf("%s: %v, want a timeout in the loop (insn 1 or 2)", c.name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: the timeout took %v", c.name, d)
		}
	}
}

// Helpers see the same memory and arguments as on the interpreter: memfrob
// changes the context in place, unwind stops from a subprogram, callx picks
// the helper by register.
func TestHelpers(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		in        core.Input
	}{
		{"memfrob on the context", ".helpers conformance\nr6 = r1\nr2 = 13\ncall memfrob\nr0 = *(u64 *)(r6 + 8)\nexit", ctxOf(16)},
		{"memfrob on the stack", ".helpers conformance\nr1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\ncall memfrob\nr0 = *(u64 *)(r10 - 8)\nexit", core.Input{}},
		{"gather_bytes takes five arguments", ".helpers conformance\nr1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncall gather_bytes\nexit", core.Input{}},
		{"strcmp_ext on the context", ".helpers conformance\nr6 = r1\nr2 = r1\nr2 += 8\ncall strcmp_ext\nexit", core.Input{Ctx: []byte("abcd\x00\x00\x00\x00abce\x00")}},
		{"helpers keep r6-r9", ".helpers conformance\nr6 = 6\nr7 = 7\nr8 = 8\nr9 = 9\nr1 = 16\ncall sqrti\nr0 += r6\nr0 += r7\nr0 += r8\nr0 += r9\nexit", core.Input{}},
		{"unwind from a subprogram", ".helpers conformance\nr0 = 3\ncall f\nr0 = 9\nexit\nf:\ncall g\nr0 = 8\nexit\ng:\nr1 = 0\ncall unwind\nr0 = 7\nexit", core.Input{}},
		{"unwind with a non-zero argument returns it", ".helpers conformance\nr1 = 4\ncall unwind\nr0 += 1\nexit", core.Input{}},
		{"callx sqrti", ".helpers conformance\nr1 = 81\nr2 = 3\ncallx r2\nexit", core.Input{}},
		{"callx an id inside the stub page", ".helpers conformance\nr1 = 81\nr2 = 100\ncallx r2\nexit", core.Input{}},
		{"callx an id past the stub page", ".helpers conformance\nr1 = 81\nr2 = 5000\ncallx r2\nexit", core.Input{}},
		{"callx -1", ".helpers conformance\nr1 = 81\nr2 = -1\ncallx r2\nexit", core.Input{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := load(t, tc.src)
			obj.Helpers = core.HelpersConformance
			agree(t, obj, tc.in, core.RunOptions{})
		})
	}
}

// Unknown helpers are rejected before the run, as the interpreter's decoder
// rejects them (analysis would reject them first; this program skips it).
func TestUnknownHelper(t *testing.T) {
	obj, err := asm.Parse("t.s", []byte(".helpers conformance\nr1 = 1\ncall 77\nexit"))
	if err != nil {
		t.Fatal(err)
	}
	ref := want(t, obj, core.Input{}, core.RunOptions{})
	if !strings.Contains(ref.err, "t.s:3:1 (insn 1): run: call to unknown helper 77 (conformance set)") {
		t.Fatalf("interp: %v", ref)
	}
	for _, c := range configs {
		if got := runOn(getEngine(t, c.name), obj, core.Input{}, core.RunOptions{}); !got.equal(ref) {
			t.Errorf("%s: %v\ninterp: %v", c.name, got, ref)
		}
	}
}

// r10 of the entry frame is mem.StackTop on every engine, so a program's
// stack addresses compare bit for bit.
func TestFramePointer(t *testing.T) {
	for _, src := range []string{
		"r0 = r10\nexit",
		"r6 = 1\nr7 = 2\nr8 = 3\nr0 = r10\nr0 += r6\nr0 += r7\nr0 += r8\nr0 -= 6\nexit",
		"r9 = 1\n*(u64 *)(r10 - 512) = r9\nr0 = r10\nexit",
	} {
		ref := agree(t, load(t, src), core.Input{}, core.RunOptions{})
		if ref.r0 != mem.StackTop {
			t.Errorf("%q: interp r0 %#x, want StackTop %#x", src, ref.r0, uint64(mem.StackTop))
		}
	}
}

// Every option set JITs and runs the conformance programs the same: IBT's
// endbr64, BTI's landing pads and PAC's signing are hints the CPU runs.
func TestOptions(t *testing.T) {
	obj := load(t, ".helpers conformance\nr6 = r1\nr1 = 49\ncall f\nr0 += 1\nexit\nf:\ncall sqrti\nexit")
	ref := want(t, obj, core.Input{}, core.RunOptions{})
	for _, tc := range []struct {
		arch string
		opts sim.Options
	}{
		{"x86_64", sim.Options{IBT: true}},
		{"arm64", sim.Options{LSE: true, BTI: true, PAC: true}},
		{"arm64", sim.Options{BTI: true}},
	} {
		e, err := sim.New(tc.arch, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, scheme := range []core.Scheme{core.Fixed, core.Legacy} {
			ref := ref
			if scheme == core.Legacy {
				ref = want(t, obj, core.Input{}, core.RunOptions{Scheme: scheme})
			}
			if got := runOn(e, obj, core.Input{}, core.RunOptions{Scheme: scheme}); !got.equal(ref) {
				t.Errorf("%s %+v %v: %v\ninterp: %v", tc.arch, tc.opts, scheme, got, ref)
			}
		}
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestNew(t *testing.T) {
	if _, err := sim.New("riscv64"); err == nil || !strings.Contains(err.Error(), `unknown architecture "riscv64"`) {
		t.Errorf("New(riscv64): %v", err)
	}
	e := getEngine(t, "x86_64")
	if e.Name() != "x86_64" || getEngine(t, "arm64").Name() != "arm64" {
		t.Errorf("names %q %q", e.Name(), getEngine(t, "arm64").Name())
	}
	if _, err := e.Run(nil, 0, core.Input{}, core.RunOptions{}); err == nil || !strings.Contains(err.Error(), "no program 0") {
		t.Errorf("Run(nil): %v", err)
	}
	c, err := sim.New("arm64")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(load(t, "r0 = 0\nexit"), 0, core.Input{}, core.RunOptions{}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run after Close: %v", err)
	}
}
