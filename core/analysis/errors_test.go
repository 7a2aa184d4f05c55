package analysis_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
)

func ld64(dst, src core.Reg, imm uint64) []core.Insn {
	p := core.LdImm64(dst, src, imm)
	return p[:]
}

func cat(parts ...any) []core.Insn {
	var out []core.Insn
	for _, p := range parts {
		switch p := p.(type) {
		case core.Insn:
			out = append(out, p)
		case []core.Insn:
			out = append(out, p...)
		}
	}
	return out
}

var testMaps = []*core.Map{
	{Name: "h", Type: core.MapHash, KeySize: 4, ValueSize: 8, MaxEntries: 4},
	{Name: "one", Type: core.MapArray, KeySize: 4, ValueSize: 16, MaxEntries: 1},
	{Name: "two", Type: core.MapArray, KeySize: 4, ValueSize: 16, MaxEntries: 2},
	{Name: "jmp", Type: core.MapProgArray, KeySize: 4, ValueSize: 4, MaxEntries: 4},
}

const (
	mapH = iota
	mapOne
	mapTwo
	mapJmp
)

func helper(id int32) core.Insn { return ins(core.JMP|core.Call, 0, 0, 0, id) }

// TestErrors: every check, with its message and the instruction it names.
func TestErrors(t *testing.T) {
	const (
		kern = core.HelpersKernel
		conf = core.HelpersConformance
	)
	alu64 := func(op uint8, dst core.Reg, imm int32) core.Insn { return ins(core.ALU64|op|core.K, dst, 0, 0, imm) }
	stdw := func(off int16) core.Insn { return ins(core.ST|core.MEM|core.DW, core.R10, 0, off, 0) }
	for _, tc := range []struct {
		name    string
		helpers core.HelperSet
		typ     core.ProgType
		insns   []core.Insn
		at      int // instruction the error names
		msg     string
		unsupp  bool // wraps core.ErrUnsupported
	}{
		{"empty program", kern, 0, nil, -1, "the program has no instructions", false},

		// Opcodes outside RFC 9669's set.
		{"ALU op 0xe0", kern, 0, cat(ins(core.ALU64|0xe0, 0, 0, 0, 0), exit), 0, "unknown opcode 0xe7", false},
		{"LDX with mode IMM", kern, 0, cat(ins(core.LDX|core.IMM|core.W, 0, 1, 0, 0), exit), 0, "unknown opcode 0x01 (LDX takes modes MEM and MEMSX only)", false},
		{"sign-extending 64-bit load", kern, 0, cat(ins(core.LDX|core.MEMSX|core.DW, 0, 1, 0, 0), exit), 0, "unknown opcode 0x99", false},
		{"ST with mode ATOMIC", kern, 0, cat(ins(core.ST|core.ATOMIC|core.DW, 1, 0, 0, 0), exit), 0, "unknown opcode 0xda", false},
		{"STX with mode MEMSX", kern, 0, cat(ins(core.STX|core.MEMSX|core.W, 1, 2, 0, 0), exit), 0, "unknown opcode 0x83", false},
		{"LD with mode MEM", kern, 0, cat(ins(core.LD|core.MEM|core.W, 0, 0, 0, 0), exit), 0, "unknown opcode 0x60", false},
		{"LD_IMM with a 32-bit size", kern, 0, cat(ins(core.LD|core.IMM|core.W, 0, 0, 0, 0), exit), 0, "unknown opcode 0", false},
		{"JMP32|CALL", kern, 0, cat(ins(core.JMP32|core.Call, 0, 0, 0, 1), exit), 0, "unknown opcode 0x86 (call exists only in the JMP class)", false},
		{"JMP32|EXIT", kern, 0, cat(mov0, ins(core.JMP32|core.Exit, 0, 0, 0, 0)), 1, "unknown opcode 0x96", false},
		{"bswap with source X", kern, 0, cat(ins(core.ALU64|core.End|core.X, 0, 0, 0, 16), exit), 0, "unknown opcode 0xdf", false},
		{"JMP32|TAIL_CALL", kern, 0, cat(ins(core.JMP32|core.TailCall, 0, 0, 0, 0), exit), 0, "unknown opcode 0xf6", false},

		// Reserved fields, as RFC 9669 and the kernel's do_check.
		{"neg with source X", kern, 0, cat(ins(core.ALU|core.Neg|core.X, 0, 0, 0, 0), exit), 0, "neg32: neg has no source operand; the source bit (X) is reserved", false},
		{"le with imm 8", kern, 0, cat(ins(core.ALU|core.End|core.ToLE, 0, 0, 0, 8), exit), 0, "le8: imm must be 16, 32 or 64, is 8", false},
		{"movsx32 with off 32", kern, 0, cat(ins(core.ALU|core.Mov|core.X, 0, 1, 32, 0), exit), 0, "mov32 reg: off must be 0 (mov) or 8, 16 (movsx), is 32", false},
		{"movsx64 with off 7", kern, 0, cat(ins(core.ALU64|core.Mov|core.X, 0, 1, 7, 0), exit), 0, "mov64 reg: off must be 0 (mov) or 8, 16, 32 (movsx), is 7", false},
		{"sdiv with off 2", kern, 0, cat(ins(core.ALU64|core.Div|core.X, 0, 1, 2, 0), exit), 0, "div64 reg: off must be 0 or 1 (signed), is 2", false},
		{"add with off 1 (only div/mod are signed)", kern, 0, cat(ins(core.ALU64|core.Add|core.K, 0, 0, 1, 0), exit), 0, "add64 imm: unused off field must be 0, is 1", false},
		{"jeq imm with src set", kern, 0, cat(ins(core.JMP|core.JEQ|core.K, 0, 3, 0, 0), exit), 0, "jeq imm: unused src field must be 0, is 3", false},
		{"jlt32 reg with imm set", kern, 0, cat(ins(core.JMP32|core.JLT|core.X, 0, 1, 0, 9), exit), 0, "jlt32 reg: unused imm field must be 0, is 9", false},
		{"ja with imm set", kern, 0, cat(ins(core.JMP|core.JA, 0, 0, 0, 5), exit), 0, "ja: unused imm field must be 0, is 5", false},
		{"gotol with off set", kern, 0, cat(ins(core.JMP32|core.JA, 0, 0, 1, 0), exit), 0, "gotol: unused off field must be 0, is 1", false},
		{"exit with dst set", kern, 0, cat(mov0, ins(core.JMP|core.Exit, 2, 0, 0, 0)), 1, "exit: unused dst field must be 0, is 2", false},
		{"call with off set", kern, 0, cat(ins(core.JMP|core.Call, 0, 0, 4, 5), exit), 0, "call: unused off field must be 0, is 4", false},
		{"call with src 3", kern, 0, cat(ins(core.JMP|core.Call, 0, 3, 0, 5), exit), 0, "call: src must be 0 (helper), 1 (bpf-to-bpf) or 2 (kfunc), is 3", false},
		{"ldx with imm set", kern, 0, cat(ins(core.LDX|core.MEM|core.W, 0, 1, 0, 1), exit), 0, "ldxw: unused imm field must be 0, is 1", false},
		{"st with src set", kern, 0, cat(ins(core.ST|core.MEM|core.B, 1, 2, 0, 1), exit), 0, "stb: unused src field must be 0, is 2", false},
		{"stx with imm set", kern, 0, cat(ins(core.STX|core.MEM|core.H, 1, 2, 0, 1), exit), 0, "stxh: unused imm field must be 0, is 1", false},
		{"tail_call with off set", kern, 0, cat(ins(core.JMP|core.TailCall, 0, 0, 1, 0), exit), 0, "tail_call: unused off field must be 0, is 1", false},

		// Registers.
		{"dst r11", kern, 0, cat(ins(core.ALU64|core.Mov|core.K, 11, 0, 0, 0), exit), 0, "mov64 imm: dst register r11 does not exist (r0-r10)", false},
		{"src r15", kern, 0, cat(ins(core.ALU64|core.Add|core.X, 0, 15, 0, 0), exit), 0, "add64 reg: src register r15 does not exist (r0-r10)", false},
		{"write to r10 by ALU", kern, 0, cat(alu64(core.Add, core.R10, 8), exit), 0, "add64 imm: r10 is the read-only frame pointer and cannot be written", false},
		{"write to r10 by a load", kern, 0, cat(ins(core.LDX|core.MEM|core.DW, core.R10, 1, 0, 0), exit), 0, "ldxdw: r10 is the read-only frame pointer", false},
		{"write to r10 by ld_imm64", kern, 0, cat(ld64(core.R10, 0, 1), exit), 0, "ld_imm64: r10 is the read-only frame pointer", false},
		{"write to r10 by a fetching atomic", kern, 0, cat(ins(core.STX|core.ATOMIC|core.DW, core.R1, core.R10, 0, core.AtomicAdd|core.Fetch), exit), 0, "atomic64: r10 is the read-only frame pointer", false},

		// Atomics.
		{"atomic on a byte", kern, 0, cat(ins(core.STX|core.ATOMIC|core.B, 1, 2, 0, core.AtomicAdd), exit), 0, "atomic operations take 32 or 64-bit operands, not b (op 0xd3)", false},
		{"unknown atomic operation", kern, 0, cat(ins(core.STX|core.ATOMIC|core.W, 1, 2, 0, 0x30), exit), 0, "atomic32: unknown atomic operation (imm 0x30)", false},
		{"load-acquire", kern, 0, cat(ins(core.STX|core.ATOMIC|core.DW, 1, 2, 0, core.LoadAcq), exit), 0, "load-acquire (atomic imm 0x100, Linux 6.15) is not supported", true},
		{"store-release", kern, 0, cat(ins(core.STX|core.ATOMIC|core.W, 1, 2, 0, core.StoreRel), exit), 0, "store-release (atomic imm 0x110, Linux 6.15) is not supported", true},

		// ld_imm64 and its pseudo sources.
		{"ld_imm64 cut off", kern, 0, cat(mov0, exit, ins(core.LD|core.IMM|core.DW, 0, 0, 0, 0)), 2, "ld_imm64 is missing its second slot", false},
		{"ld_imm64 second slot with an opcode", kern, 0, cat(ins(core.LD|core.IMM|core.DW, 0, 0, 0, 1), exit, exit), 1, "ld_imm64: the second slot's op field must be 0, is 0x95", false},
		{"ld_imm64 second slot with src", kern, 0, cat(ins(core.LD|core.IMM|core.DW, 0, 0, 0, 1), ins(0, 0, 1, 0, 0), exit), 1, "ld_imm64: the second slot's src field must be 0, is 0x1", false},
		{"ld_imm64 second slot with off", kern, 0, cat(ins(core.LD|core.IMM|core.DW, 0, 0, 0, 1), ins(0, 0, 0, 3, 0), exit), 1, "ld_imm64: the second slot's off field must be 0, is 0x3", false},
		{"ld_imm64 with off", kern, 0, cat(ins(core.LD|core.IMM|core.DW, 0, 0, 2, 1), ins(0, 0, 0, 0, 0), exit), 0, "ld_imm64: unused off field must be 0, is 2", false},
		{"ld_imm64 with src 7", kern, 0, cat(ld64(0, 7, 0), exit), 0, "ld_imm64: unknown pseudo source 7 (src must be 0-6)", false},
		{"ld_imm64 of a BTF id", kern, 0, cat(ld64(0, core.PseudoBTFID, 5), exit), 0, "ld_imm64 with src 3 (BPF_PSEUDO_BTF_ID, a kernel variable) is not supported", true},
		{"ld_imm64 by map index", kern, 0, cat(ld64(1, core.PseudoMapIdx, 0), exit), 0, "ld_imm64 with src 5 (BPF_PSEUDO_MAP_IDX) indexes the fd_array, which is not supported", true},
		{"ld_imm64 by map index value", kern, 0, cat(ld64(1, core.PseudoMapIdxValue, 0), exit), 0, "(BPF_PSEUDO_MAP_IDX_VALUE)", true},
		{"map fd out of range", kern, 0, cat(ld64(1, core.PseudoMapFD, 4), exit), 0, "ld_imm64 refers to map 4, but the object has 4 maps", false},
		{"map fd with high bits", kern, 0, cat(ld64(1, core.PseudoMapFD, 1<<32|mapTwo), exit), 1, `ld_imm64 of map "two": the second slot's imm must be 0, is 1`, false},
		{"map value of a hash", kern, 0, cat(ld64(1, core.PseudoMapValue, mapH), exit), 0, `direct value access needs an array with one entry, not a hash with 4`, false},
		{"map value of a 2-entry array", kern, 0, cat(ld64(1, core.PseudoMapValue, mapTwo), exit), 0, `not a array with 2`, false},
		{"map value past the value size", kern, 0, cat(ld64(1, core.PseudoMapValue, 16<<32|mapOne), exit), 0, `ld_imm64 of a value of map "one": offset 16 is past the value size 16`, false},
		{"function reference past the end", kern, 0, cat(ld64(1, core.PseudoFunc, 5), exit), 0, "ld_imm64 function reference to insn 6 is outside the program (3 insns)", false},

		// Calls.
		{"kfunc", kern, 0, cat(ins(core.JMP|core.Call, 0, core.PseudoKfunc, 0, 1234), exit), 0, "call to kernel function (kfunc) btf_id 1234: kfuncs are not supported", true},
		{"kernel helper jitsim does not model", kern, 0, cat(helper(8), exit), 0, "call 8: bpf_get_smp_processor_id is a kernel helper jitsim does not model: not supported", true},
		{"no such kernel helper", kern, 0, cat(helper(100000), exit), 0, "call 100000: no kernel helper has this id", false},
		{"helper 0 in the kernel set", kern, 0, cat(helper(0), exit), 0, "call 0: no kernel helper has this id", false},
		{"no such conformance helper", conf, 0, cat(helper(6), exit), 0, "call 6: no such helper; the conformance suite's helpers are 0-5", false},
		{"callx with kernel helpers", kern, 0, cat(ins(core.JMP|core.Call|core.X, 2, 0, 0, 0), exit), 0, "callx (call through a register) exists only for the conformance suite's helpers", false},
		{"callx with imm", conf, 0, cat(ins(core.JMP|core.Call|core.X, 2, 0, 0, 1), exit), 0, "callx: unused imm field must be 0, is 1", false},
		{"call past the end", kern, 0, cat(call(5), exit), 0, "call to insn 6 is outside the program (2 insns)", false},
		{"call before the start", kern, 0, cat(mov0, call(-3), exit), 1, "call to insn -1 is outside the program (3 insns)", false},
		{"call into an ld_imm64", kern, 0, cat(call(2), exit, ld64(0, 0, 1), exit), 0, "call to insn 3 lands in the second slot of the ld_imm64 at insn 2", false},

		// Control flow.
		{"jump past the end", kern, 0, cat(ins(core.JMP|core.JA, 0, 0, 1, 0), exit), 0, "ja to insn 2 is outside the program (2 insns)", false},
		{"jump before the start", kern, 0, cat(mov0, ins(core.JMP|core.JEQ|core.K, 0, 0, -3, 0), exit), 1, "jeq imm to insn -1 is outside the program (3 insns)", false},
		{"gotol out", kern, 0, cat(ins(core.JMP32|core.JA, 0, 0, 0, 2), exit), 0, "gotol to insn 3 is outside the program (2 insns)", false},
		{"jump into an ld_imm64", kern, 0, cat(ins(core.JMP|core.JA, 0, 0, 1, 0), ld64(0, 0, 1), exit), 0, "ja to insn 2 lands in the second slot of the ld_imm64 at insn 1", false},
		{"jump into another function", kern, 0, cat(call(2), ins(core.JMP|core.JA, 0, 0, 1, 0), exit, mov0, exit), 1, "ja to insn 3 leaves function p (insns 0-2)", false},
		{"no exit at the end", kern, 0, cat(mov0), 0, "function p ends with mov64 imm, so execution would run off its end; the last instruction must be exit or ja", false},
		{"a conditional jump last", kern, 0, cat(mov0, ins(core.JMP|core.JEQ|core.K, 0, 0, -2, 0)), 1, "function p ends with jeq imm", false},
		{"a subprogram falling into the next", kern, 0, cat(call(1), exit, mov0, call(0), exit), 3, "function func_1 ends with call", false},
		{"ending in an ld_imm64", kern, 0, cat(exit, ld64(0, 0, 1)), 2, "function p ends with an ld_imm64", false},

		// Legacy packet access and unsupported jumps.
		{"LD_ABS in an XDP program", kern, core.ProgTypeXDP, cat(ins(core.LD|core.ABS|core.B, 0, 0, 0, 0), exit), 0, "ldabsb: legacy packet access needs a socket filter or tc program, not program type 6", false},
		{"LD_ABS with dst set", kern, core.ProgTypeSchedCLS, cat(ins(core.LD|core.ABS|core.W, 1, 0, 0, 0), exit), 0, "ldabsw: unused dst field must be 0, is 1", false},
		{"LD_IND of 64 bits", kern, core.ProgTypeSchedCLS, cat(ins(core.LD|core.IND|core.DW, 0, 1, 0, 0), exit), 0, "unknown opcode 0x58", false},
		{"may_goto", kern, 0, cat(ins(core.JMP|0xe0, 0, 0, 0, 0), exit), 0, "may_goto (JMP|JCOND) is not supported", true},
		{"gotox", kern, 0, cat(ins(core.JMP|core.JA|core.X, 1, 0, 0, 0), exit), 0, "indirect jump (JA with source X, gotox) is not supported", true},
		{"addr_space_cast", kern, 0, cat(ins(core.ALU64|core.Mov|core.X, 0, 1, 1, 1), exit), 0, "addr_space_cast (mov64 reg with off 1) is for BPF arenas: not supported", true},

		// The stack.
		{"store at r10+0", kern, 0, cat(stdw(0), exit), 0, "stdw: access to r10+0 (8 bytes) is outside the 512-byte stack below r10", false},
		{"u64 load at r10-4 reaches past r10", kern, 0, cat(ins(core.LDX|core.MEM|core.DW, 0, core.R10, -4, 0), exit), 0, "ldxdw: access to r10-4 (8 bytes) is outside", false},
		{"store at r10-520", kern, 0, cat(alu64(core.Mov, 1, 0), ins(core.ALU64|core.Mov|core.X, 2, core.R10, 0, 0), alu64(core.Add, 2, -520), ins(core.STX|core.MEM|core.B, 2, 1, 0, 0), exit), 3, "stxb: access to r10-520 (1 bytes) is outside", false},
		{"a helper key at r10", kern, 0, cat(ld64(1, core.PseudoMapFD, mapH), ins(core.ALU64|core.Mov|core.X, 2, core.R10, 0, 0), helper(1), exit), 3, "bpf_map_lookup_elem: memory argument r10+0 is outside the 512-byte stack below r10", false},

		// Maps handed to the wrong helper (check_map_func_compatibility).
		{"tail call through a hash", kern, 0, cat(ld64(2, core.PseudoMapFD, mapH), alu64(core.Mov, 3, 0), helper(12), exit), 3, `bpf_tail_call: r2 is map "h", a hash; tail calls go through a prog_array`, false},
		{"xlated tail call through an array", kern, 0, cat(ld64(2, core.PseudoMapFD, mapOne), ins(core.JMP|core.TailCall, 0, 0, 0, 0), exit), 2, `r2 is map "one", a array`, false},
		{"lookup in a prog array", kern, 0, cat(ld64(1, core.PseudoMapFD, mapJmp), helper(1), exit), 2, `bpf_map_lookup_elem: r1 is prog_array "jmp", which only bpf_tail_call takes`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &core.Program{Name: "p", Type: tc.typ, Insns: tc.insns}
			obj := &core.Object{Progs: []*core.Program{p}, Maps: testMaps, Helpers: tc.helpers}
			checkError(t, analysis.Check(obj), "p", tc.at, tc.msg, tc.unsupp)
			if p.Funcs != nil {
				t.Errorf("Funcs filled on error: %+v", p.Funcs)
			}
		})
	}
}

func checkError(t *testing.T, err error, prog string, at int, msg string, unsupp bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q at insn %d", msg, at)
	}
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is a %T, not a *core.Error", err, err)
	}
	if e.Op != "verify" || e.Prog != prog || e.Pos.Insn != at {
		t.Errorf("op %q, prog %q, insn %d; want verify, %s, %d (%v)", e.Op, e.Prog, e.Pos.Insn, prog, at, err)
	}
	if !strings.Contains(e.Err.Error(), msg) {
		t.Errorf("error %q\n does not contain %q", e.Err, msg)
	}
	if got := errors.Is(err, core.ErrUnsupported); got != unsupp {
		t.Errorf("errors.Is(ErrUnsupported) = %v, want %v", got, unsupp)
	}
}

// TestErrorPosition: the error carries the source position of the slot.
func TestErrorPosition(t *testing.T) {
	obj := assemble(t, "r0 = 0\n  *(u64 *)(r10 +0) = r0\nexit")
	err := analysis.Check(obj)
	want := "main: t.s:2:3 (insn 1): verify: stxdw: access to r10+0 (8 bytes) is outside the 512-byte stack below r10"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant   %s", err, want)
	}
}

// chain assembles main -> f1 -> ... -> f(n-1), each function's body
// preceded by body(k).
func chain(n int, body func(k int) string) string {
	var b strings.Builder
	for k := range n {
		if k > 0 {
			b.WriteString("f" + strconv.Itoa(k) + ":\n")
		}
		b.WriteString(body(k))
		if k < n-1 {
			b.WriteString("call f" + strconv.Itoa(k+1) + "\n")
		}
		b.WriteString("exit\n")
	}
	return b.String()
}

// TestCallLimits: check_max_stack_depth_subprog's limits on call chains.
func TestCallLimits(t *testing.T) {
	noBody := func(int) string { return "" }
	for _, tc := range []struct {
		name string
		src  string
		opts analysis.Options
		at   int
		msg  string
	}{
		{"8 frames are allowed", chain(8, noBody), analysis.Options{}, -1, ""},
		{"9 frames are too deep (MAX_CALL_FRAMES)", chain(9, noBody), analysis.Options{}, 14,
			"the call stack of 9 frames is too deep (main -> f1 -> f2 -> f3 -> f4 -> f5 -> f6 -> f7 -> f8); the limit is 8"},
		{"direct recursion", "call f\nexit\nf:\ncall f\nexit", analysis.Options{}, 2,
			"recursive call: f calls f, which is already on the call stack (main -> f)"},
		{"recursion through two functions", "call a\nexit\na:\ncall b\nexit\nb:\ncall a\nexit", analysis.Options{}, 4,
			"recursive call: b calls a, which is already on the call stack (main -> a -> b)"},
		{"combined stack over 512 with 32-byte frames (8 -> 32, 488 -> 512)",
			"*(u64 *)(r10 -8) = 0\ncall f\nexit\nf:\n*(u64 *)(r10 -488) = 0\nexit", analysis.Options{}, 1,
			"the combined stack of main 32 -> f 512 is 544 bytes, more than 512"},
		{"the same fits with the JIT's 16-byte rounding (Linux 6.9+)",
			"*(u64 *)(r10 -8) = 0\ncall f\nexit\nf:\n*(u64 *)(r10 -488) = 0\nexit", analysis.Options{JITStackRounding: true}, -1, ""},
		{"an empty frame still counts 32 bytes (round_up(max(depth, 1), 32))",
			"call f\nexit\nf:\n*(u64 *)(r10 -488) = 0\nexit", analysis.Options{}, 0,
			"the combined stack of main 32 -> f 512 is 544 bytes, more than 512"},
		{"the longest chain decides: main -> a -> c",
			"call a\ncall c\nexit\na:\n*(u64 *)(r10 -256) = 0\ncall c\nexit\nc:\n*(u64 *)(r10 -232) = 0\nexit", analysis.Options{}, 4,
			"the combined stack of main 32 -> a 256 -> c 256 is 544 bytes, more than 512"},
		{"a tail-calling subprogram under 256 bytes of frames",
			progArray + "*(u64 *)(r10 -256) = 0\ncall t\nexit\nt:\nr2 = map[jmp] ll\ncall bpf_tail_call\nexit", analysis.Options{}, 1,
			"t makes a tail call, but the frames above it use 256 bytes of stack (main 256); a tail call needs less than 256"},
		{"under 256 bytes above a tail call is fine",
			progArray + "*(u64 *)(r10 -224) = 0\ncall t\nexit\nt:\nr2 = map[jmp] ll\ncall bpf_tail_call\nexit", analysis.Options{}, -1, ""},
		{"the main function's own tail call has no such limit",
			progArray + "*(u64 *)(r10 -512) = 0\nr2 = map[jmp] ll\ncall bpf_tail_call\nexit", analysis.Options{}, -1, ""},
		{"an unbounded frame is not held against the limit (only proven bytes are)",
			"r2 = *(u64 *)(r1 +0)\nr3 = r10\nr3 += r2\n*(u8 *)(r3 -1) = 0\ncall f\nexit\nf:\n*(u64 *)(r10 -480) = 0\nexit", analysis.Options{}, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := assemble(t, tc.src)
			err := tc.opts.Check(obj)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			checkError(t, err, "main", tc.at, tc.msg, false)
		})
	}
}

// TestCheckProgramsInOrder: the first failing program's error is returned
// and the programs before it keep their facts.
func TestCheckProgramsInOrder(t *testing.T) {
	good := &core.Program{Name: "good", Insns: []core.Insn{mov0, exit}}
	bad := &core.Program{Name: "bad", Insns: []core.Insn{mov0}}
	err := analysis.Check(&core.Object{Progs: []*core.Program{good, bad}})
	var e *core.Error
	if !errors.As(err, &e) || e.Prog != "bad" {
		t.Fatalf("err = %v, want an error naming program bad", err)
	}
	if want := []core.Func{f("good", 0, 2, 0, [4]bool{})}; !slices.Equal(good.Funcs, want) {
		t.Errorf("good.Funcs = %+v, want %+v", good.Funcs, want)
	}
	err = analysis.Check(&core.Object{File: "x.o", Progs: []*core.Program{{Name: "e"}}})
	if want := "e: x.o: verify: the program has no instructions"; err == nil || err.Error() != want {
		t.Errorf("empty program: err = %v, want %s", err, want)
	}
	if err := analysis.Check(nil); err == nil {
		t.Error("Check(nil) gave no error")
	}
	if err := analysis.Check(&core.Object{Helpers: 7, Progs: []*core.Program{good}}); err == nil || !strings.Contains(err.Error(), "unknown helper set 7") {
		t.Errorf("helper set 7: err = %v", err)
	}
}

// TestValidForms: every instruction form of RFC 9669 (v1-v4) passes, each
// in a two-slot program; memory goes through r1 so no stack rule applies.
func TestValidForms(t *testing.T) {
	var forms []core.Insn
	for _, class := range []uint8{core.ALU, core.ALU64} {
		for _, op := range []uint8{core.Add, core.Sub, core.Mul, core.Div, core.Or, core.And, core.Lsh, core.Rsh, core.Mod, core.Xor, core.Mov, core.Arsh} {
			forms = append(forms, ins(class|op|core.K, 2, 0, 0, 3), ins(class|op|core.X, 2, 3, 0, 0))
		}
		forms = append(forms,
			ins(class|core.Div|core.K, 2, 0, 1, -3), ins(class|core.Div|core.X, 2, 3, 1, 0), // sdiv
			ins(class|core.Mod|core.K, 2, 0, 1, -3), ins(class|core.Mod|core.X, 2, 3, 1, 0), // smod
			ins(class|core.Div|core.K, 2, 0, 0, 0),  // by a constant zero: the conformance suite runs it
			ins(class|core.Lsh|core.K, 2, 0, 0, 99), // a shift past the width: likewise
			ins(class|core.Neg|core.K, 2, 0, 0, 0),
			ins(class|core.Mov|core.X, 2, 3, 8, 0), ins(class|core.Mov|core.X, 2, 3, 16, 0), // movsx
			ins(class|core.Mov|core.X, 2, core.R10, 0, 0))
		for _, imm := range []int32{16, 32, 64} {
			forms = append(forms, ins(class|core.End|core.K, 2, 0, 0, imm))
			if class == core.ALU {
				forms = append(forms, ins(class|core.End|core.X, 2, 0, 0, imm)) // be
			}
		}
	}
	forms = append(forms, ins(core.ALU64|core.Mov|core.X, 2, 3, 32, 0))
	for _, class := range []uint8{core.JMP, core.JMP32} {
		for _, op := range []uint8{core.JEQ, core.JGT, core.JGE, core.JSET, core.JNE, core.JSGT, core.JSGE, core.JLT, core.JLE, core.JSLT, core.JSLE} {
			forms = append(forms, ins(class|op|core.K, 2, 0, 0, -7), ins(class|op|core.X, 2, core.R10, 0, 0))
		}
	}
	forms = append(forms, ins(core.JMP|core.JA, 0, 0, 0, 0), ins(core.JMP32|core.JA, 0, 0, 0, 0))
	for _, size := range []uint8{core.B, core.H, core.W, core.DW} {
		forms = append(forms, ins(core.LDX|core.MEM|size, 2, 1, -3, 0), ins(core.ST|core.MEM|size, 1, 0, 5, -1), ins(core.STX|core.MEM|size, 1, 2, 7, 0))
		if size != core.DW {
			forms = append(forms, ins(core.LDX|core.MEMSX|size, 2, 1, 0, 0))
		}
	}
	for _, size := range []uint8{core.W, core.DW} {
		for _, op := range []int32{core.AtomicAdd, core.AtomicOr, core.AtomicAnd, core.AtomicXor} {
			forms = append(forms, ins(core.STX|core.ATOMIC|size, 1, 2, 0, op), ins(core.STX|core.ATOMIC|size, 1, 2, 0, op|core.Fetch))
		}
		forms = append(forms, ins(core.STX|core.ATOMIC|size, 1, 2, 0, core.AtomicXchg), ins(core.STX|core.ATOMIC|size, 1, core.R10, 0, core.AtomicCmpXchg))
	}
	forms = append(forms, helper(5), ins(core.JMP|core.TailCall, 0, 0, 0, 3))
	for _, form := range forms {
		t.Run(insnName(form), func(t *testing.T) {
			p := &core.Program{Name: "p", Insns: []core.Insn{form, exit}}
			if err := analysis.Check(&core.Object{Progs: []*core.Program{p}}); err != nil {
				t.Errorf("%s: %v", form.Raw(), err)
			}
		})
	}
	// The forms that need more than one slot, a helper set or a program type.
	for _, tc := range []struct {
		name    string
		typ     core.ProgType
		helpers core.HelperSet
		insns   []core.Insn
	}{
		{"ld_imm64", 0, 0, cat(ld64(2, 0, 1<<40), exit)},
		{"ld_imm64 map", 0, 0, cat(ld64(2, core.PseudoMapFD, mapH), exit)},
		{"ld_imm64 map value", 0, 0, cat(ld64(2, core.PseudoMapValue, 15<<32|mapOne), exit)},
		{"ldabs", core.ProgTypeSocketFilter, 0, cat(ins(core.LD|core.ABS|core.H, 0, 0, 0, 12), exit)},
		{"ldind", core.ProgTypeSchedAct, 0, cat(ins(core.LD|core.IND|core.B, 0, 3, 0, 1), exit)},
		{"call helper by kernel id", 0, 0, cat(helper(6), exit)},
		{"call local", 0, 0, cat(call(1), exit, exit)},
		{"callx", 0, core.HelpersConformance, cat(ins(core.JMP|core.Call|core.X, 2, 0, 0, 0), exit)},
		{"call conformance helper 0", 0, core.HelpersConformance, cat(helper(0), exit)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &core.Program{Name: "p", Type: tc.typ, Insns: tc.insns}
			if err := analysis.Check(&core.Object{Progs: []*core.Program{p}, Maps: testMaps, Helpers: tc.helpers}); err != nil {
				t.Error(err)
			}
		})
	}
}

func insnName(i core.Insn) string { return i.Raw() }
