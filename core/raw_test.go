package core

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestDecodeRaw(t *testing.T) {
	// mov r0, 1; lddw r1, 0x1122334455667788; if w1 s< w2 goto -3; exit
	raw, _ := hex.DecodeString("b700000001000000" +
		"1801000088776655" + "0000000044332211" +
		"ce21fdff00000000" +
		"9500000000000000")
	insns, err := DecodeRaw("x.bin", raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []Insn{
		{Op: ALU64 | Mov | K, Dst: R0, Imm: 1},
		{Op: LD | IMM | DW, Dst: R1, Imm: 0x55667788},
		{Imm: 0x11223344},
		{Op: JMP32 | JSLT | X, Dst: R1, Src: R2, Off: -3},
		{Op: JMP | Exit},
	}
	if len(insns) != len(want) {
		t.Fatalf("%d insns, want %d", len(insns), len(want))
	}
	for i := range want {
		if insns[i] != want[i] {
			t.Errorf("insn %d = %+v, want %+v", i, insns[i], want[i])
		}
	}
	if got := Imm64(insns[1], insns[2]); got != 0x1122334455667788 {
		t.Errorf("imm64 = %#x", got)
	}
	if !bytes.Equal(EncodeInsns(insns), raw) {
		t.Errorf("round trip: %x", EncodeInsns(insns))
	}
}

func TestDecodeRawErrors(t *testing.T) {
	for _, tc := range []struct {
		hex, want string
	}{
		{"b7000000010000", "x.bin (insn 0): load: 7 bytes is not a whole number of 8-byte instructions (7 trailing bytes)"},
		{"b700000001000000" + "1801000088776655", "x.bin (insn 1): load: ld_imm64 is truncated: its second slot is missing"},
		// The second slot of a pair may itself look like an ld_imm64 opcode:
		// it is data, and the stream is whole.
		{"1801000088776655" + "1800000000000000" + "1801000088776655", "x.bin (insn 2): load: ld_imm64 is truncated"},
	} {
		b, _ := hex.DecodeString(tc.hex)
		_, err := DecodeRaw("x.bin", b)
		var ce *Error
		if err == nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.hex, err, tc.want)
		}
	}
	// A pair whose second half has an ld_imm64 opcode is whole.
	b, _ := hex.DecodeString("1801000088776655" + "1800000000000000")
	if _, err := DecodeRaw("x.bin", b); err != nil {
		t.Errorf("whole pair rejected: %v", err)
	}
}

func TestPosString(t *testing.T) {
	for _, tc := range []struct {
		pos  Pos
		want string
	}{
		{Pos{File: "a.s", Line: 3, Col: 5, Insn: 2}, "a.s:3:5 (insn 2)"},
		{Pos{File: "a.s", Line: 3, Insn: -1}, "a.s:3"},
		{Pos{File: "a.o", Section: "tc", Insn: 7}, "a.o:tc (insn 7)"},
		{Pos{Insn: 4}, "(insn 4)"},
		{Pos{Insn: -1}, "?"},
	} {
		if got := tc.pos.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.pos, got, tc.want)
		}
	}
	e := &Error{Pos: Pos{File: "t.s", Line: 14, Insn: 9}, Prog: "entry", Op: "verify", Err: ErrUnsupported}
	if got := e.Error(); got != "entry: t.s:14 (insn 9): verify: not supported" || !errors.Is(e, ErrUnsupported) {
		t.Errorf("error %q", got)
	}
}

func FuzzDecodeRaw(f *testing.F) {
	f.Add([]byte{0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x18, 1, 0, 0, 1, 2, 3, 4})
	f.Add([]byte{0x18, 1, 0, 0, 1, 2, 3, 4, 0x18, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		insns, err := DecodeRaw("fuzz.bin", b)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Pos.File != "fuzz.bin" {
				t.Fatalf("error without a position: %v", err)
			}
			if insns != nil {
				t.Fatal("both a result and an error")
			}
			return
		}
		if !bytes.Equal(EncodeInsns(insns), b) {
			t.Fatalf("round trip changed the bytes")
		}
		for i := 0; i < len(insns); i++ {
			if insns[i].IsLdImm64() {
				if i+1 >= len(insns) {
					t.Fatalf("accepted a truncated ld_imm64 at %d", i)
				}
				i++
			}
		}
	})
}

func BenchmarkDecodeRaw(b *testing.B) {
	var prog []Insn
	for i := range 100_000 {
		prog = append(prog, Insn{Op: ALU64 | Add | K, Dst: Reg(i % 10), Imm: int32(i)})
	}
	raw := EncodeInsns(prog)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := DecodeRaw("bench.bin", raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(prog))*float64(b.N)/b.Elapsed().Seconds(), "insns/s")
}
