package core

import "testing"

func TestCondJump(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ins   Insn
		a, b  uint64
		taken bool
		ok    bool
	}{
		{"jgt unsigned: -1 > 1", Insn{Op: JMP | JGT | X}, ^uint64(0), 1, true, true},
		{"jsgt signed: -1 > 1 is false", Insn{Op: JMP | JSGT | X}, ^uint64(0), 1, false, true},
		{"jeq32 looks at the low half only", Insn{Op: JMP32 | JEQ | X}, 0x1_00000005, 5, true, true},
		{"jslt32: 0x80000000 is negative", Insn{Op: JMP32 | JSLT | K}, 0x80000000, 0, true, true},
		{"jslt64: 0x80000000 is positive", Insn{Op: JMP | JSLT | K}, 0x80000000, 0, false, true},
		{"jset", Insn{Op: JMP | JSET | K}, 6, 2, true, true},
		{"jle equal", Insn{Op: JMP | JLE | X}, 3, 3, true, true},
		{"ja is not conditional", Insn{Op: JMP | JA}, 0, 0, false, false},
		{"exit is not a jump", Insn{Op: JMP | Exit}, 0, 0, false, false},
	} {
		taken, ok := CondJump(tc.ins, tc.a, tc.b)
		if taken != tc.taken || ok != tc.ok {
			t.Errorf("%s: taken %v ok %v, want %v %v", tc.name, taken, ok, tc.taken, tc.ok)
		}
	}
}
