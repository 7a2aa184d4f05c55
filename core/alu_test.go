package core

import (
	"math"
	"testing"
)

// Expected values from RFC 9669 section 4, worked by hand.
func TestEvalALU(t *testing.T) {
	const intMin64 = uint64(1) << 63
	for _, tc := range []struct {
		name     string
		ins      Insn
		dst, src uint64
		want     uint64
	}{
		{"add32 wraps and zero-extends", Insn{Op: ALU | Add | X}, 0xffffffff_ffffffff, 2, 1},
		{"sub64", Insn{Op: ALU64 | Sub | X}, 1, 2, math.MaxUint64},
		{"div64 by zero gives 0", Insn{Op: ALU64 | Div | X}, 7, 0, 0},
		{"div32 looks at the low half of the divisor", Insn{Op: ALU | Div | X}, 0x5_00000000, 0x1_00000000, 0},
		{"mod64 by zero keeps dst", Insn{Op: ALU64 | Mod | X}, 0xfffffffffffffffd, 0, 0xfffffffffffffffd},
		{"mod32 by zero keeps the low half", Insn{Op: ALU | Mod | K}, 0x1_00000005, 0, 5},
		{"sdiv64 INT_MIN by -1", Insn{Op: ALU64 | Div | K, Off: 1}, intMin64, math.MaxUint64, intMin64},
		{"smod64 INT_MIN by -1", Insn{Op: ALU64 | Mod | K, Off: 1}, intMin64, math.MaxUint64, 0},
		{"sdiv32 -9 / 2", Insn{Op: ALU | Div | K, Off: 1}, 0xfffffff7, 2, 0xfffffffc},
		{"smod32 -7 % 3 is -1", Insn{Op: ALU | Mod | K, Off: 1}, 0xfffffff9, 3, 0xffffffff},
		{"lsh64 masks the amount", Insn{Op: ALU64 | Lsh | X}, 1, 65, 2},
		{"rsh32 masks the amount", Insn{Op: ALU | Rsh | X}, 0x80000000, 33, 0x40000000},
		{"arsh32", Insn{Op: ALU | Arsh | K}, 0x80000000, 4, 0xf8000000},
		{"arsh64", Insn{Op: ALU64 | Arsh | K}, intMin64, 63, math.MaxUint64},
		{"neg32", Insn{Op: ALU | Neg}, 1, 0, 0xffffffff},
		{"mov32 drops the upper half", Insn{Op: ALU | Mov | X}, 0, 0x1_00000002, 2},
		{"movsx8 64-bit", Insn{Op: ALU64 | Mov | X, Off: 8}, 0, 0x180, 0xffffffffffffff80},
		{"movsx16 32-bit", Insn{Op: ALU | Mov | X, Off: 16}, 0, 0x18000, 0xffff8000},
		{"movsx32", Insn{Op: ALU64 | Mov | X, Off: 32}, 0, 0x12_80000000, 0xffffffff80000000},
		{"le16 truncates", Insn{Op: ALU | End | ToLE, Imm: 16}, 0x12345678, 0, 0x5678},
		{"be32 swaps and zero-extends", Insn{Op: ALU | End | ToBE, Imm: 32}, 0xaa_11223344, 0, 0x44332211},
		{"bswap64", Insn{Op: ALU64 | End, Imm: 64}, 0x0102030405060708, 0, 0x0807060504030201},
	} {
		got, ok := EvalALU(tc.ins, tc.dst, tc.src)
		if !ok || got != tc.want {
			t.Errorf("%s: %#x, %v; want %#x", tc.name, got, ok, tc.want)
		}
	}
	if _, ok := EvalALU(Insn{Op: JMP | Exit}, 0, 0); ok {
		t.Error("exit evaluated as ALU")
	}
}
