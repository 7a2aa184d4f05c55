package helper_test

import (
	"errors"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/kabi"
	"jitsim/core/maps"
)

// mapEnv is newEnv with an array, a hash map and a prog array.
func mapEnv(t *testing.T) (*helper.Env, *maps.Set) {
	t.Helper()
	env := newEnv(t, nil)
	obj := &core.Object{
		Progs: []*core.Program{{Name: "p", Insns: []core.Insn{{Op: core.JMP | core.Exit}}}},
		Maps: []*core.Map{
			{Name: "arr", Type: core.MapArray, KeySize: 4, ValueSize: 4, MaxEntries: 2},
			{Name: "h", Type: core.MapHash, KeySize: 4, ValueSize: 8, MaxEntries: 1},
			{Name: "jmp", Type: core.MapProgArray, KeySize: 4, ValueSize: 4, MaxEntries: 1},
			{Name: "ro", Type: core.MapArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Section: ".rodata"},
		},
	}
	set, err := maps.New(env.Mem, obj)
	if err != nil {
		t.Fatal(err)
	}
	env.Maps = set
	return env, set
}

// The keys and values the calls pass live in the context page: base+0
// key 0, base+4 key 1, base+8 key 5, base+16 an 8-byte value.
func putArgs(env *helper.Env) {
	env.Mem.Store(base+0, 4, 0)
	env.Mem.Store(base+4, 4, 1)
	env.Mem.Store(base+8, 4, 5)
	env.Mem.Store(base+16, 8, 0x1122334455667788)
}

func TestMapHelpers(t *testing.T) {
	env, set := mapEnv(t)
	putArgs(env)
	arr, h := set.Map(0).Addr(), set.Map(1).Addr()
	neg := func(e int64) uint64 { return uint64(-e) }
	for _, tc := range []struct {
		name string
		id   int32
		args []uint64
		want uint64
	}{
		{"lookup array key 1", kabi.FnMapLookupElem, []uint64{arr, base + 4}, set.Map(0).Place.Values + 8},
		{"lookup array key 5: NULL", kabi.FnMapLookupElem, []uint64{arr, base + 8}, 0},
		{"update array key 1", kabi.FnMapUpdateElem, []uint64{arr, base + 4, base + 16, kabi.BPFAny}, 0},
		{"update array NOEXIST", kabi.FnMapUpdateElem, []uint64{arr, base + 4, base + 16, kabi.BPFNoExist}, neg(17)},
		{"update array key 5", kabi.FnMapUpdateElem, []uint64{arr, base + 8, base + 16, kabi.BPFAny}, neg(7)},
		{"delete from an array", kabi.FnMapDeleteElem, []uint64{arr, base}, neg(22)},
		{"lookup missing hash key", kabi.FnMapLookupElem, []uint64{h, base}, 0},
		{"update hash EXIST on a missing key", kabi.FnMapUpdateElem, []uint64{h, base, base + 16, kabi.BPFExist}, neg(2)},
		{"insert hash key 0", kabi.FnMapUpdateElem, []uint64{h, base, base + 16, kabi.BPFNoExist}, 0},
		{"lookup hash key 0", kabi.FnMapLookupElem, []uint64{h, base}, set.Map(1).Place.Values},
		{"insert a second key into a full hash", kabi.FnMapUpdateElem, []uint64{h, base + 4, base + 16, kabi.BPFAny}, neg(7)},
		{"delete hash key 1: missing", kabi.FnMapDeleteElem, []uint64{h, base + 4}, neg(2)},
		{"delete hash key 0", kabi.FnMapDeleteElem, []uint64{h, base}, 0},
		{"unknown flags", kabi.FnMapUpdateElem, []uint64{h, base, base + 16, 8}, neg(22)},
	} {
		got, err := call(t, env, core.HelpersKernel, tc.id, tc.args...)
		if err != nil || got != tc.want {
			t.Errorf("%s: r0 = %#x, err %v; want %#x", tc.name, got, err, tc.want)
		}
	}
	// The update wrote the array's guest memory, 4 bytes of the value.
	if v, _ := env.Mem.Load(set.Map(0).Place.Values+8, 4); v != 0x55667788 {
		t.Fatalf("array key 1 holds %#x", v)
	}
}

func TestMapHelperErrors(t *testing.T) {
	env, set := mapEnv(t)
	for _, tc := range []struct {
		name string
		id   int32
		args []uint64
		want string
	}{
		{"r1 not a map", kabi.FnMapLookupElem, []uint64{base, base},
			"bpf_map_lookup_elem: r1 = 0xffff888100000000 is not a map (the verifier passes only a map pointer): memory fault"},
		{"a prog array", kabi.FnMapLookupElem, []uint64{set.Map(2).Addr(), base},
			"bpf_map_lookup_elem: map jmp is a prog_array, which only bpf_tail_call takes"},
		{"key pointer unmapped", kabi.FnMapLookupElem, []uint64{set.Map(0).Addr(), 8},
			"bpf_map_lookup_elem key: read of 4 bytes at 0x8: memory fault"},
		{"value pointer unmapped", kabi.FnMapUpdateElem, []uint64{set.Map(1).Addr(), base, 0},
			"bpf_map_update_elem value: read of 8 bytes at 0x0: memory fault"},
		{"update of .rodata", kabi.FnMapUpdateElem, []uint64{set.Map(3).Addr(), base, base}, "bpf_map_update_elem: map ro is read-only to programs"},
	} {
		_, err := call(t, env, core.HelpersKernel, tc.id, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v\nwant  %s", tc.name, err, tc.want)
		}
	}
	env.Maps = nil
	if _, err := call(t, env, core.HelpersKernel, kabi.FnMapDeleteElem, 0, 0); !errors.Is(err, core.ErrFault) || !strings.Contains(err.Error(), "r1 = 0x0 is not a map (the object has no maps)") {
		t.Fatalf("no maps: %v", err)
	}
}

// TestMapValueAliasing: a value pointer from a lookup may be the update's
// own value (copying a value onto itself) without corrupting it.
func TestMapValueAliasing(t *testing.T) {
	env, set := mapEnv(t)
	putArgs(env)
	h := set.Map(1).Addr()
	if r0, err := call(t, env, core.HelpersKernel, kabi.FnMapUpdateElem, h, base, base+16, 0); r0 != 0 || err != nil {
		t.Fatal(r0, err)
	}
	p, _ := call(t, env, core.HelpersKernel, kabi.FnMapLookupElem, h, base)
	if r0, err := call(t, env, core.HelpersKernel, kabi.FnMapUpdateElem, h, base, p, kabi.BPFExist); r0 != 0 || err != nil {
		t.Fatal(r0, err)
	}
	if v, _ := env.Mem.Load(p, 8); v != 0x1122334455667788 {
		t.Fatalf("value %#x", v)
	}
}
