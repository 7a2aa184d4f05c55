package core

import "testing"

func TestPosOf(t *testing.T) {
	p := &Program{
		SlotPos: []SlotPos{{Line: 3, Col: 5, Origin: 1}, {Line: 4, Origin: -1}, {Line: 7, Col: 1, Origin: 2}},
		Origins: []Origin{{File: "a.o", Section: "tc"}, {File: "a.o", Section: ".text", Source: "return 0;"}},
	}
	for _, tc := range []struct {
		i    int
		want Pos
	}{
		{0, Pos{File: "a.o", Section: ".text", Source: "return 0;", Line: 3, Col: 5, Insn: 0}},
		{1, Pos{Line: 4, Insn: 1}},         // Origin -1: nothing known but the line
		{2, Pos{Line: 7, Col: 1, Insn: 2}}, // an Origin past Origins is unknown too
		{3, Pos{Insn: 3}},                  // past SlotPos
		{-1, Pos{Insn: -1}},
	} {
		if got := p.PosOf(tc.i); got != tc.want {
			t.Errorf("PosOf(%d) = %+v, want %+v", tc.i, got, tc.want)
		}
	}
	if got := p.OriginOf(0); got != p.Origins[1] {
		t.Errorf("OriginOf(0) = %+v", got)
	}
	if got := p.OriginOf(1); got != (Origin{}) {
		t.Errorf("OriginOf(1) = %+v, want the zero Origin", got)
	}
}
