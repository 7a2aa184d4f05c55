package xlate_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/load"
	"jitsim/core/xlate"
)

// FuzzKernelCtx: any program the verifier-lite accepts, with a kernel
// context of any modelled type, xlates to a result or a *core.Error, never
// a panic; a result xlates again to itself (the rewrites clear KernelCtx),
// keeps a position per slot and function bounds in order.
func FuzzKernelCtx(f *testing.F) {
	for _, seed := range [][]byte{
		raw(core.Insn{Op: core.LDX | core.MEM | core.W, Src: core.R1}, core.Insn{Op: core.JMP | core.Exit}),
		raw(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: core.R6, Src: core.R1},
			core.Insn{Op: core.LD | core.ABS | core.H, Imm: 12},
			core.Insn{Op: core.JMP | core.JEQ | core.K, Dst: core.R0, Off: -2},
			core.Insn{Op: core.JMP | core.Exit}),
		raw(core.Insn{Op: core.STX | core.MEM | core.W, Dst: core.R1, Src: core.R2, Off: 8},
			core.Insn{Op: core.LDX | core.MEM | core.B, Dst: core.R0, Src: core.R1, Off: 17},
			core.Insn{Op: core.JMP | core.Exit}),
	} {
		for typ := range uint8(4) {
			f.Add(seed, typ)
		}
	}
	if data, err := os.ReadFile("../../examples/seed/demo.o"); err == nil {
		if obj, err := load.ELF("demo.o", data); err == nil {
			for _, p := range obj.Progs {
				f.Add(raw(p.Insns...), uint8(1))
			}
		}
	}
	types := []core.ProgType{core.ProgTypeSocketFilter, core.ProgTypeSchedCLS, core.ProgTypeSchedAct, core.ProgTypeXDP}
	f.Fuzz(func(t *testing.T, code []byte, typ uint8) {
		insns, err := core.DecodeRaw("f.bin", code)
		if err != nil {
			return
		}
		obj := &core.Object{File: "f.bin", Progs: []*core.Program{{Name: "f", Type: types[int(typ)%len(types)], Insns: insns,
			SlotPos: make([]core.SlotPos, len(insns)), Origins: []core.Origin{{File: "f.bin"}}, KernelCtx: true}}}
		if analysis.Check(obj) != nil {
			return
		}
		x, err := xlate.Object(obj)
		if err != nil {
			if _, ok := errors.AsType[*core.Error](err); !ok {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		p := x.Progs[0]
		if len(p.SlotPos) != len(p.Insns) {
			t.Fatalf("%d positions for %d slots", len(p.SlotPos), len(p.Insns))
		}
		for k, fn := range p.Funcs {
			if fn.Start > fn.End || fn.End > len(p.Insns) || (k > 0 && fn.Start < p.Funcs[k-1].End) {
				t.Fatalf("funcs %+v for %d slots", p.Funcs, len(p.Insns))
			}
		}
		again, err := xlate.Object(x)
		if err != nil || !slices.Equal(again.Progs[0].Insns, p.Insns) {
			t.Fatalf("xlate of xlated code: %v", err)
		}
	})
}

func raw(insns ...core.Insn) []byte { return core.EncodeInsns(insns) }
