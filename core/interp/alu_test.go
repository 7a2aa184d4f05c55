package interp_test

import (
	"testing"

	"jitsim/core"
)

const (
	r0 = core.R0
	r1 = core.R1
	r2 = core.R2
	r3 = core.R3
)

type r0Case struct {
	name  string
	insns []core.Insn
	want  uint64
}

func runR0Cases(t *testing.T, cases []r0Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, tc.insns, nil)
			if err != nil {
				t.Fatalf("err %v; want r0 %#x", err, tc.want)
			}
			if res.R0 != tc.want {
				t.Fatalf("r0 = %#x, want %#x", res.R0, tc.want)
			}
		})
	}
}

// TestALU: every ALU operation in its 64- and 32-bit, register and
// immediate forms, with the edge cases of RFC 9669 section 4.1. Each want
// is worked by hand from the RFC's rules.
func TestALU(t *testing.T) {
	runR0Cases(t, []r0Case{
		{"add64 imm is sign-extended", prog(mov(r0, 5), alu64(core.Add, r0, -7), exit()), 0xfffffffffffffffe},
		{"add64 reg", prog(mov(r0, 5), mov(r1, 6), alu64x(core.Add, r0, r1), exit()), 11},
		{"add32 wraps and zero-extends", prog(ldImm64(r0, 0x1ffffffff), alu32(core.Add, r0, 1), exit()), 0},
		{"add32 reg ignores high halves", prog(ldImm64(r0, 0xaaaa000000000002), ldImm64(r1, 0x5555000000000003), alu32x(core.Add, r0, r1), exit()), 5},
		{"sub64", prog(mov(r0, 3), alu64(core.Sub, r0, 5), exit()), 0xfffffffffffffffe},
		{"sub32 borrows within 32 bits", prog(mov(r0, 0), alu32(core.Sub, r0, 1), exit()), 0xffffffff},
		{"sub64 reg", prog(mov(r0, 10), mov(r1, 4), alu64x(core.Sub, r0, r1), exit()), 6},
		{"mul64 wraps", prog(mov(r0, -1), alu64(core.Mul, r0, 3), exit()), 0xfffffffffffffffd},
		{"mul32 keeps the low half", prog(mov(r0, 0x10000), alu32(core.Mul, r0, 0x10001), exit()), 0x10000},
		{"mul32 reg", prog(mov(r0, -2), mov(r1, 3), alu32x(core.Mul, r0, r1), exit()), 0xfffffffa},
		{"mul64 reg", prog(ldImm64(r0, 0x100000000), ldImm64(r1, 0x100000001), alu64x(core.Mul, r0, r1), exit()), 0x100000000},

		{"div64 reg", prog(mov(r0, 100), mov(r1, 7), alu64x(core.Div, r0, r1), exit()), 14},
		{"div64 by zero reg gives 0", prog(mov(r0, 7), mov(r1, 0), alu64x(core.Div, r0, r1), exit()), 0},
		{"div64 by zero imm gives 0", prog(mov(r0, 7), alu64(core.Div, r0, 0), exit()), 0},
		{"div64 imm -1 is 2^64-1 unsigned", prog(mov(r0, -1), alu64(core.Div, r0, -1), exit()), 1},
		{"div64 imm -2 unsigned", prog(mov(r0, 10), alu64(core.Div, r0, -2), exit()), 0},
		{"div32 by zero low half gives 0", prog(ldImm64(r0, 0xffffffff00000007), ldImm64(r1, 0x100000000), alu32x(core.Div, r0, r1), exit()), 0},
		{"div32 imm -1 is 0xffffffff", prog(ldImm64(r0, 0xffffffff), alu32(core.Div, r0, -1), exit()), 1},
		{"div32 ignores dst high half", prog(ldImm64(r0, 0x100000010), alu32(core.Div, r0, 4), exit()), 4},

		{"sdiv64 truncates toward zero", prog(mov(r0, -7), sdivmod(core.ALU64, core.K, core.Div, r0, 0, 2), exit()), 0xfffffffffffffffd},
		{"sdiv64 reg", prog(mov(r0, 7), mov(r1, -2), sdivmod(core.ALU64, core.X, core.Div, r0, r1, 0), exit()), 0xfffffffffffffffd},
		{"sdiv64 INT_MIN by -1 gives INT_MIN", prog(ldImm64(r0, 1<<63), mov(r1, -1), sdivmod(core.ALU64, core.X, core.Div, r0, r1, 0), exit()), 1 << 63},
		{"sdiv64 INT_MIN by imm -1", prog(ldImm64(r0, 1<<63), sdivmod(core.ALU64, core.K, core.Div, r0, 0, -1), exit()), 1 << 63},
		{"sdiv64 by zero gives 0", prog(mov(r0, -7), sdivmod(core.ALU64, core.K, core.Div, r0, 0, 0), exit()), 0},
		{"sdiv32", prog(mov(r0, -7), sdivmod(core.ALU, core.K, core.Div, r0, 0, 2), exit()), 0xfffffffd},
		{"sdiv32 INT_MIN by -1", prog(ldImm64(r0, 0xffffffff80000000), sdivmod(core.ALU, core.K, core.Div, r0, 0, -1), exit()), 0x80000000},
		{"sdiv32 by zero reg gives 0", prog(mov(r0, -7), ldImm64(r1, 0x500000000), sdivmod(core.ALU, core.X, core.Div, r0, r1, 0), exit()), 0},

		{"mod64", prog(mov(r0, 100), alu64(core.Mod, r0, 7), exit()), 2},
		{"mod64 by zero keeps dst", prog(mov(r0, -5), mov(r1, 0), alu64x(core.Mod, r0, r1), exit()), 0xfffffffffffffffb},
		{"mod64 by zero imm keeps dst", prog(mov(r0, -5), alu64(core.Mod, r0, 0), exit()), 0xfffffffffffffffb},
		{"mod32 ignores high halves", prog(ldImm64(r0, 0x100000064), alu32(core.Mod, r0, 7), exit()), 2},
		{"mod32 by zero zero-extends dst", prog(ldImm64(r0, 0x123456789), mov(r1, 0), alu32x(core.Mod, r0, r1), exit()), 0x23456789},
		{"mod32 imm -1 is 0xffffffff", prog(mov(r0, 5), alu32(core.Mod, r0, -1), exit()), 5},

		{"smod64 sign follows dividend", prog(mov(r0, -7), sdivmod(core.ALU64, core.K, core.Mod, r0, 0, 3), exit()), 0xffffffffffffffff},
		{"smod64 positive by negative", prog(mov(r0, 7), mov(r1, -3), sdivmod(core.ALU64, core.X, core.Mod, r0, r1, 0), exit()), 1},
		{"smod64 INT_MIN by -1 gives 0", prog(ldImm64(r0, 1<<63), sdivmod(core.ALU64, core.K, core.Mod, r0, 0, -1), exit()), 0},
		{"smod64 by zero keeps dst", prog(mov(r0, -7), sdivmod(core.ALU64, core.K, core.Mod, r0, 0, 0), exit()), 0xfffffffffffffff9},
		{"smod32", prog(mov(r0, -7), sdivmod(core.ALU, core.K, core.Mod, r0, 0, 3), exit()), 0xffffffff},
		{"smod32 INT_MIN by -1 gives 0", prog(ldImm64(r0, 0x80000000), sdivmod(core.ALU, core.K, core.Mod, r0, 0, -1), exit()), 0},
		{"smod32 by zero zero-extends dst", prog(ldImm64(r0, 0x1fffffff9), mov(r1, 0), sdivmod(core.ALU, core.X, core.Mod, r0, r1, 0), exit()), 0xfffffff9},

		{"or64 imm", prog(ldImm64(r0, 0xf0f0f0f0f0f0f0f0), alu64(core.Or, r0, 0x0f), exit()), 0xf0f0f0f0f0f0f0ff},
		{"or64 imm negative sets high half", prog(mov(r0, 0), alu64(core.Or, r0, -256), exit()), 0xffffffffffffff00},
		{"or32 drops high half", prog(ldImm64(r0, 0xf0f0f0f0f0f0f0f0), alu32(core.Or, r0, 0x0f), exit()), 0xf0f0f0ff},
		{"or64 reg", prog(mov(r0, 0x30), mov(r1, 0x0c), alu64x(core.Or, r0, r1), exit()), 0x3c},
		{"and64 imm -256", prog(mov(r0, 0x1234), alu64(core.And, r0, -256), exit()), 0x1200},
		{"and32 imm -1 drops high half", prog(ldImm64(r0, 0xffffffffffff0000), alu32(core.And, r0, -1), exit()), 0xffff0000},
		{"and32 reg", prog(mov(r0, -1), ldImm64(r1, 0xff000000ff), alu32x(core.And, r0, r1), exit()), 0xff},
		{"xor64 imm -1", prog(mov(r0, 0), alu64(core.Xor, r0, -1), exit()), 0xffffffffffffffff},
		{"xor32", prog(mov(r0, -1), alu32(core.Xor, r0, 0xff), exit()), 0xffffff00},
		{"xor64 reg", prog(mov(r0, 0x5a), mov(r1, 0xff), alu64x(core.Xor, r0, r1), exit()), 0xa5},

		{"lsh64 imm 63", prog(mov(r0, 1), alu64(core.Lsh, r0, 63), exit()), 1 << 63},
		{"lsh64 by 65 masks to 1", prog(mov(r0, 1), mov(r1, 65), alu64x(core.Lsh, r0, r1), exit()), 2},
		{"lsh32 by 60 masks to 28", prog(mov(r0, 0x11), alu32(core.Lsh, r0, 60), exit()), 0x10000000},
		{"lsh32 by 32 masks to 0 and zero-extends", prog(ldImm64(r0, 0x100000005), mov(r1, 32), alu32x(core.Lsh, r0, r1), exit()), 5},
		{"rsh64 reg is logical", prog(mov(r0, -1), mov(r1, 60), alu64x(core.Rsh, r0, r1), exit()), 0xf},
		{"rsh64 by 64 masks to 0", prog(mov(r0, -1), alu64(core.Rsh, r0, 64), exit()), 0xffffffffffffffff},
		{"rsh32 drops high half first", prog(mov(r0, -1), alu32(core.Rsh, r0, 4), exit()), 0x0fffffff},
		{"rsh32 by 36 masks to 4", prog(mov(r0, -1), mov(r1, 36), alu32x(core.Rsh, r0, r1), exit()), 0x0fffffff},
		{"arsh64", prog(mov(r0, -16), alu64(core.Arsh, r0, 2), exit()), 0xfffffffffffffffc},
		{"arsh64 by 65 masks to 1", prog(mov(r0, -16), mov(r1, 65), alu64x(core.Arsh, r0, r1), exit()), 0xfffffffffffffff8},
		{"arsh32 sign bit is bit 31", prog(ldImm64(r0, 0x80000000), alu32(core.Arsh, r0, 4), exit()), 0xf8000000},
		{"arsh32 ignores high half", prog(ldImm64(r0, 0xffffffff00000010), alu32(core.Arsh, r0, 1), exit()), 8},
		{"arsh32 by 33 masks to 1", prog(mov(r0, -4), mov(r1, 33), alu32x(core.Arsh, r0, r1), exit()), 0xfffffffe},

		{"neg64", prog(mov(r0, 1), alu64(core.Neg, r0, 0), exit()), 0xffffffffffffffff},
		{"neg64 INT_MIN", prog(ldImm64(r0, 1<<63), alu64(core.Neg, r0, 0), exit()), 1 << 63},
		{"neg32", prog(mov(r0, 1), alu32(core.Neg, r0, 0), exit()), 0xffffffff},
		{"neg32 INT_MIN", prog(ldImm64(r0, 0x180000000), alu32(core.Neg, r0, 0), exit()), 0x80000000},

		{"mov64 imm -1 sign-extends", prog(mov(r0, -1), exit()), 0xffffffffffffffff},
		{"mov32 imm -1 zero-extends", prog(alu32(core.Mov, r0, -1), exit()), 0xffffffff},
		{"mov32 reg zero-extends", prog(mov(r1, -1), alu32x(core.Mov, r0, r1), exit()), 0xffffffff},
		{"mov64 reg", prog(ldImm64(r1, 0x123456789), alu64x(core.Mov, r0, r1), exit()), 0x123456789},
		{"ld_imm64", prog(ldImm64(r0, 0x123456789abcdef0), exit()), 0x123456789abcdef0},

		{"movsx64 s8 negative", prog(ldImm64(r1, 0x1234567f80), movsx(core.ALU64, r0, r1, 8), exit()), 0xffffffffffffff80},
		{"movsx64 s8 positive", prog(mov(r1, 0x17f), movsx(core.ALU64, r0, r1, 8), exit()), 0x7f},
		{"movsx64 s16", prog(mov(r1, 0x8001), movsx(core.ALU64, r0, r1, 16), exit()), 0xffffffffffff8001},
		{"movsx64 s32", prog(ldImm64(r1, 0x180000000), movsx(core.ALU64, r0, r1, 32), exit()), 0xffffffff80000000},
		{"movsx64 s32 positive", prog(ldImm64(r1, 0xffffffff7fffffff), movsx(core.ALU64, r0, r1, 32), exit()), 0x7fffffff},
		{"movsx32 s8 zero-extends the result", prog(mov(r1, 0xff), movsx(core.ALU, r0, r1, 8), exit()), 0xffffffff},
		{"movsx32 s16 negative", prog(mov(r1, 0x8000), movsx(core.ALU, r0, r1, 16), exit()), 0xffff8000},
		{"movsx32 s16 positive", prog(ldImm64(r1, 0xffff7fff), movsx(core.ALU, r0, r1, 16), exit()), 0x7fff},

		{"le16 truncates", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU, core.ToLE, r0, 16), exit()), 0x7788},
		{"le32 truncates", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU, core.ToLE, r0, 32), exit()), 0x55667788},
		{"le64 keeps", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU, core.ToLE, r0, 64), exit()), 0x1122334455667788},
		{"be16 swaps and zero-extends", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU, core.ToBE, r0, 16), exit()), 0x8877},
		{"be32", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU, core.ToBE, r0, 32), exit()), 0x88776655},
		{"be64", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU, core.ToBE, r0, 64), exit()), 0x8877665544332211},
		{"bswap16", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU64, core.ToLE, r0, 16), exit()), 0x8877},
		{"bswap32", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU64, core.ToLE, r0, 32), exit()), 0x88776655},
		{"bswap64", prog(ldImm64(r0, 0x1122334455667788), end(core.ALU64, core.ToLE, r0, 64), exit()), 0x8877665544332211},
	})
}
