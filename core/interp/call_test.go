package interp_test

import (
	"errors"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/interp"
	"jitsim/core/mem"
)

const (
	r4 = core.R4
	r5 = core.R5
	r7 = core.R7
	r8 = core.R8
	r9 = core.R9
)

// Conformance helper ids (shared/bpf_conformance/README.md).
const (
	gatherBytes = 0
	memfrob     = 1
	noOp        = 2
	sqrti       = 3
	strcmpExt   = 4
	unwind      = 5
)

// TestHelpers: the conformance suite's helpers called from a program.
func TestHelpers(t *testing.T) {
	// "abc" and "abd" as little-endian words with their NUL.
	abc, abd, b := int32(0x00636261), int32(0x00646261), int32(0x62)
	strcmp := func(s1, s2 int32) []core.Insn {
		return prog(
			st(core.W, r10, -8, s1), st(core.W, r10, -16, s2),
			alu64x(core.Mov, r1, r10), alu64(core.Add, r1, -8),
			alu64x(core.Mov, r2, r10), alu64(core.Add, r2, -16),
			call(strcmpExt), exit())
	}
	runR0Cases(t, []r0Case{
		{"gather_bytes keeps the low byte of each", prog(
			mov(r1, 0x1aa), mov(r2, 0xbb), mov(r3, 0xcc), mov(r4, 0xdd), mov(r5, 0x1ee),
			call(gatherBytes), exit()), 0xaabbccddee},
		{"no_op returns 0", prog(mov(r0, 5), call(noOp), exit()), 0},
		{"sqrti exact square", prog(mov(r1, 1000000), call(sqrti), exit()), 1000},
		{"sqrti rounds down", prog(mov(r1, 999999), call(sqrti), exit()), 999},
		{"sqrti of 2^64-1", prog(mov(r1, -1), call(sqrti), exit()), 0xffffffff},
		{"sqrti of 2^62 + 2^32 (past float64 precision)", prog(ldImm64(r1, 1<<62+1<<32), call(sqrti), exit()), 1 << 31},
		{"strcmp less", strcmp(abc, abd), 0xffffffffffffffff},
		{"strcmp equal", strcmp(abc, abc), 0},
		{"strcmp longer", strcmp(abc, b), 0xffffffffffffffff}, // 'a' - 'b'
		{"strcmp greater", strcmp(b, abc), 1},
		{"unwind with nonzero returns it and goes on", prog(mov(r1, 7), call(unwind), alu64(core.Add, r0, 1), exit()), 8},
		{"unwind with zero stops with r0 = 0", prog(mov(r1, 0), call(unwind), mov(r0, 9), exit()), 0},
		{"callx calls the helper whose id is in dst", prog(
			mov(r1, 1), mov(r2, 2), mov(r3, 3), mov(r4, 4), mov(r5, 5), mov(r6, gatherBytes),
			callx(r6), exit()), 0x0102030405},
		{"callx unwind", prog(mov(r1, 0), mov(r7, unwind), callx(r7), mov(r0, 9), exit()), 0},
		// callx.data from the suite: unwind(-1) returns -1 and the program goes on.
		{"callx conformance case", prog(mov(r1, -1), mov(r2, 5), callx(r2), mov(r0, 2), exit()), 2},
	})
}

func TestMemfrob(t *testing.T) {
	res, err := run(t, prog(mov(r2, 3), call(memfrob), exit()), []byte("abcd"))
	if err != nil {
		t.Fatal(err)
	}
	// 'a' ^ 42 = 'K', 'b' ^ 42 = 'H', 'c' ^ 42 = 'I'; 'd' is past n.
	if res.R0 != 0 || string(res.Ctx) != "KHId" {
		t.Fatalf("r0 %#x ctx %q; want 0, \"KHId\"", res.R0, res.Ctx)
	}
}

// TestUnwindInsns: unwind stops at once: the instructions after the call
// do not run (the call itself is the last one counted), from any depth.
func TestUnwindInsns(t *testing.T) {
	res, err := run(t, prog(
		mov(r0, 3),   // 0
		callLocal(1), // 1 -> 3
		exit(),       // 2
		mov(r1, 0),   // 3
		call(unwind), // 4
		mov(r0, 7),   // 5
		exit(),       // 6
	), nil)
	if err != nil || res.R0 != 0 || res.Insns != 4 {
		t.Fatalf("res %+v err %v; want r0 0 after 4 insns", res, err)
	}
}

// TestHelperErrors: helper faults and unknown helpers name the call.
func TestHelperErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   core.HelperSet
		insns []core.Insn
		is    error
		want  string
	}{
		{"memfrob outside memory", core.HelpersConformance, prog(mov(r1, 16), mov(r2, 4), call(memfrob), exit()), core.ErrFault,
			"test: test.s:3 (insn 2): run: call memfrob: memfrob: write of 4 bytes at 0x10: memory fault"},
		{"strcmp of a string without NUL in its region", core.HelpersConformance, prog(
			alu64x(core.Mov, r1, r10), alu64(core.Add, r1, 4095), st(core.B, r1, 0, 'x'),
			alu64x(core.Mov, r2, r1), call(strcmpExt), exit()), core.ErrFault,
			"test: test.s:5 (insn 4): run: call strcmp_ext: strcmp_ext: string at 0xffffc9000000ffff runs past the end of stack at 0xffffc90000010000: memory fault"},
		{"callx of an unknown id", core.HelpersConformance, prog(mov(r3, 77), callx(r3), exit()), nil,
			"test: test.s:2 (insn 1): run: callx r3: no helper 77 in the conformance set"},
		{"callx of a huge id", core.HelpersConformance, prog(mov(r3, -1), callx(r3), exit()), nil,
			"test: test.s:2 (insn 1): run: callx r3: no helper 18446744073709551615 in the conformance set"},
		{"unknown conformance helper", core.HelpersConformance, prog(call(6), exit()), nil,
			"test: test.s:1 (insn 0): run: call to unknown helper 6 (conformance set)"},
		{"kernel helper not modelled yet", core.HelpersKernel, prog(call(26), exit()), core.ErrUnsupported,
			"test: test.s:1 (insn 0): run: call bpf_skb_load_bytes: not supported"},
		{"map helper without a map", core.HelpersKernel, prog(call(1), exit()), core.ErrFault,
			"test: test.s:1 (insn 0): run: call bpf_map_lookup_elem: bpf_map_lookup_elem: r1 = 0x0 is not a map (the verifier passes only a map pointer): memory fault"},
		{"kernel helper id unknown", core.HelpersKernel, prog(call(100000), exit()), nil,
			"test: test.s:1 (insn 0): run: call to unknown helper 100000 (kernel set)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := interp.New()
			defer e.Close()
			_, err := e.Run(withPos(object(tc.set, tc.insns)), 0, core.Input{}, core.RunOptions{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err %v does not wrap %v", err, tc.is)
			}
		})
	}
}

// TestKernelHelpers: the kernel set's ktime, prandom and trace_printk as a
// program sees them.
func TestKernelHelpers(t *testing.T) {
	e := interp.New()
	defer e.Close()
	ktime := object(core.HelpersKernel, prog(call(5), alu64x(core.Mov, r6, r0), call(5), alu64x(core.Sub, r0, r6), exit()))
	for range 2 { // the clock starts over every run
		res, err := e.Run(ktime, 0, core.Input{}, core.RunOptions{})
		if err != nil || res.R0 != 1000 {
			t.Fatalf("ktime delta: %v %v; want 1000", res, err)
		}
	}
	// "n=%d\n\0" = 6e 3d 25 64 0a 00
	printk := object(core.HelpersKernel, prog(
		st(core.W, r10, -8, 0x64253d6e), st(core.H, r10, -4, 0x000a),
		alu64x(core.Mov, r1, r10), alu64(core.Add, r1, -8), mov(r2, 6), mov(r3, -5),
		call(6), exit()))
	res, err := e.Run(printk, 0, core.Input{}, core.RunOptions{})
	if err != nil || res.R0 != 5 || string(e.Env().Printk) != "n=-5\n" {
		t.Fatalf("printk: r0 %v err %v out %q; want 5, \"n=-5\\n\"", res, err, e.Env().Printk)
	}
}

// TestLocalCall: bpf-to-bpf calls: arguments in r1-r5, result in r0, r6-r9
// restored for the caller, a fresh 512-byte frame below the caller's.
func TestLocalCall(t *testing.T) {
	runR0Cases(t, []r0Case{
		{"arguments and result", prog(
			mov(r1, 1), mov(r2, 2), mov(r3, 3), mov(r4, 4), mov(r5, 5),
			callLocal(1), // 5 -> 7
			exit(),
			mov(r0, 0), alu64x(core.Add, r0, r1), alu64x(core.Add, r0, r2), alu64x(core.Add, r0, r3),
			alu64x(core.Add, r0, r4), alu64x(core.Add, r0, r5), exit()), 15},
		{"r6-r9 are restored", prog(
			mov(r6, 6), mov(r7, 7), mov(r8, 8), mov(r9, 9),
			callLocal(6), // 4 -> 11
			mov(r0, 0), alu64x(core.Add, r0, r6), alu64x(core.Add, r0, r7), alu64x(core.Add, r0, r8), alu64x(core.Add, r0, r9),
			exit(),
			mov(r6, 100), mov(r7, 100), mov(r8, 100), mov(r9, 100), exit()), 30},
		{"callee r10 is 512 below the caller's and restored", prog(
			callLocal(2), // 0 -> 3
			alu64x(core.Sub, r0, r10),
			exit(),
			alu64x(core.Mov, r0, r10), exit()), 0xfffffffffffffe00},
		{"entry r10 is StackTop", prog(alu64x(core.Mov, r0, r10), exit()), mem.StackTop},
		{"callee frame does not overlap the caller's", prog(
			st(core.DW, r10, -8, 1),
			callLocal(2), // 1 -> 4
			ldx(core.DW, r0, r10, -8),
			exit(),
			st(core.DW, r10, -8, 2), exit()), 1},
		{"callee writes the caller's stack through a pointer", prog(
			alu64x(core.Mov, r1, r10), alu64(core.Add, r1, -8),
			callLocal(2), // 2 -> 5
			ldx(core.DW, r0, r10, -8),
			exit(),
			st(core.DW, r1, 0, 77), exit()), 77},
		{"seven nested calls fit", recursion(7), 7},
	})
}

// recursion calls itself until r0 reaches limit: limit nested frames
// below the entry program.
func recursion(limit int32) []core.Insn {
	return prog(
		mov(r0, 0),                            // 0
		callLocal(1),                          // 1 -> 3
		exit(),                                // 2
		alu64(core.Add, r0, 1),                // 3
		jmp(core.JMP, core.JGE, r0, limit, 1), // 4 -> 6
		callLocal(-3),                         // 5 -> 3
		exit(),                                // 6
	)
}

func TestCallDepth(t *testing.T) {
	e := interp.New()
	defer e.Close()
	_, err := e.Run(withPos(object(core.HelpersConformance, recursion(8))), 0, core.Input{}, core.RunOptions{})
	const want = "test: test.s:6 (insn 5): run: call nests deeper than 8 frames"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	// Unbounded recursion stops at the same place.
	_, err = e.Run(withPos(object(core.HelpersConformance, prog(callLocal(-1), exit()))), 0, core.Input{}, core.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "(insn 0): run: call nests deeper than 8 frames") {
		t.Fatalf("err = %v", err)
	}
}
