package interp_test

import (
	"testing"

	"jitsim/core"
)

// branch ends setup with cond (whose offset must be +2): r0 is 2 when the
// jump is taken, 1 when it falls through.
func branch(setup []core.Insn, cond []core.Insn) []core.Insn {
	return prog(setup, cond, mov(r0, 1), exit(), mov(r0, 2), exit())
}

const (
	taken    = 2
	notTaken = 1
)

// TestJump: every conditional jump, 64- and 32-bit, register and immediate,
// with the signed/unsigned and sign-extension edges of RFC 9669 section 4.3.
func TestJump(t *testing.T) {
	j64, j32 := uint8(core.JMP), uint8(core.JMP32)
	minus1 := mov(r1, -1)                          // 0xffffffffffffffff
	low32minus1 := ldImm64(r1, 0x00000000ffffffff) // positive as 64 bits, -1 as 32
	runR0Cases(t, []r0Case{
		{"jeq imm", branch(mov(r1, 5), jmp(j64, core.JEQ, r1, 5, 2)), taken},
		{"jeq imm is sign-extended", branch(minus1, jmp(j64, core.JEQ, r1, -1, 2)), taken},
		{"jeq 64 sees the high half", branch(ldImm64(r1, 0x100000005), jmp(j64, core.JEQ, r1, 5, 2)), notTaken},
		{"jeq32 ignores the high half", branch(ldImm64(r1, 0x100000005), jmp(j32, core.JEQ, r1, 5, 2)), taken},
		{"jeq32 imm -1 against low32 -1", branch(low32minus1, jmp(j32, core.JEQ, r1, -1, 2)), taken},
		{"jeq64 imm -1 against low32 -1", branch(low32minus1, jmp(j64, core.JEQ, r1, -1, 2)), notTaken},
		{"jeq reg", branch(prog(mov(r1, 3), mov(r2, 3)), jmpx(j64, core.JEQ, r1, r2, 2)), taken},
		{"jne equal", branch(mov(r1, 5), jmp(j64, core.JNE, r1, 5, 2)), notTaken},
		{"jne32 reg", branch(prog(ldImm64(r1, 0x100000007), mov(r2, 7)), jmpx(j32, core.JNE, r1, r2, 2)), notTaken},

		{"jgt is unsigned", branch(minus1, jmp(j64, core.JGT, r1, 5, 2)), taken},
		{"jsgt is signed", branch(minus1, jmp(j64, core.JSGT, r1, 5, 2)), notTaken},
		{"jgt reg unsigned", branch(prog(mov(r1, -2), mov(r2, 1)), jmpx(j64, core.JGT, r2, r1, 2)), notTaken},
		{"jsgt reg signed", branch(prog(mov(r1, -2), mov(r2, 1)), jmpx(j64, core.JSGT, r2, r1, 2)), taken},
		{"jgt32 ignores high half", branch(prog(ldImm64(r1, 0xffffffff00000001), mov(r2, 2)), jmpx(j32, core.JGT, r1, r2, 2)), notTaken},
		{"jgt64 sees high half", branch(prog(ldImm64(r1, 0xffffffff00000001), mov(r2, 2)), jmpx(j64, core.JGT, r1, r2, 2)), taken},
		{"jge equal", branch(mov(r1, 5), jmp(j64, core.JGE, r1, 5, 2)), taken},
		{"jge32 imm -1 is 0xffffffff", branch(mov(r1, 5), jmp(j32, core.JGE, r1, -1, 2)), notTaken},
		{"jlt", branch(mov(r1, 4), jmp(j64, core.JLT, r1, 5, 2)), taken},
		{"jlt unsigned -1", branch(minus1, jmp(j64, core.JLT, r1, 5, 2)), notTaken},
		{"jle equal", branch(mov(r1, 5), jmp(j64, core.JLE, r1, 5, 2)), taken},
		{"jle32 reg", branch(prog(ldImm64(r1, 0x900000003), mov(r2, 3)), jmpx(j32, core.JLE, r1, r2, 2)), taken},

		{"jsge", branch(mov(r1, -5), jmp(j64, core.JSGE, r1, -6, 2)), taken},
		{"jsge32 reg", branch(prog(mov(r1, -5), mov(r2, -5)), jmpx(j32, core.JSGE, r1, r2, 2)), taken},
		{"jslt", branch(minus1, jmp(j64, core.JSLT, r1, 0, 2)), taken},
		{"jslt32 low32 -1", branch(low32minus1, jmp(j32, core.JSLT, r1, 0, 2)), taken},
		{"jslt64 low32 -1 is positive", branch(low32minus1, jmp(j64, core.JSLT, r1, 0, 2)), notTaken},
		{"jsle", branch(mov(r1, -5), jmp(j64, core.JSLE, r1, -5, 2)), taken},
		{"jsle reg", branch(prog(mov(r1, 1), mov(r2, -1)), jmpx(j64, core.JSLE, r1, r2, 2)), notTaken},
		{"jsgt32 imm", branch(ldImm64(r1, 0x80000000), jmp(j32, core.JSGT, r1, 0, 2)), notTaken},

		{"jset", branch(mov(r1, 0x10), jmp(j64, core.JSET, r1, 0x30, 2)), taken},
		{"jset no common bit", branch(mov(r1, 0x10), jmp(j64, core.JSET, r1, 0x0f, 2)), notTaken},
		{"jset imm -1 sees the high half", branch(ldImm64(r1, 0x100000000), jmp(j64, core.JSET, r1, -1, 2)), taken},
		{"jset32 ignores the high half", branch(ldImm64(r1, 0x100000000), jmp(j32, core.JSET, r1, -1, 2)), notTaken},
		{"jset reg", branch(prog(mov(r1, 6), mov(r2, 3)), jmpx(j64, core.JSET, r1, r2, 2)), taken},

		{"ja skips", prog(mov(r0, 1), ja(1), mov(r0, 2), exit()), 1},
		{"gotol uses imm", prog(mov(r0, 1), gotol(1), mov(r0, 2), exit()), 1},
		{"gotol backward", prog(
			mov(r0, 0),
			ja(2),                   // 1 -> 4
			alu64(core.Add, r0, 1),  // 2
			exit(),                  // 3
			alu64(core.Add, r0, 10), // 4
			gotol(-4),               // 5 -> 2
		), 11},
		{"jump over ld_imm64", prog(mov(r0, 1), ja(2), ldImm64(r0, 99), exit()), 1},
		// Sum 0..9 with a backward conditional jump.
		{"loop", prog(mov(r0, 0), mov(r1, 0), alu64x(core.Add, r0, r1), alu64(core.Add, r1, 1), jmp(j64, core.JLT, r1, 10, -3), exit()), 45},
	})
}
