package arm64

import (
	"fmt"
	"slices"
	"testing"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/mem"
)

// slotCase is one BPF instruction (or a few) and the A64 code the kernel's
// JIT emits for slot 0, in GNU syntax. Unless a case says otherwise the
// program is "<src>; exit", JITed in the fixed scheme without BTI/PAC, so
// a body that touches no callee-saved register starts at 0x18; branch
// targets below are image offsets computed from that.
type slotCase struct {
	name string
	src  string
	want []string
}

func runSlotCases(t *testing.T, opts jit.Options, cases []slotCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := compile(t, assemble(t, tc.src+"\nexit"), opts)
			if got := slotText(img, 0); !slices.Equal(got, tc.want) {
				t.Errorf("%s:\n got  %q\n want %q", tc.src, got, tc.want)
			}
		})
	}
}

// TestALU covers build_insn's ALU/ALU64 cases: immediates as
// emit_a64_mov_i/emit_a64_mov_i64 build them (MOVZ, or MOVN when the high
// half is negative, MOVK for the rest), the add/sub immediate and logical
// immediate fast paths with their register fallbacks, the W forms of
// 32-bit operations, shifts as UBFM/SBFM aliases, byte swaps and movsx.
func TestALU(t *testing.T) {
	runSlotCases(t, jit.Options{}, []slotCase{
		// emit_a64_mov_i
		{"mov64 -1", "r1 = -1", []string{"mov x0, #0xffffffffffffffff"}},
		{"mov32 -1", "w1 = -1", []string{"mov w0, #0xffffffff"}},
		{"mov32 two halves", "w1 = 0x12345678", []string{"mov w0, #0x5678", "movk w0, #0x1234, lsl #16"}},
		{"mov64 negative high half", "r1 = -74565", []string{"mov x0, #0xfffffffffffeffff", "movk x0, #0xdcbb"}},
		{"mov64 high half only", "r1 = 0x10000", []string{"mov x0, #0x0", "movk x0, #0x1, lsl #16"}},
		{"mov64 0x7fffffff", "r1 = 0x7fffffff", []string{"mov x0, #0xffff", "movk x0, #0x7fff, lsl #16"}},
		// emit_a64_mov_i64
		{"lddw 33 bits", "r1 = 0x123456789 ll", []string{"mov x0, #0x100000000", "movk x0, #0x2345, lsl #16", "movk x0, #0x6789"}},
		{"lddw mostly ones: MOVN", "r1 = 0xffffffffffff1234 ll", []string{"mov x0, #0xffffffffffff1234"}},
		{"lddw top chunk only", "r1 = 0x8000000000000000 ll", []string{"mov x0, #0x8000000000000000"}},
		{"lddw fits 32 bits", "r1 = 0xffffffff ll", []string{"mov w0, #0xffffffff"}},
		{"lddw skips zero chunks", "r1 = 0x10000ffff ll", []string{"mov x0, #0x100000000", "movk x0, #0xffff"}},
		{"lddw tie picks MOVZ", "r1 = 0xffff0000ffff0000 ll", []string{"mov x0, #0xffff000000000000", "movk x0, #0xffff, lsl #16"}},
		{"lddw MOVN then MOVK", "r1 = 0xfffffffe12345678 ll", []string{"mov x0, #0xfffffffeffffffff", "movk x0, #0x1234, lsl #16", "movk x0, #0x5678"}},
		// ADD/SUB immediate: imm12, imm12 << 12, negated, or a register.
		{"add 1", "r1 += 1", []string{"add x0, x0, #0x1"}},
		{"add -1 is sub", "r1 += -1", []string{"sub x0, x0, #0x1"}},
		{"add32 shifted", "w1 += 0x1000", []string{"add w0, w0, #0x1, lsl #12"}},
		{"add 13 bits", "r1 += 0x1001", []string{"mov x10, #0x1001", "add x0, x0, x10"}},
		// MOVN of the high half, then a MOVK of the zero low half.
		{"add32 INT_MIN", "w1 += -2147483648", []string{"mov w10, #0x8000ffff", "movk w10, #0x0", "add w0, w0, w10"}},
		{"sub 5", "r1 -= 5", []string{"sub x0, x0, #0x5"}},
		{"sub -4096 is add", "r1 -= -4096", []string{"add x0, x0, #0x1, lsl #12"}},
		{"sub32 register", "w1 -= 0x12345", []string{"mov w10, #0x2345", "movk w10, #0x1, lsl #16", "sub w0, w0, w10"}},
		// Logical immediates (A64_*_I), else the value in x10.
		{"and 0xff", "r1 &= 0xff", []string{"and x0, x0, #0xff"}},
		{"and -256 sign-extends", "r1 &= -256", []string{"and x0, x0, #0xffffffffffffff00"}},
		{"and32 no pattern", "w1 &= 0x12345", []string{"mov w10, #0x2345", "movk w10, #0x1, lsl #16", "and w0, w0, w10"}},
		{"or 0x10", "r1 |= 0x10", []string{"orr x0, x0, #0x10"}},
		{"xor32 0x55555555", "w1 ^= 0x55555555", []string{"eor w0, w0, #0x55555555"}},
		{"xor64 0x55555555 has no pattern", "r1 ^= 0x55555555", []string{"mov x10, #0x5555", "movk x10, #0x5555, lsl #16", "eor x0, x0, x10"}},
		{"and 0 has no encoding", "r1 &= 0", []string{"mov x10, #0x0", "and x0, x0, x10"}},
		// MUL, DIV, MOD by immediate.
		{"mul 3", "r1 *= 3", []string{"mov x10, #0x3", "mul x0, x0, x10"}},
		{"div 3", "r1 /= 3", []string{"mov x10, #0x3", "udiv x0, x0, x10"}},
		{"sdiv32 3", "w1 s/= 3", []string{"mov w10, #0x3", "sdiv w0, w0, w10"}},
		{"mod 7", "r1 %= 7", []string{"mov x11, #0x7", "udiv x10, x0, x11", "msub x0, x10, x11, x0"}},
		{"smod32 -7", "w1 s%= -7", []string{"mov w11, #0xfffffff9", "sdiv w10, w0, w11", "msub w0, w10, w11, w0"}},
		// do_misc_fixups for signed division by the immediate -1.
		{"sdiv -1 is neg", "r1 s/= -1", []string{"neg x0, x0"}},
		{"sdiv32 -1 is neg", "w1 s/= -1", []string{"neg w0, w0"}},
		{"smod -1 is 0", "r1 s%= -1", []string{"mov w0, #0x0"}},
		// Shifts.
		{"lsh 3", "r1 <<= 3", []string{"lsl x0, x0, #3"}},
		{"rsh32 31", "w1 >>= 31", []string{"lsr w0, w0, #31"}},
		{"arsh 63", "r1 s>>= 63", []string{"asr x0, x0, #63"}},
		{"arsh32 5", "w1 s>>= 5", []string{"asr w0, w0, #5"}},
		// Counts the verifier would reject are masked as RFC 9669 says.
		{"lsh 68 is 4", "r1 <<= 68", []string{"lsl x0, x0, #4"}},
		{"rsh32 40 is 8", "w1 >>= 40", []string{"lsr w0, w0, #8"}},
		{"arsh -4 is 60", "r1 s>>= -4", []string{"asr x0, x0, #60"}},
		{"lsh by register", "r1 <<= r2", []string{"lsl x0, x0, x1"}},
		{"rsh32 by register", "w1 >>= w2", []string{"lsr w0, w0, w1"}},
		{"arsh by register", "r1 s>>= r2", []string{"asr x0, x0, x1"}},
		// Register operations.
		{"add", "r1 += r2", []string{"add x0, x0, x1"}},
		{"sub32", "w1 -= w2", []string{"sub w0, w0, w1"}},
		{"mul", "r1 *= r2", []string{"mul x0, x0, x1"}},
		{"and", "r1 &= r2", []string{"and x0, x0, x1"}},
		{"or32", "w1 |= w2", []string{"orr w0, w0, w1"}},
		{"xor", "r1 ^= r2", []string{"eor x0, x0, x1"}},
		{"neg", "r1 = -r1", []string{"neg x0, x0"}},
		{"neg32", "w1 = -w1", []string{"neg w0, w0"}},
		// MOV and movsx.
		{"mov", "r1 = r2", []string{"add x0, x1, #0x0"}},
		{"mov32", "w1 = w2", []string{"add w0, w1, #0x0"}},
		{"movsx8", "r1 = (s8)r2", []string{"sxtb x0, w1"}},
		{"movsx16 32-bit", "w1 = (s16)w2", []string{"sxth w0, w1"}},
		{"movsx32", "r1 = (s32)r2", []string{"sxtw x0, w1"}},
		// BPF_END: le is a truncation on arm64, be and bswap reverse.
		{"be16", "r1 = be16 r1", []string{"rev16 w0, w0", "uxth w0, w0"}},
		{"be32", "r1 = be32 r1", []string{"rev w0, w0"}},
		{"be64", "r1 = be64 r1", []string{"rev x0, x0"}},
		{"le16", "r1 = le16 r1", []string{"uxth w0, w0"}},
		{"le32", "r1 = le32 r1", []string{"lsr w0, w0, #0"}}, // A64_UXTW(0): UBFM w, w, #0, #31
		{"le64 emits nothing", "r1 = le64 r1", nil},
		{"bswap16", "r1 = bswap16 r1", []string{"rev16 x0, x0", "ubfx x0, x0, #0, #16"}},
		{"bswap32", "r1 = bswap32 r1", []string{"rev w0, w0"}},
		{"bswap64", "r1 = bswap64 r1", []string{"rev x0, x0"}},
	})
}

// TestRegisterOps: every register-to-register operation and move that
// build_insn turns into one A64 instruction (the ones buildBody encodes
// from a table of their words, without calling emitALU), in both widths,
// for register pairs across the kernel's bpf2a64 map, r10 and r0
// included.
func TestRegisterOps(t *testing.T) {
	// bpf2a64 in bpf_jit_comp.c, as register numbers.
	a64 := []int{7, 0, 1, 2, 3, 4, 19, 20, 21, 22, 25}
	ops := []struct {
		pc, mnemonic string
	}{
		{"+=", "add"}, {"-=", "sub"}, {"*=", "mul"}, {"&=", "and"}, {"|=", "orr"},
		{"^=", "eor"}, {"<<=", "lsl"}, {">>=", "lsr"}, {"s>>=", "asr"},
	}
	pairs := [][2]int{{1, 2}, {0, 10}, {10, 0}, {6, 9}, {5, 5}, {9, 8}}
	for _, op := range ops {
		for _, width := range [][2]string{{"r", "x"}, {"w", "w"}} {
			b, a := width[0], width[1] // BPF and A64 register prefixes
			for _, p := range pairs {
				src := fmt.Sprintf("%s%d %s %s%d", b, p[0], op.pc, b, p[1])
				want := fmt.Sprintf("%s %s%d, %s%d, %s%d", op.mnemonic, a, a64[p[0]], a, a64[p[0]], a, a64[p[1]])
				img := compile(t, assemble(t, src+"\nexit"), jit.Options{})
				if got := slotText(img, 0); !slices.Equal(got, []string{want}) {
					t.Errorf("%s: got %q, want %q", src, got, want)
				}
			}
		}
	}
	// A64_MOV is ADD (immediate) of 0: Rn is the source.
	for _, width := range [][2]string{{"r", "x"}, {"w", "w"}} {
		b, a := width[0], width[1]
		for _, p := range pairs {
			src := fmt.Sprintf("%s%d = %s%d", b, p[0], b, p[1])
			want := fmt.Sprintf("add %s%d, %s%d, #0x0", a, a64[p[0]], a, a64[p[1]])
			img := compile(t, assemble(t, src+"\nexit"), jit.Options{})
			if got := slotText(img, 0); !slices.Equal(got, []string{want}) {
				t.Errorf("%s: got %q, want %q", src, got, want)
			}
		}
	}
}

// TestDivModGuards: DIV/MOD by a register carry the guard the verifier's
// do_misc_fixups inserts (chk_and_div, chk_and_mod, chk_and_sdiv,
// chk_and_smod), as the A64 code the JIT makes of it. Slot 0 starts at
// 0x18.
func TestDivModGuards(t *testing.T) {
	runSlotCases(t, jit.Options{}, []slotCase{
		{"div", "r1 /= r2", []string{
			"cmp x1, #0x0", // if r2 != 0 goto +2
			"b.ne 0x28",
			"eor w0, w0, w0", // w1 ^= w1
			"b 0x2c",         // goto +1
			"udiv x0, x0, x1",
		}},
		{"div32", "w1 /= w2", []string{"cmp w1, #0x0", "b.ne 0x28", "eor w0, w0, w0", "b 0x2c", "udiv w0, w0, w1"}},
		{"mod", "r1 %= r2", []string{
			"cmp x1, #0x0", // if r2 == 0 goto +1
			"b.eq 0x28",
			"udiv x10, x0, x1",
			"msub x0, x10, x1, x0",
		}},
		{"mod32", "w1 %= w2", []string{
			"cmp w1, #0x0", // if w2 == 0 goto +2
			"b.eq 0x2c",
			"udiv w10, w0, w1",
			"msub w0, w10, w1, w0",
			"b 0x30",           // goto +1
			"add w0, w0, #0x0", // w1 = w1
		}},
		{"sdiv", "r1 s/= r2", []string{
			"add x9, x1, #0x0", // AX = r2
			"add x9, x9, #0x1", // AX += 1
			"cmp x9, #0x1",     // if AX > 1 goto +4
			"b.hi 0x3c",
			"cmp x9, #0x0", // if AX == 0 goto +1
			"b.eq 0x34",
			"mov x0, #0x0", // r1 = 0
			"neg x0, x0",   // r1 = -r1
			"b 0x40",       // goto +1
			"sdiv x0, x0, x1",
		}},
		{"sdiv32", "w1 s/= w2", []string{
			"add x9, x1, #0x0", "add w9, w9, #0x1", "cmp w9, #0x1", "b.hi 0x3c", "cmp w9, #0x0", "b.eq 0x34",
			"mov w0, #0x0", "neg w0, w0", "b 0x40", "sdiv w0, w0, w1",
		}},
		{"smod", "r1 s%= r2", []string{
			"add x9, x1, #0x0", "add x9, x9, #0x1",
			"cmp x9, #0x1", "b.hi 0x38", // if AX > 1 goto +3
			"cmp x9, #0x1", "b.eq 0x40", // if AX == 1 goto +3: r2 was 0
			"mov w0, #0x0", // w1 = 0: r2 was -1
			"b 0x40",       // goto +1
			"sdiv x10, x0, x1", "msub x0, x10, x1, x0",
		}},
		{"smod32", "w1 s%= w2", []string{
			"add x9, x1, #0x0", "add w9, w9, #0x1",
			"cmp w9, #0x1", "b.hi 0x38",
			"cmp w9, #0x1", "b.eq 0x44", // if AX == 1 goto +4
			"mov w0, #0x0", "b 0x40",
			"sdiv w10, w0, w1", "msub w0, w10, w1, w0",
			"b 0x48",           // goto +1
			"add w0, w0, #0x0", // w1 = w1
		}},
	})
}

// TestMem covers LDX/ST/STX: the unsigned scaled immediate form when
// is_lsi_offset allows it, else the offset in x10 (x11 for ST, whose
// value is in x10) and the register-offset form with the original base.
func TestMem(t *testing.T) {
	runSlotCases(t, jit.Options{}, []slotCase{
		{"ldxw", "r1 = *(u32 *)(r2 +4)", []string{"ldr w0, [x1,#4]"}},
		{"ldxdw negative", "r1 = *(u64 *)(r2 -8)", []string{"mov x10, #0xfffffffffffffff8", "ldr x0, [x1,x10]"}},
		{"ldxh misaligned", "r1 = *(u16 *)(r2 +1)", []string{"mov x10, #0x1", "ldrh w0, [x1,x10]"}},
		{"ldxb 4095", "r1 = *(u8 *)(r2 +4095)", []string{"ldrb w0, [x1,#4095]"}},
		{"ldxdw 32760", "r1 = *(u64 *)(r2 +32760)", []string{"ldr x0, [x1,#32760]"}},
		{"ldxdw 32767", "r1 = *(u64 *)(r2 +32767)", []string{"mov x10, #0x7fff", "ldr x0, [x1,x10]"}},
		{"ldxsb", "r1 = *(s8 *)(r2 +4095)", []string{"ldrsb x0, [x1,#4095]"}},
		{"ldxsh", "r1 = *(s16 *)(r2 +2)", []string{"ldrsh x0, [x1,#2]"}},
		{"ldxsw past imm12", "r1 = *(s32 *)(r2 +16384)", []string{"mov x10, #0x4000", "ldrsw x0, [x1,x10]"}},
		{"stw imm", "*(u32 *)(r1 +0) = 7", []string{"mov x10, #0x7", "str w10, [x0]"}},
		{"stb imm negative offset", "*(u8 *)(r1 -1) = 1", []string{"mov x10, #0x1", "mov x11, #0xffffffffffffffff", "strb w10, [x0,x11]"}},
		{"stdw imm -2", "*(u64 *)(r1 +8) = -2", []string{"mov x10, #0xfffffffffffffffe", "str x10, [x0,#8]"}},
		{"stxh", "*(u16 *)(r1 +2) = r2", []string{"strh w1, [x0,#2]"}},
		{"stxdw negative", "*(u64 *)(r1 -8) = r2", []string{"mov x10, #0xfffffffffffffff8", "str x1, [x0,x10]"}},
	})
	// BPF_NOSPEC emits nothing: slot 1 starts where slot 0 does.
	p := &core.Program{Name: "p", Insns: []core.Insn{{Op: bpfNoSpec}, {Op: core.JMP | core.Exit}}, Funcs: []core.Func{{End: 2}}}
	if img := compile(t, p, jit.Options{}); img.InsnOffsets[0] != 0x18 || img.InsnOffsets[1] != 0x18 {
		t.Errorf("nospec: slot offsets %#x, %#x; want both 0x18", img.InsnOffsets[0], img.InsnOffsets[1])
	}
}

// TestStackAccess: r10-relative accesses. The current JIT addresses them
// from SP with off + stack_size; the legacy one from FP_BOTTOM (x27 = r10 -
// fpb_offset, the lowest offset used, rounded down to 8), or from x25 with
// the register form when r10 may change.
func TestStackAccess(t *testing.T) {
	src := "*(u64 *)(r10 -8) = r1\nr0 = *(u32 *)(r10 -512)\nexit"
	for _, tc := range []struct {
		name string
		opts jit.Options
		want [2][]string
	}{
		{"fixed", jit.Options{}, [2][]string{{"str x0, [sp,#504]"}, {"ldr w7, [sp]"}}},
		{"legacy", jit.Options{Scheme: core.Legacy}, [2][]string{{"str x0, [x27,#504]"}, {"ldr w7, [x27]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := compile(t, assemble(t, src, 512), tc.opts)
			for s := range 2 {
				if got := slotText(img, s); !slices.Equal(got, tc.want[s]) {
					t.Errorf("slot %d = %q, want %q", s, got, tc.want[s])
				}
			}
		})
	}
	// find_fpb_offset gives up when r10 is a fetching atomic's source
	// (it receives the old value).
	insns := []core.Insn{
		{Op: core.STX | core.MEM | core.DW, Dst: 10, Src: 1, Off: -8},
		{Op: core.STX | core.ATOMIC | core.DW, Dst: 1, Src: 10, Imm: core.AtomicAdd | core.Fetch},
	}
	if got := findFpbOffset(insns); got != 0 {
		t.Errorf("find_fpb_offset with r10 fetched into = %d, want 0", got)
	}
	if got := findFpbOffset(insns[:1]); got != 8 {
		t.Errorf("find_fpb_offset = %d, want 8", got)
	}
	insns[0].Off = -13
	if got := findFpbOffset(insns[:1]); got != 8 {
		t.Errorf("find_fpb_offset of -13 = %d, want 8 (rounded down)", got)
	}
	p := &core.Program{Name: "p", Insns: []core.Insn{
		{Op: core.STX | core.MEM | core.DW, Dst: 10, Src: 1, Off: -8},
		{Op: core.ALU64 | core.Add | core.K, Dst: 10, Imm: 0},
		{Op: core.JMP | core.Exit},
	}, Funcs: []core.Func{{End: 3, StackDepth: 8}}}
	img := compile(t, p, jit.Options{Scheme: core.Legacy})
	if got, want := slotText(img, 0), []string{"mov x10, #0xfffffffffffffff8", "str x0, [x25,x10]"}; !slices.Equal(got, want) {
		t.Errorf("legacy store with r10 written = %q, want %q", got, want)
	}
}

func atomicProg(size uint8, off int16, imm int32) string {
	p := &core.Program{Insns: []core.Insn{{Op: core.STX | core.ATOMIC | size, Dst: 1, Src: 2, Off: off, Imm: imm}}}
	return p.Disasm(0)
}

// TestAtomics: emit_lse_atomic (ST<op> without ordering for plain ops, the
// "AL" forms otherwise; AND through MVN and LDCLR) and emit_ll_sc_atomic
// (LDXR/STXR loops, STLXR and DMB ISH when a value is returned), with the
// address computed per kernel version.
func TestAtomics(t *testing.T) {
	const (
		W, DW = core.W, core.DW
		fetch = core.Fetch
	)
	type atomicCase struct {
		size uint8
		off  int16
		imm  int32
		want []string
	}
	run := func(t *testing.T, opts jit.Options, cases []atomicCase) {
		t.Helper()
		for _, tc := range cases {
			src := atomicProg(tc.size, tc.off, tc.imm)
			t.Run(src, func(t *testing.T) {
				img := compile(t, assemble(t, src+"\nexit"), opts)
				if got := slotText(img, 0); !slices.Equal(got, tc.want) {
					t.Errorf("\n got  %q\n want %q", got, tc.want)
				}
			})
		}
	}
	t.Run("lse", func(t *testing.T) {
		run(t, jit.Options{LSE: true}, []atomicCase{
			{DW, 0, core.AtomicAdd, []string{"stadd x1, [x0]"}},
			{W, 8, core.AtomicAdd, []string{"add x10, x0, #0x8", "stadd w1, [x10]"}},
			{DW, -8, core.AtomicAnd, []string{"sub x10, x0, #0x8", "mvn x11, x1", "stclr x11, [x10]"}},
			{DW, 0x1001, core.AtomicOr, []string{"mov x10, #0x1001", "add x10, x0, x10", "stset x1, [x10]"}},
			{W, 0, core.AtomicXor, []string{"steor w1, [x0]"}},
			{DW, 0, core.AtomicAdd | fetch, []string{"ldaddal x1, x1, [x0]"}},
			{W, 0, core.AtomicAnd | fetch, []string{"mvn w11, w1", "ldclral w11, w1, [x0]"}},
			{DW, 0, core.AtomicOr | fetch, []string{"ldsetal x1, x1, [x0]"}},
			{W, 0, core.AtomicXor | fetch, []string{"ldeoral w1, w1, [x0]"}},
			{DW, 0, core.AtomicXchg, []string{"swpal x1, x1, [x0]"}},
			{W, 0, core.AtomicCmpXchg, []string{"casal w7, w1, [x0]"}},
		})
	})
	t.Run("lse/legacy", func(t *testing.T) {
		run(t, jit.Options{LSE: true, Scheme: core.Legacy}, []atomicCase{
			{W, 8, core.AtomicAdd, []string{"mov x10, #0x8", "add x10, x10, x0", "stadd w1, [x10]"}},
			{DW, -8, core.AtomicCmpXchg, []string{"mov x10, #0xfffffffffffffff8", "add x10, x10, x0", "casal x7, x1, [x10]"}},
		})
	})
	// Loops branch back to the LDXR; slot 0 starts at 0x18.
	t.Run("ll/sc", func(t *testing.T) {
		run(t, jit.Options{}, []atomicCase{
			{DW, 0, core.AtomicAdd, []string{"ldxr x11, [x0]", "add x11, x11, x1", "stxr w12, x11, [x0]", "cbnz w12, 0x18"}},
			{W, 4, core.AtomicAnd, []string{"add x10, x0, #0x4", "ldxr w11, [x10]", "and w11, w11, w1", "stxr w12, w11, [x10]", "cbnz w12, 0x1c"}},
			{DW, 0, core.AtomicOr, []string{"ldxr x11, [x0]", "orr x11, x11, x1", "stxr w12, x11, [x0]", "cbnz w12, 0x18"}},
			{W, 0, core.AtomicXor, []string{"ldxr w11, [x0]", "eor w11, w11, w1", "stxr w12, w11, [x0]", "cbnz w12, 0x18"}},
			{W, 0, core.AtomicAdd | fetch, []string{
				"add w9, w1, #0x0", "ldxr w1, [x0]", "add w11, w1, w9", "stlxr w12, w11, [x0]", "cbnz w12, 0x1c", "dmb ish"}},
			{DW, 0, core.AtomicXor | fetch, []string{
				"add x9, x1, #0x0", "ldxr x1, [x0]", "eor x11, x1, x9", "stlxr w12, x11, [x0]", "cbnz w12, 0x1c", "dmb ish"}},
			{DW, 0, core.AtomicXchg, []string{
				"add x11, x1, #0x0", "ldxr x1, [x0]", "stlxr w12, x11, [x0]", "cbnz w12, 0x1c", "dmb ish"}},
			{DW, 0, core.AtomicCmpXchg, []string{
				"add x11, x7, #0x0", "ldxr x7, [x0]", "eor x12, x7, x11", "cbnz x12, 0x34",
				"stlxr w12, x1, [x0]", "cbnz w12, 0x1c", "dmb ish"}},
			{W, 0, core.AtomicCmpXchg, []string{
				"add w11, w7, #0x0", "ldxr w7, [x0]", "eor w12, w7, w11", "cbnz w12, 0x34",
				"stlxr w12, w1, [x0]", "cbnz w12, 0x1c", "dmb ish"}},
		})
	})
}

// TestJumps: CMP/TST then B.cond with the condition per BPF op, 32-bit
// compares on W registers, immediates as CMP #imm, CMN #-imm or a
// register; JA and gotol as B; EXIT as B to the epilogue unless last.
func TestJumps(t *testing.T) {
	var cases []slotCase
	// "if r1 OP r2 goto +1; r0 = 1; exit": the target (exit, which emits
	// nothing) is the epilogue at 0x24.
	for _, c := range []struct{ op, cond string }{
		{"==", "eq"}, {">", "hi"}, {">=", "cs"}, {"!=", "ne"}, {"<", "cc"}, {"<=", "ls"},
		{"s>", "gt"}, {"s>=", "ge"}, {"s<", "lt"}, {"s<=", "le"},
	} {
		cases = append(cases,
			slotCase{"r " + c.op, "if r1 " + c.op + " r2 goto +1\nr0 = 1", []string{"cmp x0, x1", "b." + c.cond + " 0x24"}},
			slotCase{"w " + c.op, "if w1 " + c.op + " w2 goto +1\nr0 = 1", []string{"cmp w0, w1", "b." + c.cond + " 0x24"}})
	}
	cases = append(cases, []slotCase{
		{"jset", "if r1 & r2 goto +1\nr0 = 1", []string{"tst x0, x1", "b.ne 0x24"}},
		{"jset imm", "if r1 & 0xff goto +1\nr0 = 1", []string{"tst x0, #0xff", "b.ne 0x24"}},
		{"jset32 no pattern", "if w1 & 0x12345 goto +1\nr0 = 1",
			[]string{"mov w10, #0x2345", "movk w10, #0x1, lsl #16", "tst w0, w10", "b.ne 0x2c"}},
		{"imm12", "if r1 > 5 goto +1\nr0 = 1", []string{"cmp x0, #0x5", "b.hi 0x24"}},
		{"negative imm is cmn", "if r1 == -5 goto +1\nr0 = 1", []string{"cmn x0, #0x5", "b.eq 0x24"}},
		{"shifted imm32", "if w1 < 0x1000 goto +1\nr0 = 1", []string{"cmp w0, #0x1, lsl #12", "b.cc 0x24"}},
		{"imm in register", "if r1 s> 0x12345 goto +1\nr0 = 1",
			[]string{"mov x10, #0x2345", "movk x10, #0x1, lsl #16", "cmp x0, x10", "b.gt 0x2c"}},
		{"ja", "goto +1\nr0 = 1", []string{"b 0x20"}},
		{"gotol", "gotol +1\nr0 = 1", []string{"b 0x20"}},
		{"ja +0", "goto +0", []string{"b 0x1c"}},
		{"exit not last", "exit\nr0 = 2", []string{"b 0x20"}},
	}...)
	runSlotCases(t, jit.Options{}, cases)

	// A backward jump: slot 2 branches to slot 1 at 0x1c.
	img := compile(t, assemble(t, "r0 = 0\nr0 += 1\nif r0 < 10 goto -2\nexit"), jit.Options{})
	if got, want := slotText(img, 2), []string{"cmp x7, #0xa", "b.cc 0x1c"}; !slices.Equal(got, want) {
		t.Errorf("backward jump = %q, want %q", got, want)
	}
}

// TestCalls: helpers through emit_call (far from the JIT region, so the
// fixed movn/movk/movk address load and BLR; BL when near), bpf-to-bpf
// calls (BL after the extra pass; always indirect in the legacy JIT), and
// callx.
func TestCalls(t *testing.T) {
	helper := []string{
		"mov x10, #0xffffffffffff0010", // movn: HelperAddr(1) = 0xffff800008000010
		"movk x10, #0x800, lsl #16",
		"movk x10, #0x8000, lsl #32",
		"blr x10",
		"add x7, x0, #0x0", // r0 = x0
	}
	for _, s := range []core.Scheme{core.Fixed, core.Legacy} {
		img := compile(t, assemble(t, "call 1\nexit"), jit.Options{Scheme: s})
		if got := slotText(img, 0); !slices.Equal(got, helper) {
			t.Errorf("%v: helper call = %q, want %q", s, got, helper)
		}
	}
	// An image placed within 128 MiB of the helpers calls them with BL;
	// the target lies 0xffff0 below the image.
	img := compile(t, assemble(t, "call 1\nexit"), jit.Options{Base: mem.Arm64HelperBase + 0x100000})
	if got, want := slotText(img, 0), []string{"bl -0xffff0", "add x7, x0, #0x0"}; !slices.Equal(got, want) {
		t.Errorf("near helper call = %q, want %q", got, want)
	}

	// main's first JIT: prologue 6, call 5 (indirect: the callee has no
	// address yet), epilogue 4, PLT nop/ldr/br = 18 words, allocated with
	// the 2-word PLT target, so f starts at 0x50; the extra pass calls it
	// with BL. The legacy main has a 12-word prologue and an 8-word
	// epilogue, so f is at 0x78, and the call stays indirect.
	p := assemble(t, "call f\nexit\nf:\nr0 = 1\nexit")
	img = compile(t, p, jit.Options{})
	if got, want := slotText(img, 0), []string{"bl 0x50", "add x7, x0, #0x0"}; !slices.Equal(got, want) || img.Funcs[1].Start != 0x50 {
		t.Errorf("fixed bpf2bpf call = %q, want %q (callee at %#x)", got, want, img.Funcs[1].Start)
	}
	img = compile(t, p, jit.Options{Scheme: core.Legacy})
	if got, want := slotText(img, 0), []string{
		"mov x10, #0xffffffffffff0078", // 0xffff800080000078
		"movk x10, #0x8000, lsl #16",
		"movk x10, #0x8000, lsl #32",
		"blr x10",
		"add x7, x0, #0x0",
	}; !slices.Equal(got, want) || img.Funcs[1].Start != 0x78 {
		t.Errorf("legacy bpf2bpf call = %q, want %q (callee at %#x)", got, want, img.Funcs[1].Start)
	}

	img = compile(t, assemble(t, "callx r2\nexit"), jit.Options{})
	if got, want := slotText(img, 0), []string{
		"mov x10, #0xffffffffffff0000", // HelperAddr(0)
		"movk x10, #0x800, lsl #16",
		"movk x10, #0x8000, lsl #32",
		"mov w11, #0x10", // stride
		"madd x10, x1, x11, x10",
		"blr x10",
		"add x7, x0, #0x0",
	}; !slices.Equal(got, want) {
		t.Errorf("callx = %q, want %q", got, want)
	}
}
