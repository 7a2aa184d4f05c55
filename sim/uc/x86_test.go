package uc_test

import (
	"testing"

	"jitsim/core/mem"
	"jitsim/sim/uc"
)

const x86Base = mem.X86CodeBase

func TestX86Run(t *testing.T) {
	m := newMachine(t, uc.ArchX86, -1)
	code := x86Code(t,
		x86{"488b07", "mov (%rdi),%rax"},
		x86{"4801f0", "add %rsi,%rax"},
		x86{"48894708", "mov %rax,0x8(%rdi)"},
		x86{"f0480fc14710", "lock xadd %rax,0x10(%rdi)"},
	)
	m.code(t, x86Base, code)
	data := m.region(t, "stack", mem.StackBase, mem.StackSize, rw)
	put64(data[0:], 100)
	put64(data[16:], 5)
	m.setReg(t, uc.X86RegRDI, mem.StackBase)
	m.setReg(t, uc.X86RegRSI, 10)
	if err := m.u.Start(x86Base, x86Base+uint64(len(code)), 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := m.reg(t, uc.X86RegRAX); got != 5 {
		t.Errorf("rax = %d, want 5 (xadd returns the old value)", got)
	}
	if got := m.reg(t, uc.X86RegRIP); got != x86Base+uint64(len(code)) {
		t.Errorf("rip = %#x, want %#x", got, x86Base+uint64(len(code)))
	}
	// The guest wrote the host bytes directly: no copy back is needed.
	if a, b, c := le64(data[0:]), le64(data[8:]), le64(data[16:]); a != 100 || b != 110 || c != 115 {
		t.Errorf("memory = %d %d %d, want 100 110 115", a, b, c)
	}
	var buf [8]byte
	if err := m.u.MemRead(mem.StackBase+16, buf[:]); err != nil || le64(buf[:]) != 115 {
		t.Errorf("MemRead = %d, %v; want 115", le64(buf[:]), err)
	}
}
