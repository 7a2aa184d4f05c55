package interp_test

import (
	"fmt"

	"jitsim/core"
)

// A small builder for test programs, one function per instruction shape.
// Each returns []core.Insn so that ld_imm64's two slots and single slots
// join the same way: prog(mov(r0, 1), ldImm64(r1, x), exit()).

func prog(parts ...[]core.Insn) []core.Insn {
	var out []core.Insn
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(i core.Insn) []core.Insn { return []core.Insn{i} }

// alu64 is "dst op= imm", alu64x "dst op= src"; alu32/alu32x the w forms.
func alu64(op uint8, dst core.Reg, imm int32) []core.Insn {
	return one(core.Insn{Op: core.ALU64 | core.K | op, Dst: dst, Imm: imm})
}
func alu64x(op uint8, dst, src core.Reg) []core.Insn {
	return one(core.Insn{Op: core.ALU64 | core.X | op, Dst: dst, Src: src})
}
func alu32(op uint8, dst core.Reg, imm int32) []core.Insn {
	return one(core.Insn{Op: core.ALU | core.K | op, Dst: dst, Imm: imm})
}
func alu32x(op uint8, dst, src core.Reg) []core.Insn {
	return one(core.Insn{Op: core.ALU | core.X | op, Dst: dst, Src: src})
}

// sdivmod builds the signed forms (Off 1) of div and mod.
func sdivmod(class, src uint8, op uint8, dst, sreg core.Reg, imm int32) []core.Insn {
	return one(core.Insn{Op: class | src | op, Dst: dst, Src: sreg, Off: 1, Imm: imm})
}

// movsx is "dst = (sN)src" for ALU64 or ALU.
func movsx(class uint8, dst, src core.Reg, bits int16) []core.Insn {
	return one(core.Insn{Op: class | core.X | core.Mov, Dst: dst, Src: src, Off: bits})
}

func mov(dst core.Reg, imm int32) []core.Insn { return alu64(core.Mov, dst, imm) }

func ldImm64(dst core.Reg, v uint64) []core.Insn {
	p := core.LdImm64(dst, 0, v)
	return p[:]
}

// end is le/be (ALU, src ToLE/ToBE) or bswap (ALU64, ToLE).
func end(class, src uint8, dst core.Reg, bits int32) []core.Insn {
	return one(core.Insn{Op: class | src | core.End, Dst: dst, Imm: bits})
}

func jmp(class, op uint8, dst core.Reg, imm int32, off int16) []core.Insn {
	return one(core.Insn{Op: class | core.K | op, Dst: dst, Imm: imm, Off: off})
}
func jmpx(class, op uint8, dst, src core.Reg, off int16) []core.Insn {
	return one(core.Insn{Op: class | core.X | op, Dst: dst, Src: src, Off: off})
}
func ja(off int16) []core.Insn    { return one(core.Insn{Op: core.JMP | core.JA, Off: off}) }
func gotol(off int32) []core.Insn { return one(core.Insn{Op: core.JMP32 | core.JA, Imm: off}) }

func ldx(size uint8, dst, src core.Reg, off int16) []core.Insn {
	return one(core.Insn{Op: core.LDX | core.MEM | size, Dst: dst, Src: src, Off: off})
}
func ldxs(size uint8, dst, src core.Reg, off int16) []core.Insn {
	return one(core.Insn{Op: core.LDX | core.MEMSX | size, Dst: dst, Src: src, Off: off})
}
func st(size uint8, dst core.Reg, off int16, imm int32) []core.Insn {
	return one(core.Insn{Op: core.ST | core.MEM | size, Dst: dst, Off: off, Imm: imm})
}
func stx(size uint8, dst, src core.Reg, off int16) []core.Insn {
	return one(core.Insn{Op: core.STX | core.MEM | size, Dst: dst, Src: src, Off: off})
}
func atomic(size uint8, op int32, dst, src core.Reg, off int16) []core.Insn {
	return one(core.Insn{Op: core.STX | core.ATOMIC | size, Dst: dst, Src: src, Off: off, Imm: op})
}

func call(id int32) []core.Insn { return one(core.Insn{Op: core.JMP | core.Call, Imm: id}) }
func callx(r core.Reg) []core.Insn {
	return one(core.Insn{Op: core.JMP | core.Call | core.X, Dst: r})
}
func callLocal(off int32) []core.Insn {
	return one(core.Insn{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: off})
}
func exit() []core.Insn { return one(core.Insn{Op: core.JMP | core.Exit}) }

func object(set core.HelperSet, insns []core.Insn) *core.Object {
	return &core.Object{File: "test.s", Helpers: set, Progs: []*core.Program{{Name: "test", Insns: insns}}}
}

// withPos gives every slot a source line, "test.s:line" = slot+1.
func withPos(obj *core.Object) *core.Object {
	p := obj.Progs[0]
	p.SlotPos = make([]core.SlotPos, len(p.Insns))
	for i := range p.SlotPos {
		p.SlotPos[i] = core.SlotPos{Line: int32(i + 1)}
	}
	p.Origins = []core.Origin{{File: obj.File}}
	return obj
}

var _ = fmt.Sprint
