package core

import (
	"encoding/binary"
	"fmt"
)

// InsnSize is the size of one instruction slot in bytes.
const InsnSize = 8

// Encode appends the little-endian bytes of one slot, as the kernel lays out
// struct bpf_insn on a little-endian host: op, dst_reg:4 | src_reg:4, off,
// imm.
func (i Insn) Encode(b []byte) []byte {
	b = append(b, i.Op, byte(i.Dst&0x0f)|byte(i.Src&0x0f)<<4)
	b = binary.LittleEndian.AppendUint16(b, uint16(i.Off))
	return binary.LittleEndian.AppendUint32(b, uint32(i.Imm))
}

// EncodeInsns returns the raw bytes of a slot array.
func EncodeInsns(insns []Insn) []byte {
	b := make([]byte, 0, len(insns)*InsnSize)
	for _, ins := range insns {
		b = ins.Encode(b)
	}
	return b
}

// DecodeInsn decodes one slot from the first 8 bytes of b.
func DecodeInsn(b []byte) Insn {
	_ = b[7]
	return Insn{
		Op:  b[0],
		Dst: Reg(b[1] & 0x0f),
		Src: Reg(b[1] >> 4),
		Off: int16(binary.LittleEndian.Uint16(b[2:])),
		Imm: int32(binary.LittleEndian.Uint32(b[4:])),
	}
}

// DecodeRaw decodes a raw little-endian instruction stream. It checks only
// what makes the stream unreadable as slots: a length that is not a multiple
// of 8 and an ld_imm64 cut off by the end. Opcode and operand checks are the
// verifier's (analysis.Check); the bytes round-trip exactly through
// EncodeInsns. file names the input in errors.
func DecodeRaw(file string, b []byte) ([]Insn, error) {
	if len(b)%InsnSize != 0 {
		return nil, Errorf(Pos{File: file, Insn: len(b) / InsnSize}, "load",
			"%d bytes is not a whole number of 8-byte instructions (%d trailing bytes)", len(b), len(b)%InsnSize)
	}
	n := len(b) / InsnSize
	if n > MaxInsnSlots {
		return nil, Errorf(Pos{File: file, Insn: -1}, "load", "%d instructions is more than the limit of %d", n, MaxInsnSlots)
	}
	insns := make([]Insn, n)
	pendingHi := false // the previous slot opened an ld_imm64
	b = b[:n*InsnSize]
	for i := range insns {
		w := binary.LittleEndian.Uint64(b[i*InsnSize:])
		p := &insns[i]
		p.Op, p.Dst, p.Src = uint8(w), Reg(w>>8)&0x0f, Reg(w>>12)&0x0f
		p.Off, p.Imm = int16(w>>16), int32(w>>32)
		// The second slot of a pair is data even when its opcode byte
		// happens to read as ld_imm64.
		pendingHi = !pendingHi && uint8(w) == LD|IMM|DW
	}
	if pendingHi {
		return nil, Errorf(Pos{File: file, Insn: n - 1}, "load", "ld_imm64 is truncated: its second slot is missing")
	}
	return insns, nil
}

// Raw gives the raw fields, for messages about malformed slots.
func (i Insn) Raw() string {
	return fmt.Sprintf("op %#02x dst %d src %d off %d imm %d", i.Op, i.Dst, i.Src, i.Off, i.Imm)
}
