package analysis_test

import (
	"errors"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
)

// FuzzCheck: any slot array gives an error with a position or facts that
// hold together, never a panic or a hang.
func FuzzCheck(f *testing.F) {
	f.Add(core.EncodeInsns([]core.Insn{mov0, exit}), false)
	f.Add(core.EncodeInsns([]core.Insn{call(1), exit, ins(core.ST|core.MEM|core.DW, core.R10, 0, -8, 0), exit}), true)
	f.Add(core.EncodeInsns(cat(ld64(2, core.PseudoMapFD, mapJmp), helper(12), ins(core.ALU64|core.Mov|core.X, 1, 10, 0, 0),
		ins(core.ALU64|core.Add|core.K, 1, 0, 0, -16), ins(core.JMP|core.JNE|core.X, 1, 10, -2, 0), exit)), false)
	f.Fuzz(func(t *testing.T, raw []byte, conformance bool) {
		insns, err := core.DecodeRaw("fuzz", raw)
		if err != nil {
			return
		}
		p := &core.Program{Name: "p", Type: core.ProgTypeSchedCLS, Insns: insns}
		obj := &core.Object{Progs: []*core.Program{p}, Maps: testMaps}
		if conformance {
			obj.Helpers = core.HelpersConformance
		}
		if err := analysis.Check(obj); err != nil {
			var e *core.Error
			if !errors.As(err, &e) || e.Op != "verify" {
				t.Fatalf("error %v is not a verify *core.Error", err)
			}
			return
		}
		end := 0
		for _, fn := range p.Funcs {
			if fn.Start != end || fn.End <= fn.Start || fn.StackDepth < 0 || fn.StackDepth > 512 || fn.StackDepth%8 != 0 {
				t.Fatalf("bad Funcs %+v for %d slots", p.Funcs, len(insns))
			}
			end = fn.End
		}
		if end != len(insns) {
			t.Fatalf("Funcs %+v end at %d of %d slots", p.Funcs, end, len(insns))
		}
	})
}
