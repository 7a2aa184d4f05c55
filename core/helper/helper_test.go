package helper_test

import (
	"errors"
	"testing"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

const base = mem.CtxBase

// newEnv maps one page at base holding data.
func newEnv(t *testing.T, data []byte) *helper.Env {
	t.Helper()
	var s mem.Space
	r, err := s.Map("ctx", base, mem.PageSize, mem.Read|mem.Write)
	if err != nil {
		t.Fatal(err)
	}
	copy(r.Data, data)
	t.Cleanup(func() { s.Close() })
	return helper.NewEnv(&s)
}

func call(t *testing.T, env *helper.Env, set core.HelperSet, id int32, args ...uint64) (uint64, error) {
	t.Helper()
	h, ok := helper.Lookup(set, id)
	if !ok {
		t.Fatalf("no helper %d in the %v set", id, set)
	}
	var a [5]uint64
	copy(a[:], args)
	return h.Fn(env, &a)
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		set  core.HelperSet
		id   int32
		name string
	}{
		{core.HelpersConformance, 0, "gather_bytes"},
		{core.HelpersConformance, 5, "unwind"},
		{core.HelpersKernel, kabi.FnKtimeGetNs, "bpf_ktime_get_ns"},
		{core.HelpersKernel, kabi.FnTracePrintk, "bpf_trace_printk"},
		{core.HelpersKernel, kabi.FnGetPrandomU32, "bpf_get_prandom_u32"},
	} {
		h, ok := helper.Lookup(tc.set, tc.id)
		if !ok || h.Name != tc.name {
			t.Errorf("Lookup(%v, %d) = %q %v, want %q", tc.set, tc.id, h.Name, ok, tc.name)
		}
	}
	for _, tc := range []struct {
		set core.HelperSet
		id  int32
	}{{core.HelpersConformance, 6}, {core.HelpersConformance, -1}, {core.HelpersKernel, 0}, {core.HelpersKernel, kabi.FnTailCall}} {
		if h, ok := helper.Lookup(tc.set, tc.id); ok {
			t.Errorf("Lookup(%v, %d) found %q", tc.set, tc.id, h.Name)
		}
	}
	if name, known := helper.Describe(core.HelpersKernel, kabi.FnTailCall); name != "bpf_tail_call" || !known {
		t.Errorf("Describe tail call = %q %v", name, known)
	}
	if name, known := helper.Describe(core.HelpersConformance, 9); name != "unknown helper 9 (conformance set)" || known {
		t.Errorf("Describe 9 = %q %v", name, known)
	}
}

func TestConformanceHelpers(t *testing.T) {
	env := newEnv(t, []byte("abc\x00abd\x00\x00"))
	for _, tc := range []struct {
		name string
		id   int32
		args []uint64
		want uint64
	}{
		{"gather_bytes", 0, []uint64{0x1aa, 0xbb, 0xcc, 0xdd, 0xffee}, 0xaabbccddee},
		{"no_op", 2, []uint64{1, 2, 3}, 0},
		{"sqrti 0", 3, []uint64{0}, 0},
		{"sqrti 1", 3, []uint64{1}, 1},
		{"sqrti 3", 3, []uint64{3}, 1},
		{"sqrti 4", 3, []uint64{4}, 2},
		{"sqrti 2^32", 3, []uint64{1 << 32}, 1 << 16},
		{"sqrti (2^32-1)^2", 3, []uint64{0xfffffffe00000001}, 0xffffffff},
		{"sqrti (2^32-1)^2 - 1", 3, []uint64{0xfffffffe00000000}, 0xfffffffe},
		{"strcmp abc abd", 4, []uint64{base, base + 4}, 0xffffffffffffffff},
		{"strcmp abd abc", 4, []uint64{base + 4, base}, 1},
		{"strcmp abc abc", 4, []uint64{base, base}, 0},
		{"strcmp abc empty", 4, []uint64{base, base + 8}, 'a'},
		{"unwind nonzero", 5, []uint64{42}, 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := call(t, env, core.HelpersConformance, tc.id, tc.args...)
			if err != nil || got != tc.want {
				t.Fatalf("= %#x, %v; want %#x", got, err, tc.want)
			}
		})
	}
	if got, err := call(t, env, core.HelpersConformance, 5, 0); got != 0 || !errors.Is(err, helper.ErrUnwind) {
		t.Errorf("unwind(0) = %#x, %v; want 0, ErrUnwind", got, err)
	}
}

func TestMemoryArguments(t *testing.T) {
	env := newEnv(t, []byte{0x2a, 0x00, 0xff})
	if got, err := call(t, env, core.HelpersConformance, 1, base, 3); err != nil || got != 0 {
		t.Fatalf("memfrob = %v %v", got, err)
	}
	b := env.Mem.Bytes(base, 4, mem.Read)
	if b[0] != 0x00 || b[1] != 0x2a || b[2] != 0xd5 || b[3] != 0 {
		t.Fatalf("after memfrob: % x, want 00 2a d5 00 (the 4th byte is past n)", b)
	}
	if _, err := call(t, env, core.HelpersConformance, 1, 0, 0); err != nil {
		t.Fatalf("memfrob(0, 0): %v, want no access", err)
	}
	for _, tc := range []struct {
		name string
		id   int32
		args []uint64
		want string
	}{
		{"memfrob past the region", 1, []uint64{base + mem.PageSize - 2, 3}, "memfrob: write of 3 bytes at 0xffff888100000ffe: memory fault"},
		{"memfrob huge length", 1, []uint64{base, 1 << 40}, "memfrob: write of 1099511627776 bytes at 0xffff888100000000: memory fault"},
		{"strcmp unmapped", 4, []uint64{8, base}, "strcmp_ext: string at 0x8: memory fault"},
	} {
		_, err := call(t, env, core.HelpersConformance, tc.id, tc.args...)
		if !errors.Is(err, core.ErrFault) || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestKtimeAndPrandom(t *testing.T) {
	env := newEnv(t, nil)
	for i, want := range []uint64{helper.ClockStart, helper.ClockStart + helper.ClockStep} {
		if got, _ := call(t, env, core.HelpersKernel, kabi.FnKtimeGetNs); got != want {
			t.Errorf("ktime call %d = %d, want %d", i, got, want)
		}
	}
	// splitmix64 from state 0 first yields 0xe220a8397b1dcdaf (Vigna's
	// reference implementation); the helper returns the low 32 bits.
	env.Rand = 0
	if got, _ := call(t, env, core.HelpersKernel, kabi.FnGetPrandomU32); got != 0x7b1dcdaf {
		t.Errorf("prandom from state 0 = %#x, want 0x7b1dcdaf", got)
	}
	env.Reset()
	first, _ := call(t, env, core.HelpersKernel, kabi.FnGetPrandomU32)
	second, _ := call(t, env, core.HelpersKernel, kabi.FnGetPrandomU32)
	env.Reset()
	again, _ := call(t, env, core.HelpersKernel, kabi.FnGetPrandomU32)
	if first != again || first == second || first>>32 != 0 || second>>32 != 0 {
		t.Errorf("prandom: first %#x second %#x after reset %#x", first, second, again)
	}
	if got, _ := call(t, env, core.HelpersKernel, kabi.FnKtimeGetNs); got != helper.ClockStart {
		t.Errorf("ktime after reset = %d", got)
	}
}

const einval = 0xffffffffffffffea // -22

func TestTracePrintk(t *testing.T) {
	for _, tc := range []struct {
		name string
		fmt  string // NUL added unless noNul
		args []uint64
		want string
		ret  uint64 // 0: len(want)
	}{
		{"plain", "hello\n", nil, "hello\n", 0},
		{"%d of a negative 32-bit value", "%d", []uint64{0xffffffff}, "-1", 0},
		{"%ld of 64 bits", "%ld", []uint64{0xfffffffffffffffe}, "-2", 0},
		{"%lld", "%lld", []uint64{1 << 40}, "1099511627776", 0},
		{"%u of -1 is 32-bit", "%u", []uint64{0xffffffffffffffff}, "4294967295", 0},
		{"%llu", "%llu", []uint64{0xffffffffffffffff}, "18446744073709551615", 0},
		{"%x %X", "%x %X", []uint64{0xabc, 0xabc}, "abc ABC", 0},
		{"%lx", "%lx", []uint64{0x123456789}, "123456789", 0},
		{"%i", "%i", []uint64{7}, "7", 0},
		{"width and zero pad", "[%5d|%-4d|%05x]", []uint64{42, 7, 0xab}, "[   42|7   |000ab]", 0},
		{"plus on signed only", "%+d %+u", []uint64{5, 5}, "+5 5", 0},
		{"%c", "<%c>", []uint64{0x141}, "<A>", 0},
		{"%c of a high byte is one byte", "%c", []uint64{0xe9}, "\xe9", 0},
		{"%%", "100%%", nil, "100%", 0},
		{"%s", "[%s]", []uint64{base}, "[str]", 0},
		{"%s of a bad pointer prints nothing", "[%s]", []uint64{8}, "[]", 0},
		{"%p", "%p", []uint64{0xffff888100000000}, "ffff888100000000", 0},
		{"%px", "%px!", []uint64{0x10}, "0000000000000010!", 0},
		{"three arguments", "%d %d %d", []uint64{1, 2, 3}, "1 2 3", 0},
		{"four conversions", "%d %d %d %d", []uint64{1, 2, 3}, "", einval},
		{"%f", "%f", []uint64{1}, "", einval},
		{"%pS", "%pS", []uint64{1}, "", einval},
		{"precision", "%.3d", []uint64{1}, "", einval},
		{"dangling %", "x%", nil, "", einval},
		{"control character", "a\x01", nil, "", einval},
		{"non-ASCII", "\xc3\xa9", nil, "", einval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := append([]byte(tc.fmt), 0)
			env := newEnv(t, append([]byte("str\x00"), f...))
			args := append([]uint64{base + 4, uint64(len(f))}, tc.args...)
			got, err := call(t, env, core.HelpersKernel, kabi.FnTracePrintk, args...)
			want := tc.ret
			if want == 0 {
				want = uint64(len(tc.want))
			}
			if err != nil || got != want || string(env.Printk) != tc.want {
				t.Fatalf("= %#x, %v, printed %q; want %#x, %q", got, err, env.Printk, want, tc.want)
			}
		})
	}
	env := newEnv(t, []byte("abc"))
	if got, err := call(t, env, core.HelpersKernel, kabi.FnTracePrintk, base, 3); err != nil || got != einval {
		t.Errorf("format without NUL in fmt_size = %#x %v, want -EINVAL", got, err)
	}
	if got, err := call(t, env, core.HelpersKernel, kabi.FnTracePrintk, base, 0); err != nil || got != einval {
		t.Errorf("fmt_size 0 = %#x %v, want -EINVAL", got, err)
	}
	if _, err := call(t, env, core.HelpersKernel, kabi.FnTracePrintk, 16, 4); !errors.Is(err, core.ErrFault) {
		t.Errorf("unmapped format: %v, want a fault", err)
	}
}
