package uc_test

import (
	"errors"
	"testing"

	"jitsim/core/mem"
	"jitsim/sim/uc"
)

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
	m.setReg(t, uc.X86RegRDI, stackBase)
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
	if err := m.u.MemRead(stackBase+16, buf[:]); err != nil || le64(buf[:]) != 115 {
		t.Errorf("MemRead = %d, %v; want 115", le64(buf[:]), err)
	}
}

// The helper-call shape the design uses: the JIT's call lands on a trap stub
// "int3; ret" in the helper page; the hook reads the argument registers,
// writes rax and lets the stub's ret return to the JITed code.
func TestX86Trap(t *testing.T) {
	m := newMachine(t, uc.ArchX86, -1)
	code := x86Code(t,
		x86{"bf05000000", "mov $0x5,%edi"},
		x86{"be07000000", "mov $0x7,%esi"},
		x86{"e8f1ffffc0", "callq .-0x3f00000f"}, // X86HelperBase, rel32 like a kernel helper call
		x86{"4883c001", "add $0x1,%rax"},
	)
	rel := int64(-0x3f00000f)
	if target := x86Base + 15 + uint64(rel); target != x86Helper {
		t.Fatalf("call target %#x, want %#x", target, x86Helper)
	}
	m.code(t, x86Base, code)
	m.code(t, x86Helper, x86Code(t, x86{"cc", "int3"}, x86{"c3", "retq"}))
	m.region(t, "stack", mem.StackBase, mem.StackSize, rw)
	m.setReg(t, uc.X86RegRSP, stackTop)
	var traps []uint64
	if _, err := m.u.HookIntr(func(intno uint32) {
		if intno != 3 {
			t.Errorf("intno = %d, want 3 (#BP)", intno)
		}
		// int3 is a trap: RIP is already past it, on the stub's ret.
		traps = append(traps, m.reg(t, uc.X86RegRIP))
		m.setReg(t, uc.X86RegRAX, m.reg(t, uc.X86RegRDI)*m.reg(t, uc.X86RegRSI))
	}); err != nil {
		t.Fatal(err)
	}
	end := x86Base + uint64(len(code))
	if err := m.u.Start(x86Base, end, 0, 0); err != nil {
		t.Fatal(err)
	}
	if len(traps) != 1 || traps[0] != x86Helper+1 {
		t.Errorf("trap RIPs = %#x, want [%#x]", traps, x86Helper+1)
	}
	if got := m.reg(t, uc.X86RegRAX); got != 36 {
		t.Errorf("rax = %d, want 5*7+1", got)
	}
	if got := m.reg(t, uc.X86RegRSP); got != stackTop {
		t.Errorf("rsp = %#x, want %#x (call and ret balanced)", got, stackTop)
	}
}

// int n reports vector n; a hook may also redirect RIP.
func TestX86IntN(t *testing.T) {
	m := newMachine(t, uc.ArchX86, -1)
	code := x86Code(t,
		x86{"cd80", "int $0x80"},
		x86{"b801000000", "mov $0x1,%eax"},
		x86{"b802000000", "mov $0x2,%eax"},
	)
	m.code(t, x86Base, code)
	var got []uint32
	m.u.HookIntr(func(intno uint32) {
		got = append(got, intno)
		if rip := m.reg(t, uc.X86RegRIP); rip != x86Base+2 {
			t.Errorf("rip in hook = %#x, want %#x", rip, x86Base+2)
		}
		m.setReg(t, uc.X86RegRIP, x86Base+7) // skip "mov $1"
	})
	if err := m.u.Start(x86Base, x86Base+7, 0, 0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 0x80 {
		t.Errorf("intnos = %v, want [128]", got)
	}
	if rax := m.reg(t, uc.X86RegRAX); rax != 0 {
		t.Errorf("rax = %d, want 0: the hook's RIP write should skip mov $1", rax)
	}
}

func TestX86TrapWithoutHook(t *testing.T) {
	m := newMachine(t, uc.ArchX86, -1)
	m.code(t, x86Base, x86Code(t, x86{"cc", "int3"}, x86{"90", "nop"}))
	err := m.u.Start(x86Base, x86Base+2, 0, 0)
	if !errors.Is(err, uc.ErrException) {
		t.Fatalf("err = %v, want %v", err, uc.ErrException)
	}
}

func TestX86MemInvalid(t *testing.T) {
	m := newMachine(t, uc.ArchX86, -1)
	code := x86Code(t,
		x86{"488b07", "mov (%rdi),%rax"}, // +0: read
		x86{"488937", "mov %rsi,(%rdi)"}, // +3: write
		x86{"ffe0", "jmp *%rax"},         // +6: fetch
		x86{"90", "nop"},
	)
	m.code(t, x86Base, code)
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
		got = append(got, fault{access, addr, size, value, m.reg(t, uc.X86RegRIP)})
		return false
	})
	for _, tc := range []struct {
		name       string
		begin      uint64
		rdi, rax   uint64
		want       fault
		wantErr    error
		wantRIP    uint64
		wantRODiff bool
	}{
		{"read unmapped", x86Base, ctxBase + 0x40, 0,
			fault{uc.AccessReadUnmapped, ctxBase + 0x40, 8, 0, x86Base}, uc.ErrReadUnmapped, x86Base, false},
		{"write read-only", x86Base + 3, globalBase + 8, 0,
			fault{uc.AccessWriteProt, globalBase + 8, 8, 0x1234, x86Base + 3}, uc.ErrWriteProt, x86Base + 3, false},
		{"fetch unmapped", x86Base + 6, 0, mapBase,
			fault{uc.AccessFetchUnmapped, mapBase, 1, 0, mapBase}, uc.ErrFetchUnmapped, mapBase, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = got[:0]
			m.setReg(t, uc.X86RegRDI, tc.rdi)
			m.setReg(t, uc.X86RegRSI, 0x1234)
			m.setReg(t, uc.X86RegRAX, tc.rax)
			// Counted, so the PC is the faulting instruction (TestFaultPC).
			err := m.u.Start(tc.begin, x86Base+uint64(len(code)), 0, 100)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("faults = %+v, want [%+v]", got, tc.want)
			}
			if rip := m.reg(t, uc.X86RegRIP); rip != tc.wantRIP {
				t.Errorf("rip after = %#x, want %#x", rip, tc.wantRIP)
			}
		})
	}
	if le64(ro) != 0 {
		t.Errorf("read-only page written: %#x", le64(ro))
	}
	// A fault leaves the engine usable: the read at +0 runs, the write at +3
	// faults again.
	m.setReg(t, uc.X86RegRDI, globalBase)
	put64(ro, 77)
	if err := m.u.Start(x86Base, x86Base+uint64(len(code)), 0, 100); !errors.Is(err, uc.ErrWriteProt) {
		t.Fatalf("err = %v, want %v", err, uc.ErrWriteProt)
	}
	if rax := m.reg(t, uc.X86RegRAX); rax != 77 {
		t.Errorf("rax after faults = %d, want 77", rax)
	}
}
