package uc_test

import (
	"testing"

	"jitsim/core/mem"
	"jitsim/sim/uc"
)

const a64Base = mem.Arm64CodeBase

func TestARM64Run(t *testing.T) {
	m := newMachine(t, uc.ArchARM64, -1)
	code := a64Code(t,
		a64{0xf9400002, "ldr x2, [x0]"},
		a64{0x8b010042, "add x2, x2, x1"},
		a64{0xf9000402, "str x2, [x0,#8]"},
		a64{0x9b017c43, "mul x3, x2, x1"},
		a64{0xf9000803, "str x3, [x0,#16]"},
	)
	m.code(t, a64Base, code)
	data := m.region(t, "stack", mem.StackBase, mem.StackSize, rw)
	put64(data, 100)
	m.setReg(t, uc.ARM64RegX0, mem.StackBase)
	m.setReg(t, uc.ARM64RegX1, 10)
	end := a64Base + uint64(len(code))
	if err := m.u.Start(a64Base, end, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := m.reg(t, uc.ARM64RegX3); got != 1100 {
		t.Errorf("x3 = %d, want 1100", got)
	}
	if got := m.reg(t, uc.ARM64RegPC); got != end {
		t.Errorf("pc = %#x, want %#x", got, end)
	}
	if a, b, c := le64(data[0:]), le64(data[8:]), le64(data[16:]); a != 100 || b != 110 || c != 1100 {
		t.Errorf("memory = %d %d %d, want 100 110 1100", a, b, c)
	}
}
