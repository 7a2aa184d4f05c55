package core

import (
	"strings"
	"testing"
)

func mkInsn(op uint8, dst, src Reg, off int16, imm int32) Insn {
	return Insn{Op: op, Dst: dst, Src: src, Off: off, Imm: imm}
}

// TestDisasm pins the text of every instruction form to what
// kernel/bpf/disasm.c's print_bpf_insn prints for the same bytes (format
// strings "%c%d %s %d", "*(%s *)(r%d %+d)", "goto pc%+d", "0x%x" for jump
// immediates, "call %s#%d").
func TestDisasm(t *testing.T) {
	for _, tc := range []struct {
		insns []Insn
		want  string
	}{
		{[]Insn{mkInsn(0xb7, 0, 0, 0, 1)}, "r0 = 1"},
		{[]Insn{mkInsn(0xb4, 1, 0, 0, -1)}, "w1 = -1"},
		{[]Insn{mkInsn(0xbf, 1, 10, 0, 0)}, "r1 = r10"},
		{[]Insn{mkInsn(0x0c, 1, 2, 0, 0)}, "w1 += w2"},
		{[]Insn{mkInsn(0x07, 2, 0, 0, -8)}, "r2 += -8"},
		{[]Insn{mkInsn(0xc7, 1, 0, 0, 3)}, "r1 s>>= 3"},
		{[]Insn{mkInsn(0x6c, 1, 2, 0, 0)}, "w1 <<= w2"},
		{[]Insn{mkInsn(0x87, 1, 0, 0, 0)}, "r1 = -r1"},
		{[]Insn{mkInsn(0x84, 1, 0, 0, 0)}, "w1 = -w1"},
		{[]Insn{mkInsn(0x3f, 0, 1, 1, 0)}, "r0 s/= r1"},
		{[]Insn{mkInsn(0x97, 0, 0, 1, 3)}, "r0 s%= 3"},
		{[]Insn{mkInsn(0xbf, 0, 1, 8, 0)}, "r0 = (s8)r1"},
		{[]Insn{mkInsn(0xbc, 0, 1, 16, 0)}, "w0 = (s16)w1"},
		{[]Insn{mkInsn(0xbf, 0, 1, 32, 0)}, "r0 = (s32)r1"},
		{[]Insn{mkInsn(0xdc, 1, 0, 0, 16)}, "r1 = be16 r1"},
		{[]Insn{mkInsn(0xd4, 1, 0, 0, 32)}, "r1 = le32 r1"},
		{[]Insn{mkInsn(0xd7, 1, 0, 0, 64)}, "r1 = bswap64 r1"},
		{[]Insn{mkInsn(0x61, 0, 1, 4, 0)}, "r0 = *(u32 *)(r1 +4)"},
		{[]Insn{mkInsn(0x79, 0, 10, -8, 0)}, "r0 = *(u64 *)(r10 -8)"},
		{[]Insn{mkInsn(0x91, 0, 1, 0, 0)}, "r0 = *(s8 *)(r1 +0)"},
		{[]Insn{mkInsn(0x81, 0, 1, 0, 0)}, "r0 = *(s32 *)(r1 +0)"},
		{[]Insn{mkInsn(0x7b, 10, 1, -8, 0)}, "*(u64 *)(r10 -8) = r1"},
		{[]Insn{mkInsn(0x73, 1, 2, 3, 0)}, "*(u8 *)(r1 +3) = r2"},
		{[]Insn{mkInsn(0x6a, 1, 0, -2, 7)}, "*(u16 *)(r1 -2) = 7"},
		{[]Insn{mkInsn(0xdb, 10, 1, -8, 0x00)}, "lock *(u64 *)(r10 -8) += r1"},
		{[]Insn{mkInsn(0xc3, 10, 1, -8, 0x50)}, "lock *(u32 *)(r10 -8) &= r1"},
		{[]Insn{mkInsn(0xdb, 10, 1, -8, 0x40)}, "lock *(u64 *)(r10 -8) |= r1"},
		{[]Insn{mkInsn(0xdb, 10, 1, -8, 0xa0)}, "lock *(u64 *)(r10 -8) ^= r1"},
		{[]Insn{mkInsn(0xdb, 1, 0, 0, 0x01)}, "r0 = atomic64_fetch_add((u64 *)(r1 +0), r0)"},
		{[]Insn{mkInsn(0xc3, 1, 2, 4, 0xa1)}, "r2 = atomic_fetch_xor((u32 *)(r1 +4), r2)"},
		{[]Insn{mkInsn(0xdb, 1, 2, 0, 0x51)}, "r2 = atomic64_fetch_and((u64 *)(r1 +0), r2)"},
		{[]Insn{mkInsn(0xdb, 1, 2, 0, 0xe1)}, "r2 = atomic64_xchg((u64 *)(r1 +0), r2)"},
		{[]Insn{mkInsn(0xc3, 1, 2, 0, 0xe1)}, "r2 = atomic_xchg((u32 *)(r1 +0), r2)"},
		{[]Insn{mkInsn(0xdb, 1, 2, 0, 0xf1)}, "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"},
		{[]Insn{mkInsn(0xc3, 1, 2, -4, 0xf1)}, "r0 = atomic_cmpxchg((u32 *)(r1 -4), r0, r2)"},
		{[]Insn{mkInsn(0x18, 1, 0, 0, 0x1234), mkInsn(0, 0, 0, 0, 0)}, "r1 = 0x1234 ll"},
		{[]Insn{mkInsn(0x18, 1, 0, 0, -1), mkInsn(0, 0, 0, 0, -1)}, "r1 = 0xffffffffffffffff ll"},
		{[]Insn{mkInsn(0x18, 1, 1, 0, 1), mkInsn(0, 0, 0, 0, 0)}, "r1 = map[1]"},
		{[]Insn{mkInsn(0x18, 1, 2, 0, 0), mkInsn(0, 0, 0, 0, 8)}, "r1 = map[0][0]+8"},
		{[]Insn{mkInsn(0x30, 0, 0, 0, 42)}, "r0 = *(u8 *)skb[42]"},
		{[]Insn{mkInsn(0x40, 0, 1, 0, 4)}, "r0 = *(u32 *)skb[r1 + 4]"},
		{[]Insn{mkInsn(0x25, 1, 0, 3, 5)}, "if r1 > 0x5 goto pc+3"},
		{[]Insn{mkInsn(0x15, 1, 0, 0, -1)}, "if r1 == 0xffffffff goto pc+0"},
		{[]Insn{mkInsn(0xce, 1, 2, -2, 0)}, "if w1 s< w2 goto pc-2"},
		{[]Insn{mkInsn(0x45, 1, 0, 1, 8)}, "if r1 & 0x8 goto pc+1"},
		{[]Insn{mkInsn(0xdd, 1, 2, 1, 0)}, "if r1 s<= r2 goto pc+1"},
		{[]Insn{mkInsn(0x05, 0, 0, -1, 0)}, "goto pc-1"},
		{[]Insn{mkInsn(0x06, 0, 0, 0, 70000)}, "gotol pc+70000"},
		{[]Insn{mkInsn(0xe5, 0, 0, 2, 0)}, "may_goto pc+2"},
		{[]Insn{mkInsn(0x85, 0, 0, 0, 1)}, "call bpf_map_lookup_elem#1"},
		{[]Insn{mkInsn(0x85, 0, 0, 0, 12)}, "call bpf_tail_call#12"},
		{[]Insn{mkInsn(0x85, 0, 0, 0, 999)}, "call unknown#999"},
		{[]Insn{mkInsn(0x85, 0, 1, 0, 5)}, "call pc+5"},
		{[]Insn{mkInsn(0x85, 0, 1, 0, -3)}, "call pc-3"},
		{[]Insn{mkInsn(0x8d, 2, 0, 0, 0)}, "callx r2"},
		{[]Insn{mkInsn(0xf5, 0, 0, 0, 0)}, "tail_call"},
		{[]Insn{mkInsn(0x95, 0, 0, 0, 0)}, "exit"},
		// No text form: unknown opcodes, ALU64|END|X, an ld_imm64 without
		// its second slot.
		{[]Insn{mkInsn(0xff, 1, 2, 3, 4)}, ".raw ff 21 03 00 04 00 00 00"},
		{[]Insn{mkInsn(0xdf, 1, 0, 0, 16)}, ".raw df 01 00 00 10 00 00 00"},
		{[]Insn{mkInsn(0x18, 1, 0, 0, 1)}, ".raw 18 01 00 00 01 00 00 00"},
		// Reserved fields: disasm.c does not show them, neither does Disasm.
		{[]Insn{mkInsn(0x07, 0, 0, 1, 1)}, "r0 += 1"},
	} {
		p := &Program{Insns: tc.insns}
		if got := p.Disasm(0); got != tc.want {
			t.Errorf("Disasm(%v) = %q, want %q", tc.insns[0].Raw(), got, tc.want)
		}
	}
}

func TestDisasmObject(t *testing.T) {
	obj := &Object{Maps: []*Map{{Name: "jmp"}, {Name: "vals"}}}
	p := &Program{
		Insns: []Insn{
			mkInsn(0x18, 1, 1, 0, 1), mkInsn(0, 0, 0, 0, 0),
			mkInsn(0x18, 2, 2, 0, 0), mkInsn(0, 0, 0, 0, 16),
			mkInsn(0x85, 0, 1, 0, 1), mkInsn(0x95, 0, 0, 0, 0),
			mkInsn(0x85, 0, 0, 0, 1), mkInsn(0x95, 0, 0, 0, 0),
		},
		Symbols: []Symbol{{Name: "sub", Insn: 6, Func: true}},
	}
	for i, want := range map[int]string{0: "r1 = map[vals]", 2: "r2 = map[jmp][0]+16", 4: "call sub", 6: "call bpf_map_lookup_elem#1"} {
		if got := obj.Disasm(p, i); got != want {
			t.Errorf("slot %d: %q, want %q", i, got, want)
		}
	}
	obj.Helpers = HelpersConformance
	if got := obj.Disasm(p, 6); got != "call memfrob#1" {
		t.Errorf("conformance helper 1: %q, want call memfrob#1", got)
	}
}

// TestExact: with Exact, a slot whose text would hide a field prints raw,
// so the text always parses back to the same bytes.
func TestExact(t *testing.T) {
	for _, tc := range []struct {
		ins  Insn
		want string
	}{
		{mkInsn(0x07, 0, 0, 1, 1), ".raw 07 00 01 00 01 00 00 00"}, // add64 imm with off 1
		{mkInsn(0x0f, 0, 1, 0, 7), ".raw 0f 10 00 00 07 00 00 00"}, // add64 reg with imm
		{mkInsn(0x95, 1, 0, 0, 0), ".raw 95 01 00 00 00 00 00 00"}, // exit with dst
		{mkInsn(0xb7, 0, 1, 0, 1), ".raw b7 10 00 00 01 00 00 00"}, // mov imm with src
		{mkInsn(0xf5, 0, 0, 0, 3), ".raw f5 00 00 00 03 00 00 00"}, // tail call with a poke index
		{mkInsn(0xb7, 0, 0, 0, 1), "r0 = 1"},
	} {
		p := &Program{Insns: []Insn{tc.ins}}
		if got := string(AppendInsn(nil, nil, p, 0, InsnFormat{Exact: true})); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.ins.Raw(), got, tc.want)
		}
	}
}

func TestWriteXlated(t *testing.T) {
	p := &Program{
		Insns: []Insn{
			mkInsn(0xb7, 0, 0, 0, 1),
			mkInsn(0x18, 1, 0, 0, 0x55667788), mkInsn(0, 0, 0, 0, 0x11223344),
			mkInsn(0x85, 0, 1, 0, 1),
			mkInsn(0x95, 0, 0, 0, 0),
			mkInsn(0xb7, 0, 0, 0, 2),
			mkInsn(0x95, 0, 0, 0, 0),
		},
		SlotPos: []SlotPos{{Origin: 0}, {Origin: -1}, {Origin: -1}, {Origin: -1}, {Origin: -1}, {Origin: -1}, {Origin: -1}},
		Origins: []Origin{{Source: "return 1;"}},
		Symbols: []Symbol{{Name: "sub", Insn: 5, Func: true}, {Name: "loop", Insn: 6}},
	}
	var b strings.Builder
	if err := WriteXlated(&b, nil, p, true); err != nil {
		t.Fatal(err)
	}
	want := `; return 1;
   0: (b7) r0 = 1
       b7 00 00 00 01 00 00 00
   1: (18) r1 = 0x1122334455667788 ll
       18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11
   3: (85) call sub
       85 10 00 00 01 00 00 00
   4: (95) exit
       95 00 00 00 00 00 00 00
sub:
   5: (b7) r0 = 2
       b7 00 00 00 02 00 00 00
   6: (95) exit
       95 00 00 00 00 00 00 00
`
	if b.String() != want {
		t.Errorf("listing:\n%s\nwant:\n%s", b.String(), want)
	}
	// bpftool's "% 4d": always one blank before the index.
	long := &Program{Insns: make([]Insn, 12346)}
	for i := range long.Insns {
		long.Insns[i] = mkInsn(0x95, 0, 0, 0, 0)
	}
	b.Reset()
	WriteXlated(&b, nil, long, false)
	if !strings.Contains(b.String(), "\n 1234: (95) exit\n") || !strings.HasSuffix(b.String(), "\n 12345: (95) exit\n") {
		t.Errorf("wide indices misformatted: %q", b.String()[len(b.String())-40:])
	}
}
