package uc_test

import (
	"testing"
)

// A block costs the marks it covers; the run stops before the block that
// would overspend, with the PC on it and LastBlock naming it; a flagged
// block start calls back into Go before it is charged.
func TestWeightBudget(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			m := newMachine(t, tg.arch, -1)
			m.code(t, tg.base, tg.loop)
			b, err := m.u.NewWeightBudget(tg.base, 4096)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			// Two marks in the loop's block (one per instruction), so each
			// pass costs 2.
			p := b.Prefix()
			for o := range p {
				switch {
				case o > int(tg.loopBody):
					p[o] = 2
				case o > 0:
					p[o] = 1
				}
			}
			var entries int
			flags, err := b.Entries(func(addr uint64) {
				if addr != tg.base {
					t.Errorf("entry callback at %#x, want %#x", addr, tg.base)
				}
				entries++
			})
			if err != nil {
				t.Fatal(err)
			}
			flags[0] = 1
			for _, left := range []uint64{21, 20} {
				m.setReg(t, tg.res, 0)
				entries = 0
				b.SetLeft(left)
				if err := m.u.Start(tg.base, 0, 0, 0); err != nil {
					t.Fatal(err)
				}
				rem, hit := b.Left()
				addr, size := b.LastBlock()
				// 10 passes fit either budget; the 11th is refused.
				if res, pc := m.reg(t, tg.res), m.reg(t, tg.pc); res != 10 || pc != tg.base || !hit || rem != left-20 {
					t.Errorf("left %d: res %d, pc %#x, hit %v, left %d; want 10, %#x, true, %d", left, res, pc, hit, rem, tg.base, left-20)
				}
				if addr != tg.base || uint64(size) != uint64(len(tg.loop)) || entries != 11 {
					t.Errorf("left %d: last block %#x+%d, %d entry calls; want %#x+%d, 11", left, addr, size, entries, tg.base, len(tg.loop))
				}
			}
		})
	}
}
