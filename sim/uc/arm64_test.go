package uc_test

import (
	"errors"
	"testing"

	"jitsim/core/mem"
	"jitsim/sim/uc"
)

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
	m.setReg(t, uc.ARM64RegX0, stackBase)
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

// mov64 is the movz/movk sequence for one 64-bit address into x16, as the
// kernel's emit_a64_mov_i64 builds a helper address (bl reaches only 128 MiB,
// and the helper page is 1.9 GiB below the JIT images).
var callHelper = []a64{
	{0xd2a10010, "mov x16, #0x8000000"},
	{0xf2d00010, "movk x16, #0x8000, lsl #32"},
	{0xf2fffff0, "movk x16, #0xffff, lsl #48"},
	{0xd63f0200, "blr x16"},
}

// The helper-call shape on arm64: blr to a "brk #0; ret" stub. brk reports
// EXCP_BKPT with PC still on the brk, so the hook must step PC over it; the
// stub's ret then returns through x30 like a real helper.
func TestARM64Traps(t *testing.T) {
	m := newMachine(t, uc.ArchARM64, -1)
	insns := append([]a64{
		{0xd28000a0, "mov x0, #0x5"},
		{0xd28000e1, "mov x1, #0x7"},
	}, callHelper...)
	insns = append(insns,
		a64{0x91000400, "add x0, x0, #0x1"},
		a64{0xd4000001, "svc #0x0"},
		a64{0x91000400, "add x0, x0, #0x1"},
	)
	code := a64Code(t, insns...)
	m.code(t, a64Base, code)
	m.code(t, a64Helper, a64Code(t, a64{0xd4200000, "brk #0x0"}, a64{0xd65f03c0, "ret"}))
	type trap struct {
		intno uint32
		pc    uint64
	}
	var got []trap
	if _, err := m.u.HookIntr(func(intno uint32) {
		pc := m.reg(t, uc.ARM64RegPC)
		got = append(got, trap{intno, pc})
		if intno == uc.ARM64ExcpBKPT {
			m.setReg(t, uc.ARM64RegX0, m.reg(t, uc.ARM64RegX0)*m.reg(t, uc.ARM64RegX1))
			m.setReg(t, uc.ARM64RegPC, pc+4)
		}
	}); err != nil {
		t.Fatal(err)
	}
	end := a64Base + uint64(len(code))
	if err := m.u.Start(a64Base, end, 0, 0); err != nil {
		t.Fatal(err)
	}
	want := []trap{
		{uc.ARM64ExcpBKPT, a64Helper}, // PC on the brk itself
		{uc.ARM64ExcpSWI, end - 4},    // PC already past the svc (at 7*4)
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("traps = %#x, want %#x", got, want)
	}
	if x0 := m.reg(t, uc.ARM64RegX0); x0 != 37 {
		t.Errorf("x0 = %d, want 5*7+1+1", x0)
	}
	if lr := m.reg(t, uc.ARM64RegLR); lr != a64Base+6*4 {
		t.Errorf("lr = %#x, want %#x (return address of the blr)", lr, a64Base+6*4)
	}
}

func TestARM64TrapWithoutHook(t *testing.T) {
	m := newMachine(t, uc.ArchARM64, -1)
	m.code(t, a64Base, a64Code(t, a64{0xd4200000, "brk #0x0"}, a64{0xd503201f, "nop"}))
	if err := m.u.Start(a64Base, a64Base+8, 0, 0); !errors.Is(err, uc.ErrException) {
		t.Fatalf("err = %v, want %v", err, uc.ErrException)
	}
}

func TestARM64MemInvalid(t *testing.T) {
	m := newMachine(t, uc.ArchARM64, -1)
	code := a64Code(t,
		a64{0xf9400002, "ldr x2, [x0]"}, // +0: read
		a64{0xf9000001, "str x1, [x0]"}, // +4: write
		a64{0xd61f0060, "br x3"},        // +8: fetch
		a64{0xd503201f, "nop"},
	)
	m.code(t, a64Base, code)
	ro := m.region(t, "ro", globalBase, mem.PageSize, uc.ProtRead)
	type fault struct {
		access int
		addr   uint64
		size   int
		value  int64
		pc     uint64
	}
	var got []fault
	m.u.HookMemInvalid(func(access int, addr uint64, size int, value int64) bool {
		got = append(got, fault{access, addr, size, value, m.reg(t, uc.ARM64RegPC)})
		return false
	})
	for _, tc := range []struct {
		name    string
		begin   uint64
		x0, x3  uint64
		want    fault
		wantErr error
	}{
		{"read unmapped", a64Base, ctxBase + 0x40, 0,
			fault{uc.AccessReadUnmapped, ctxBase + 0x40, 8, 0, a64Base}, uc.ErrReadUnmapped},
		{"write read-only", a64Base + 4, globalBase + 8, 0,
			fault{uc.AccessWriteProt, globalBase + 8, 8, 0x1234, a64Base + 4}, uc.ErrWriteProt},
		{"fetch unmapped", a64Base + 8, 0, mapBase,
			fault{uc.AccessFetchUnmapped, mapBase, 4, 0, mapBase}, uc.ErrFetchUnmapped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = got[:0]
			m.setReg(t, uc.ARM64RegX0, tc.x0)
			m.setReg(t, uc.ARM64RegX1, 0x1234)
			m.setReg(t, uc.ARM64RegX3, tc.x3)
			// Counted, so the PC is the faulting instruction (TestFaultPC).
			err := m.u.Start(tc.begin, a64Base+uint64(len(code)), 0, 100)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("faults = %+v, want [%+v]", got, tc.want)
			}
			if pc := m.reg(t, uc.ARM64RegPC); pc != tc.want.pc {
				t.Errorf("pc after = %#x, want %#x", pc, tc.want.pc)
			}
		})
	}
	if le64(ro[8:]) != 0 {
		t.Errorf("read-only page written: %#x", le64(ro[8:]))
	}
}
