package core

import "testing"

func TestStamp(t *testing.T) {
	fresh := func() *Object {
		return &Object{
			Progs: []*Program{{Name: "p", Insns: []Insn{{Op: ALU64 | Mov | K, Imm: 1}, {Op: JMP | Exit}}}},
			Maps:  []*Map{{Name: "m", Type: MapArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*Object)
		same   bool
	}{
		{"untouched", func(*Object) {}, true},
		{"a slot edited", func(o *Object) { o.Progs[0].Insns[0].Imm = 2 }, false},
		{"a program renamed", func(o *Object) { o.Progs[0].Name = "q" }, false},
		{"a program's type changed", func(o *Object) { o.Progs[0].Type = ProgTypeXDP }, false},
		{"a program added", func(o *Object) { o.Progs = append(o.Progs, &Program{Name: "r"}) }, false},
		{"a map resized", func(o *Object) { o.Maps[0].MaxEntries = 2 }, false},
		{"a map replaced", func(o *Object) { o.Maps[0] = &Map{Name: "m", Type: MapArray, KeySize: 4, ValueSize: 8, MaxEntries: 1} }, false},
	} {
		obj := fresh()
		s := NewStamp(obj)
		tc.change(obj)
		if got := s.Same(obj); got != tc.same {
			t.Errorf("%s: Same = %v, want %v", tc.name, got, tc.same)
		}
	}
	if s := NewStamp(fresh()); s.Same(fresh()) {
		t.Error("an equal but different object counts as the same")
	}
}
