package maps_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/kabi"
	"jitsim/core/maps"
	"jitsim/core/mem"
)

// ldMap is "r2 = map[m] ll", the reference that makes a program a user of
// map m.
func ldMap(m int32) []core.Insn {
	p := core.LdImm64(core.R2, core.PseudoMapFD, uint64(uint32(m)))
	return p[:]
}

var exitInsn = core.Insn{Op: core.JMP | core.Exit}

// testObject has one map of each kind and two tc programs, entry
// referencing the prog array.
func testObject() *core.Object {
	entry := append(ldMap(2), exitInsn)
	return &core.Object{
		File: "t.s",
		Progs: []*core.Program{
			{Name: "entry", Type: core.ProgTypeSchedCLS, Insns: entry},
			{Name: "leaf", Type: core.ProgTypeSchedCLS, Insns: []core.Insn{exitInsn}},
		},
		Maps: []*core.Map{
			{Name: "arr", Type: core.MapArray, KeySize: 4, ValueSize: 12, MaxEntries: 3,
				Entries: []core.MapEntry{{Key: maps.Key(2), Value: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}}},
			{Name: "h", Type: core.MapHash, KeySize: 2, ValueSize: 8, MaxEntries: 2,
				Entries: []core.MapEntry{{Key: []byte{7, 0}, Value: []byte{0x2a, 0, 0, 0, 0, 0, 0, 0}}}},
			{Name: "jmp", Type: core.MapProgArray, KeySize: 4, ValueSize: 4, MaxEntries: 4,
				Progs: map[uint32]string{1: "leaf"}},
			{Name: "bss", Type: core.MapArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Section: ".bss"},
		},
	}
}

func newSet(t *testing.T, obj *core.Object) (*maps.Set, *mem.Space) {
	t.Helper()
	var sp mem.Space
	t.Cleanup(func() { sp.Close() })
	s, err := maps.New(&sp, obj)
	if err != nil {
		t.Fatal(err)
	}
	return s, &sp
}

// TestLayout pins the guest addresses: every engine and xlate compute
// the same ones, so they are part of the contract.
func TestLayout(t *testing.T) {
	lay, err := maps.Plan(testObject())
	if err != nil {
		t.Fatal(err)
	}
	want := []maps.Placement{
		// bpf_array header then 3 values of round_up(12, 8) = 16 bytes.
		{Addr: mem.MapBase, Size: 0x110 + 3*16, ElemSize: 16, Values: mem.MapBase + 0x110},
		// the next page after arr's page and its guard page
		{Addr: mem.MapBase + 0x2000, Size: 0x110 + 2*(8+8+8), ElemSize: 24, Values: mem.MapBase + 0x2000 + 0x110 + 8 + 8},
		{Addr: mem.MapBase + 0x4000, Size: 0x110 + 4*8, ElemSize: 8, Values: mem.MapBase + 0x4000 + 0x110},
		{Addr: mem.GlobalBase, Size: 0x110 + 8, ElemSize: 8, Values: mem.GlobalBase + 0x110},
	}
	if !slices.Equal(lay.Maps, want) {
		t.Fatalf("maps:\n got %+v\nwant %+v", lay.Maps, want)
	}
	if want := []uint64{maps.ProgBase, maps.ProgBase + kabi.ProgObjSize}; !slices.Equal(lay.Progs, want) {
		t.Fatalf("progs %#x, want %#x", lay.Progs, want)
	}
	if i, ok := lay.MapAt(mem.MapBase + 0x4000); !ok || i != 2 {
		t.Fatalf("MapAt(jmp) = %d, %v", i, ok)
	}
	if _, ok := lay.MapAt(mem.MapBase + 0x110); ok {
		t.Fatal("MapAt found a map at a value address")
	}
	if i, ok := lay.ProgAt(maps.ProgBase + kabi.ProgObjSize); !ok || i != 1 {
		t.Fatalf("ProgAt(leaf) = %d, %v", i, ok)
	}
	for _, a := range []uint64{maps.ProgBase + 8, maps.ProgBase + 2*kabi.ProgObjSize, 0} {
		if _, ok := lay.ProgAt(a); ok {
			t.Errorf("ProgAt(%#x) found a program", a)
		}
	}
	if got := lay.ValueAddr(3, 2); got != mem.GlobalBase+0x112 {
		t.Fatalf("ValueAddr(bss, 2) = %#x", got)
	}
}

// TestObjects checks the bytes JITed code reads: max_entries and ptrs[]
// of struct bpf_array, bpf_func of struct bpf_prog.
func TestObjects(t *testing.T) {
	s, sp := newSet(t, testObject())
	jmp := s.Map(2)
	if got, _ := sp.Load(jmp.Addr()+kabi.ArrayMaxEntriesOff, 4); got != 4 {
		t.Fatalf("max_entries = %d", got)
	}
	if got, _ := sp.Load(jmp.Addr()+kabi.ArrayPtrsOff+8, 8); got != s.ProgAddr(1) {
		t.Fatalf("ptrs[1] = %#x, want leaf's bpf_prog %#x", got, s.ProgAddr(1))
	}
	for _, k := range []uint64{0, 2, 3} {
		if got, _ := sp.Load(jmp.Addr()+kabi.ArrayPtrsOff+8*k, 8); got != 0 {
			t.Fatalf("ptrs[%d] = %#x, want empty", k, got)
		}
	}
	if got, _ := sp.Load(s.Map(0).Addr()+maps.ArrayElemSizeOff, 4); got != 16 {
		t.Fatalf("elem_size = %d", got)
	}
	if got, _ := sp.Load(s.Map(0).Addr()+maps.ArrayIndexMask, 4); got != 3 {
		t.Fatalf("index_mask = %d, want roundup_pow_of_two(3)-1", got)
	}
	if got, _ := sp.Load(s.Map(1).Addr()+maps.MapTypeOff, 4); got != uint64(core.MapHash) {
		t.Fatalf("map_type = %d", got)
	}
	s.SetBpfFunc(1, 0xffffffffc0001000)
	if got, _ := sp.Load(s.ProgAddr(1)+kabi.ProgBpfFuncOff, 8); got != 0xffffffffc0001000 || s.BpfFunc(1) != 0xffffffffc0001000 {
		t.Fatalf("bpf_func = %#x", got)
	}
	// Programs may read but never write prog arrays and struct bpf_prog.
	if sp.Store(jmp.Addr()+kabi.ArrayPtrsOff, 8, 1) || sp.Store(s.ProgAddr(0), 8, 1) {
		t.Fatal("a program could write a prog array or a struct bpf_prog")
	}
	if !sp.Store(s.Map(3).Place.Values, 4, 5) {
		t.Fatal("a program could not write .bss")
	}
	// An access running off a map's end faults: the next page is a guard.
	if _, ok := sp.Load(s.Map(0).Addr()+mem.PageSize, 1); ok {
		t.Fatal("the page after a map is mapped")
	}
	if len(s.Regions()) != 5 {
		t.Fatalf("%d regions, want 4 maps and the programs", len(s.Regions()))
	}
}

func TestArray(t *testing.T) {
	s, _ := newSet(t, testObject())
	arr := s.Map(0)
	if got := arr.Value(maps.Key(2)); !slices.Equal(got, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("initial value %x", got)
	}
	if got := arr.LookupAddr(maps.Key(1)); got != arr.Place.Values+16 {
		t.Fatalf("lookup key 1 = %#x", got)
	}
	if got := arr.LookupAddr(maps.Key(3)); got != 0 {
		t.Fatalf("lookup past the end = %#x, want NULL", got)
	}
	v := slices.Repeat([]byte{0xee}, 12)
	for _, tc := range []struct {
		key   uint32
		flags uint64
		want  error
	}{
		{0, kabi.BPFAny, nil},
		{0, kabi.BPFExist, nil},
		{0, kabi.BPFNoExist, maps.EEXIST}, // every element of an array exists
		{3, kabi.BPFAny, maps.E2BIG},
		{3, kabi.BPFNoExist, maps.E2BIG}, // the index is checked first
		{0, 4, maps.EINVAL},
	} {
		if err := arr.Update(maps.Key(tc.key), v, tc.flags); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("update key %d flags %d: %v, want %v", tc.key, tc.flags, err, tc.want)
		}
	}
	if got := arr.Value(maps.Key(0)); !slices.Equal(got, v) {
		t.Fatalf("value after update %x", got)
	}
	if err := arr.Delete(maps.Key(0)); !errors.Is(err, maps.EINVAL) {
		t.Fatalf("array delete: %v, want EINVAL", err)
	}
	s.Reset()
	if got := arr.Value(maps.Key(0)); !slices.Equal(got, make([]byte, 12)) {
		t.Fatalf("value after Reset %x", got)
	}
}

func TestHash(t *testing.T) {
	s, _ := newSet(t, testObject())
	h := s.Map(1)
	a7 := h.LookupAddr([]byte{7, 0})
	if a7 != h.Place.Values || h.Value([]byte{7, 0})[0] != 0x2a {
		t.Fatalf("initial element at %#x, want the first element %#x", a7, h.Place.Values)
	}
	if h.LookupAddr([]byte{8, 0}) != 0 {
		t.Fatal("missing key found")
	}
	val := func(b byte) []byte { return []byte{b, 0, 0, 0, 0, 0, 0, 0} }
	steps := []struct {
		key   byte
		flags uint64
		want  error
	}{
		{8, kabi.BPFExist, maps.ENOENT},
		{8, kabi.BPFNoExist, nil},
		{8, kabi.BPFNoExist, maps.EEXIST},
		{9, kabi.BPFAny, maps.E2BIG}, // max_entries 2: full
		{7, kabi.BPFAny, nil},        // replacing needs no free element
		{7, 3, maps.EINVAL},
	}
	for _, st := range steps {
		if err := h.Update([]byte{st.key, 0}, val(st.key), st.flags); !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
			t.Errorf("update %d flags %d: %v, want %v", st.key, st.flags, err, st.want)
		}
	}
	// An update in place keeps the value pointer valid.
	if h.LookupAddr([]byte{7, 0}) != a7 || h.Value([]byte{7, 0})[0] != 7 {
		t.Fatal("replacing moved the element or lost the value")
	}
	if err := h.Delete([]byte{9, 0}); !errors.Is(err, maps.ENOENT) {
		t.Fatalf("delete missing: %v", err)
	}
	if err := h.Delete([]byte{7, 0}); err != nil {
		t.Fatal(err)
	}
	if err := h.Update([]byte{9, 0}, val(9), kabi.BPFAny); err != nil {
		t.Fatalf("insert after delete: %v", err)
	}
	// The freed element is reused (the freelist is a stack).
	if h.LookupAddr([]byte{9, 0}) != a7 {
		t.Fatalf("9 at %#x, want the freed element %#x", h.LookupAddr([]byte{9, 0}), a7)
	}
	got := h.Entries()
	if len(got) != 2 || got[0].Key[0] != 8 || got[1].Key[0] != 9 || got[1].Value[0] != 9 {
		t.Fatalf("entries %v", got)
	}
	s.Reset()
	if got := h.Entries(); len(got) != 1 || got[0].Key[0] != 7 || got[0].Value[0] != 0x2a {
		t.Fatalf("entries after Reset %v", got)
	}
}

func TestProgArray(t *testing.T) {
	obj := testObject()
	obj.Progs = append(obj.Progs, &core.Program{Name: "x", Type: core.ProgTypeXDP, Insns: []core.Insn{exitInsn}})
	s, sp := newSet(t, obj)
	type change struct {
		m    int
		key  uint32
		prog int
	}
	var heard []change
	s.OnSlot(func(m int, key uint32, prog int) { heard = append(heard, change{m, key, prog}) })
	if p, ok := s.Map(2).Slot(1); !ok || p != 1 {
		t.Fatalf("slot 1 = %d, %v", p, ok)
	}
	if err := s.SetSlot(2, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSlot(2, 4, 0); !errors.Is(err, maps.E2BIG) {
		t.Fatalf("slot past the end: %v", err)
	}
	// entry (sched_cls) uses the array: an XDP program does not fit.
	if err := s.SetSlot(2, 2, 2); !errors.Is(err, maps.EINVAL) {
		t.Fatalf("xdp program in a sched_cls array: %v", err)
	}
	if err := s.ClearSlot(2, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearSlot(2, 1); !errors.Is(err, maps.ENOENT) {
		t.Fatalf("clearing an empty slot: %v, want ENOENT", err)
	}
	if got, _ := sp.Load(s.Map(2).Addr()+kabi.ArrayPtrsOff, 8); got != s.ProgAddr(0) {
		t.Fatalf("ptrs[0] = %#x", got)
	}
	s.Reset() // slot 0 back to empty, slot 1 back to leaf
	want := []change{{2, 0, 0}, {2, 1, -1}, {2, 0, -1}, {2, 1, 1}}
	if !slices.Equal(heard, want) {
		t.Fatalf("OnSlot heard %v, want %v", heard, want)
	}
	if e := s.Map(2).Entries(); len(e) != 1 || binary.LittleEndian.Uint32(e[0].Key) != 1 || binary.LittleEndian.Uint32(e[0].Value) != 1 {
		t.Fatalf("entries %v", e)
	}
	if err := s.Map(2).Update(maps.Key(0), []byte{0, 0, 0, 0}, 0); !errors.Is(err, maps.EINVAL) {
		t.Fatalf("value update of a prog array: %v", err)
	}
}

// TestSnapshot: the bytes two engines' maps compare by.
func TestSnapshot(t *testing.T) {
	s, sp := newSet(t, testObject())
	before := s.Snapshot()
	sp.Store(s.Map(3).Place.Values, 4, 33)
	after := s.Snapshot()
	if slices.Equal(before[3], after[3]) || !slices.Equal(before[0], after[0]) {
		t.Fatal("snapshot does not follow guest memory")
	}
	if v, err := s.Map(3).Uint(); err != nil || v != 33 {
		t.Fatalf("Uint = %d, %v", v, err)
	}
	if _, err := s.Map(0).Uint(); err == nil || !strings.Contains(err.Error(), "12-byte values") {
		t.Fatalf("Uint of a 12-byte value: %v", err)
	}
	if m, ok := s.Lookup("bss"); !ok || m.Index != 3 {
		t.Fatal("Lookup by name")
	}
}

func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*core.Object)
		want string
	}{
		{"zero entries", func(o *core.Object) { o.Maps[0].MaxEntries = 0 },
			"t.s: xlate: map arr: max_entries is 0"},
		{"array key size", func(o *core.Object) { o.Maps[0].KeySize = 8 },
			"xlate: map arr: an array needs key_size 4 and a value, has key 8 value 12"},
		{"prog array value size", func(o *core.Object) { o.Maps[2].ValueSize = 8 },
			"xlate: map jmp: a prog_array needs key_size 4 and value_size 4, has 4 and 8"},
		{"slot past the end", func(o *core.Object) { o.Maps[2].Progs[9] = "leaf" },
			"xlate: map jmp: slot 9 is past max_entries 4"},
		{"slot names no program", func(o *core.Object) { o.Maps[2].Progs[0] = "nope" },
			`xlate: map jmp: slot 0 names program "nope", which the object does not have`},
		{"section with two entries", func(o *core.Object) { o.Maps[3].MaxEntries = 2 },
			"xlate: map bss: global data section .bss is a single-entry array, has max_entries 2"},
		{"entry of the wrong size", func(o *core.Object) { o.Maps[1].Entries[0].Value = []byte{1} },
			"xlate: map h: an entry has a 2-byte key and 1-byte value, the map 2 and 8"},
		{"too big", func(o *core.Object) { o.Maps[0].MaxEntries = 1 << 30 },
			"xlate: map arr: needs 17179869456 bytes of guest memory, more than jitsim's limit of 67108864"},
		{"unsupported type", func(o *core.Object) { o.Maps[0].Type = 9 },
			"xlate: map arr: type map_type(9): not supported"},
		{"program of another type in a slot", func(o *core.Object) { o.Progs[1].Type = core.ProgTypeXDP },
			"entry: (insn 0): xlate: prog_array jmp: slot 1 holds leaf, a xdp program, but entry, a sched_cls program, tail-calls through it (bpf_prog_map_compatible)"},
		{"two users of different types", func(o *core.Object) {
			o.Progs[1].Type = core.ProgTypeXDP
			o.Progs[1].Insns = append(ldMap(2), exitInsn)
		}, "leaf: (insn 0): xlate: prog_array jmp is used by entry, a sched_cls program; leaf is xdp (bpf_prog_map_compatible: one program type per prog_array)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := testObject()
			tc.edit(obj)
			_, err := maps.Plan(obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
			if _, ok := errors.AsType[*core.Error](err); !ok {
				t.Fatalf("%T is not a *core.Error", err)
			}
		})
	}
}

// TestSlotsOwnedBySlots: with no program referencing the array, the first
// slot's program fixes its type.
func TestSlotsOwnedBySlots(t *testing.T) {
	obj := testObject()
	obj.Progs[0].Insns = []core.Insn{exitInsn}
	obj.Maps[2].Progs[3] = "entry"
	obj.Progs[0].Type = core.ProgTypeXDP
	_, err := maps.Plan(obj)
	want := "xlate: map jmp: slot 3 holds entry, a xdp program, but another slot holds leaf, a sched_cls program (bpf_prog_map_compatible)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
