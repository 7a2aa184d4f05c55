package main

import (
	"fmt"
	"strings"
	"testing"

	"jitsim/core/mem"
)

const seedDemo = "../../conformance/testdata/tailcall/seed_demo.data"

// T is r10 of the entry frame on every engine: rbp of the entry program
// on x86-64.
const T = uint64(mem.StackTop)

// slotRow is one stack slot as "jitsim frames" draws it.
func slotRow(addr, val uint64, what string) string {
	return fmt.Sprintf("%18s  | %-18s |  %s\n", fmt.Sprintf("%#x", addr), fmt.Sprintf("%#x", val), what)
}

func frames(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := jitsim(t, append([]string{"frames"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

// The seed's demo at its deepest tail call. Fixed: the first chain's 33rd
// tail call (the second chain's first attempt finds the count at 33), made
// at depth 33 (entry calls subprog_tailcall, each classifier_01 calls
// subprog_tail_01, each tail call from a subprogram keeps one more frame).
// The frames follow from emit_prologue (6.11+): the entry frame holds
// rbp, tcc at [rbp-8] (no BPF stack: rsd 0), tcc_ptr at [rbp-16], rbx;
// each classifier_01 frame below takes 40 bytes (return address, rbp,
// two tcc_ptr copies since rax > 33 on entry from a subprogram, rbx), so
// frame d's rbp is T - 40d, and every tcc_ptr is T-8.
func TestFramesX86Fixed(t *testing.T) {
	out := frames(t, "-arch", "x86_64", "-tcc", "fixed", seedDemo)
	rbp33 := T - 40*33
	inOrder(t, "x86 fixed", out, []string{
		"# x86_64, tcc fixed: at classifier_01 insn 0 (",
		"after tail call 33 of 33: classifier_01 -> classifier_01, slot 0, depth 33, count 32 -> 33\n",
		fmt.Sprintf("rbp %#x  rax %#x  r10 %#x\n", rbp33, T-8, rbp33),
		slotRow(T, 0, "saved rbp (the kernel's)  [rbp]"),
		fmt.Sprintf("<- rbp %#x  frame 0: entry (main)\n", T),
		slotRow(T-8, 33, "tcc = 33  [rbp-8]"),
		slotRow(T-16, T-8, "tcc_ptr -> the count in frame 0  [rbp-16]"),
		slotRow(T-24, 0, "saved rbx (r6)  [rbp-24]"),
		slotRow(T-40, T, "saved rbp -> frame 0  [rbp]"),
		fmt.Sprintf("<- rbp %#x  frame 1: classifier_01 (main), by tail call into subprog_tailcall's frame\n", T-40),
		slotRow(T-48, T-8, "tcc_ptr -> the count in frame 0 (rax > 33 at entry: a tail call from a subprogram)  [rbp-8]"),
		slotRow(T-56, T-8, "tcc_ptr -> the count in frame 0  [rbp-16]"),
		"frames 3 to 31: 29 frames (-all draws them)\n",
		slotRow(rbp33, rbp33+40, "saved rbp -> frame 32  [rbp]"),
		fmt.Sprintf("<- rbp %#x  frame 33: classifier_01 (main), by tail call into subprog_tail_01's frame\n", rbp33),
		slotRow(rbp33-16, T-8, "tcc_ptr -> the count in frame 0  [rbp-16]"),
		fmt.Sprintf("<- rsp %#x\n", rbp33-24),
		fmt.Sprintf("# the run's one count: 33 at %#x\n", T-8),
	})
	if n := strings.Count(frames(t, "-arch", "x86_64", "-all", seedDemo), "<- rbp "); n != 34 {
		t.Errorf("-all draws %d frames, want 34", n)
	}
}

// Legacy: the deepest tail calls are at depth 33 in both chains; the last
// is the second chain's (classifier_23, tail call 66), made while the
// entry frame's own count is still 0. Each frame has one count slot (the
// pushed rax; the JIT's dword is its upper half, at rbp-4), so frames are
// 32 bytes apart: rbp of frame d is T - 32d, and its count is d.
func TestFramesX86Legacy(t *testing.T) {
	out := frames(t, "-arch", "x86_64", "-tcc", "legacy", seedDemo)
	inOrder(t, "x86 legacy", out, []string{
		"after tail call 66 of 66: classifier_23 -> classifier_23, slot 2, depth 33, count 32 -> 33\n",
		slotRow(T-8, 0, "tcc = 0 (the dword at rbp-4)  [rbp-8]"),
		fmt.Sprintf("<- rbp %#x  frame 1: classifier_23 (main), by tail call into subprog_tailcall's frame\n", T-32),
		slotRow(T-40, 1<<32, "tcc = 1 (the dword at rbp-4)  [rbp-8]"),
		slotRow(T-72, 2<<32, "tcc = 2 (the dword at rbp-4)  [rbp-8]"),
		slotRow(T-32*32-8, 32<<32, "tcc = 32 (the dword at rbp-4)  [rbp-8]"),
		slotRow(T-32*33-8, 33<<32, "tcc = 33 (the dword at rbp-4)  [rbp-8]"),
		fmt.Sprintf("<- rsp %#x\n", T-32*33-16),
	})
	if strings.Contains(out, "one count") {
		t.Errorf("legacy has no shared count:\n%s", out)
	}
}

// arm64, fixed (Linux 6.11+ with the used-registers rework): the entry
// frame is the frame record, the count slot (stp xzr, x26) and x19 paired
// with xzr: 48 bytes, so its x29 is T+32 and the count is at T+16, where
// x26 points in every frame. Each classifier_01 frame takes 48 bytes: the
// record, x26 twice (pushed by the subprogram that made the frame), x19
// with xzr; frame 1's x29 is T-16 (below entry's last pair at T).
func TestFramesArm64Fixed(t *testing.T) {
	out := frames(t, "-arch", "arm64", "-tcc", "fixed", seedDemo)
	fp := func(d uint64) uint64 { return T - 16 - 48*(d-1) }
	inOrder(t, "arm64 fixed", out, []string{
		"after tail call 33 of 33: classifier_01 -> classifier_01, slot 0, depth 33, count 32 -> 33\n",
		fmt.Sprintf("x29 %#x  x26 %#x", fp(33), T+16),
		fmt.Sprintf("<- x29 %#x  frame 0: entry (main)\n", T+32),
		slotRow(T+24, 0, "saved x26 (the caller's)  [x29-8]"),
		slotRow(T+16, 33, "tail_call_cnt = 33  [x29-16]"),
		slotRow(T+8, 0, "xzr (pads the odd register)  [x29-24]"),
		slotRow(T, 0, "saved x19 (r6)  [x29-32]"),
		fmt.Sprintf("<- x29 %#x  frame 1: classifier_01 (main), by tail call into subprog_tailcall's frame\n", fp(1)),
		slotRow(fp(1)-8, T+16, "x26 = tcc_ptr -> the count in frame 0  [x29-8]"),
		fmt.Sprintf("<- x29 %#x  frame 33: classifier_01 (main), by tail call into subprog_tail_01's frame\n", fp(33)),
		slotRow(fp(33)-16, T+16, "x26 = tcc_ptr -> the count in frame 0 (a subprogram pushes x26 twice)  [x29-16]"),
		fmt.Sprintf("<- sp %#x\n", fp(33)-32),
		fmt.Sprintf("# the run's one count: 33 at %#x\n", T+16),
	})
}

// arm64, legacy (before 66ff4d61dc12): every frame pushes the record and
// four pairs (80 bytes), x25 = x29-64; the count lives in x26, and each
// callee saves its caller's at [x29-40]. Entry's x29 is T+64, frame d's
// T-16-80(d-1); frame 1 saved entry's count 0, frame d saved d-1, and x26
// holds the innermost frame's 33.
func TestFramesArm64Legacy(t *testing.T) {
	out := frames(t, "-arch", "arm64", "-tcc", "legacy", seedDemo)
	fp := func(d uint64) uint64 { return T - 16 - 80*(d-1) }
	inOrder(t, "arm64 legacy", out, []string{
		"after tail call 66 of 66: classifier_23 -> classifier_23, slot 2, depth 33, count 32 -> 33\n",
		fmt.Sprintf("<- x29 %#x  frame 0: entry (main)\n", T+64),
		slotRow(fp(1)-40, 0, "saved x26: tcc of frame 0 = 0  [x29-40]"),
		slotRow(fp(1)-48, T, "saved x25 (r10)  [x29-48]"),
		slotRow(fp(2)-40, 1, "saved x26: tcc of frame 1 = 1  [x29-40]"),
		slotRow(fp(33)-40, 32, "saved x26: tcc of frame 32 = 32  [x29-40]"),
		fmt.Sprintf("<- sp %#x\n", fp(33)-64),
		"# x26 = 33: the count of frame 33, live in the register",
	})
}

// The interpreter's frames: r10 MAX_BPF_STACK apart, the program each
// frame runs and its count, from the trace.
func TestFramesInterp(t *testing.T) {
	out := frames(t, "-arch", "interp", "-tcc", "legacy", seedDemo)
	inOrder(t, "interp legacy", out, []string{
		"# interp, tcc legacy: after tail call 66 of 66: classifier_23 -> classifier_23, slot 2, depth 33, count 32 -> 33\n",
		fmt.Sprintf("frame 0: r10 %#x  entry  tcc = 0\n", T),
		fmt.Sprintf("frame 1: r10 %#x  classifier_23  tcc = 1\n", T-512),
		fmt.Sprintf("frame 33: r10 %#x  classifier_23  tcc = 33\n", T-512*33),
	})
	out = frames(t, "-arch", "interp", "-tcc", "fixed", seedDemo)
	inOrder(t, "interp fixed", out, []string{
		"after tail call 33 of 33: classifier_01 -> classifier_01, slot 0, depth 33, count 32 -> 33\n",
		fmt.Sprintf("frame 0: r10 %#x  entry  shares the run's count (33)\n", T),
		fmt.Sprintf("frame 33: r10 %#x  classifier_01  shares the run's count (33)\n", T-512*33),
	})
}

// -at stops before a given instruction: subprog_tailcall's tail call, the
// first time (x86: its frame holds the 4-byte retval in an 8-byte BPF
// stack, then tcc_ptr twice; the count is still 0) and the second time
// (arm64: the second chain's attempt, the count already 33; r10 = x25 =
// x29-32, below the record, the x26 pair and x25 paired with xzr; the BPF
// stack, 4 bytes rounded to 16, under it).
func TestFramesAt(t *testing.T) {
	out := frames(t, "-arch", "x86_64", "-at", "entry:12", seedDemo)
	inOrder(t, "x86 -at", out, []string{
		"# x86_64, tcc fixed: before entry insn 12 (",
		fmt.Sprintf("<- rbp %#x  frame 1: subprog_tailcall\n", T-40),
		slotRow(T-48, 0, "BPF stack r10-8  [rbp-8]"),
		slotRow(T-56, T-8, "tcc_ptr -> the count in frame 0 (a subprogram pushes rax twice)  [rbp-16]"),
		slotRow(T-64, T-8, "tcc_ptr -> the count in frame 0  [rbp-24]"),
		fmt.Sprintf("<- rsp %#x\n", T-64),
		fmt.Sprintf("# the run's one count: 0 at %#x\n", T-8),
	})
	out = frames(t, "-arch", "arm64", "-at", "entry:12:2", seedDemo)
	inOrder(t, "arm64 -at", out, []string{
		"before entry insn 12 (",
		"), hit 2\n",
		fmt.Sprintf("x29 %#x  x26 %#x  r10 %#x\n", T-16, T+16, T-48),
		fmt.Sprintf("<- x29 %#x  frame 1: subprog_tailcall\n", T-16),
		slotRow(T-48, 0, "saved x25 (r10)  [x29-32]"), // the caller's: entry never set r10
		"BPF stack r10-8  [x29-40]\n",
		"BPF stack r10-16  [x29-48]\n",
		fmt.Sprintf("<- sp %#x\n", T-64),
		fmt.Sprintf("# the run's one count: 33 at %#x\n", T+16),
	})
}

func TestFramesErrors(t *testing.T) {
	noTail := writeFile(t, "p.s", "r0 = 7\nexit\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-arch", "x86_64", noTail}, 1, "jitsim frames: the run made no tail call (r0 = 0x7): pick a moment with -at PROG:INSN"},
		{[]string{"-arch", "x86_64", "-at", "entry", seedDemo}, 2, `jitsim frames: -at "entry": want PROG:INSN or PROG:INSN:HIT`},
		{[]string{"-arch", "x86_64", "-at", "entry:1:0", seedDemo}, 2, `jitsim frames: -at "entry:1:0": INSN must be a slot number and HIT a count from 1`},
		{[]string{"-arch", "x86_64", "-at", "entry:11", seedDemo}, 2, "entry has no instruction 11 (15 slots; an ld_imm64's second slot is not one)"},
		{[]string{"-arch", "x86_64", "-at", "nosuch:0", seedDemo}, 2, "program nosuch is not in this run's images"},
		{[]string{"-arch", "arm64", "-at", "entry:12:3", seedDemo}, 1, "the run ended (r0 = 0x0, 33 tail calls) before reaching"},
		{[]string{"-arch", "interp", "-at", "entry:12", seedDemo}, 2, "jitsim frames: -at needs a JIT"},
		{[]string{"-arch", "interp", "-ibt", seedDemo}, 2, "jitsim frames: -ibt is a JIT option"},
	} {
		code, _, errOut := jitsim(t, append([]string{"frames"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
