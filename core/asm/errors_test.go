package asm_test

import (
	"errors"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
)

func TestErrors(t *testing.T) {
	farJump := "ja far\n" + strings.Repeat("exit\n", 40000) + "far: exit\n"
	for _, tc := range []struct {
		src, pos, frag string
	}{
		{"mov %r11, 1", "t.s:1:5", `expected register, found "%r11"`},
		{"r0 = 1\nr11 = 2", "t.s:2:1", `expected register, found "r11"`},
		{"w1 += r2", "t.s:1:7", `expected a 32-bit w register, found "r2"`},
		{"%r1 = 1", "t.s:1:1", `expected instruction, found "%r1"`},
		{"frob %r0", "t.s:1:1", `unknown instruction "frob"`},
		{"mov %r0", "t.s:1:1", "mov takes 2 operands, found 1"},
		{"  neg %r0, 1", "t.s:1:3", "neg takes 1 operand, found 2"},
		{"jeq %r1, 1", "t.s:1:1", "jeq takes 3 operands, found 2"},
		{"ja +40000", "t.s:1:4", "offset +40000 is out of 16-bit range"},
		{"ja 3", "t.s:1:4", `expected jump target (+N, -N, pc+N or a label), found "3"`},
		{"goto L", "t.s:1:6", `unknown label "L"`},
		{"L:\nexit\nL: exit", "t.s:3:1", `duplicate label "L" (first defined at t.s:1:1)`},
		{"r1: exit", "t.s:1:1", `label "r1" is a register name`},
		{farJump, "t.s:1:4", "jump to far is 40000 slots away, more than a 16-bit offset holds (use gotol)"},
		{"r1 = 0x100000000", "t.s:1:6", "immediate 0x100000000 is out of 32-bit range"},
		{"r1 = 2147483648", "t.s:1:6", "immediate 2147483648 is out of 32-bit range"},
		{"lddw %r0, 0x1ffffffffffffffff", "t.s:1:11", "number 0x1ffffffffffffffff does not fit 64 bits"},
		{"r1 = 5 ll 6", "t.s:1:11", `unexpected "6" after instruction`},
		{"r0 = 1 2", "t.s:1:8", `unexpected "2" after instruction`},
		{"w1 = 1 ll", "t.s:1:1", "ld_imm64 loads a 64-bit r register"},
		{"r1 = -r2", "t.s:1:7", "neg must name the same register on both sides"},
		{"r1 = be16 r2", "t.s:1:13", "be16 must name the same register on both sides"},
		{"r0 = (s64)r1", "t.s:1:7", `expected (s8), (s16) or (s32), found "s64"`},
		{"r0 = *(u128 *)(r1 +0)", "t.s:1:8", `expected u8, u16, u32, u64, s8, s16 or s32, found "u128"`},
		{"r0 = *(u32 *)(r1 +0x10000)", "t.s:1:18", "offset +0x10000 is out of 16-bit range"},
		{"w0 = *(u64 *)(r1 +0)", "t.s:1:1", "a 64-bit or sign-extending load needs an r register"},
		{"r3 = *(u8 *)skb[1]", "t.s:1:1", "legacy packet loads always load into r0"},
		{"*(s32 *)(r1 +0) = 1", "t.s:1:1", "stores take an unsigned size"},
		{"*(u64 *)(r1 +0) = w1", "t.s:1:1", "a 64-bit store needs an r register"},
		{"if r1 ~ 3 goto +1", "t.s:1:7", `expected comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &), found "~"`},
		{"if r1 > 3 goto", "t.s:1:15", "expected jump target (+N, -N, pc+N or a label), found end of line"},
		{"if r1 > 3 jump +1", "t.s:1:11", `expected goto, found "jump"`},
		{"lock *(u8 *)(r1 +0) += r2", "t.s:1:7", "atomic operations are u32 or u64"},
		{"lock *(u64 *)(r1 +0) -= r2", "t.s:1:22", `expected +=, |=, &= or ^= after lock *(...), found "-"`},
		{"lock frob [%r1], %r2", "t.s:1:6", `unknown atomic operation "frob" after lock`},
		{"r1 = atomic_fetch_add((u64 *)(r2 +0), r3)", "t.s:1:39", "atomic_fetch_add returns the old value into its source register, so both must be r1"},
		{"r1 = atomic64_cmpxchg((u64 *)(r2 +0), r0, r3)", "t.s:1:1", "cmpxchg returns the old value in r0"},
		{"r0 = atomic64_fetch_add((u32 *)(r2 +0), r0)", "t.s:1:25", "atomic64_fetch_add needs (u64 *)"},
		{"call nothing", "t.s:1:6", `unknown label or kernel helper "nothing"`},
		{"call bpf_map_lookup_elem#2", "t.s:1:6", "helper bpf_map_lookup_elem is id 1 in the kernel helper set, not 2"},
		{"call local nowhere", "t.s:1:12", `unknown label "nowhere"`},
		{"r1 = map[nope] ll", "t.s:1:10", `unknown map "nope"`},
		{"r1 = map[m][1]+0", "t.s:1:13", `expected [0]+offset after map[m]`},
		{".map m array key=8 value=4 max=1", "t.s:1:1", "array map m needs key=4"},
		{".map m stack key=4 value=4 max=1", "t.s:1:8", `unknown map type "stack"`},
		{".map m hash key=4 value=4", "t.s:1:1", "map m needs key=, value= and max= greater than 0"},
		{".map m hash key=4 value=4 max=1 max=2", "t.s:1:33", "max= given twice"},
		{".map m array key=4 value=4 max=1\n.map m hash key=4 value=4 max=1", "t.s:2:1", `map "m" already defined at t.s:1:1`},
		{".map m array key=4 value=4 max=1\n.elem m 1 0", "t.s:2:9", "key 1 is past the end of array m (max 1)"},
		{".map m array key=4 value=4 max=2\n.elem m 0 0\n.elem m 0 1", "t.s:3:9", "map m already has key 0"},
		{".map m array key=4 value=2 max=1\n.elem m 0 0x10000", "t.s:2:11", "value 0x10000 does not fit 2 bytes"},
		{".map m array key=4 value=2 max=1\n.elem m 0 [01 02 03]", "t.s:2:11", "value has 3 bytes, the map's size is 2"},
		{".elem m 0 0", "t.s:1:7", `expected a map declared by .map, found "m"`},
		{".map m array key=4 value=4 max=1\n.slot m 0 p", "t.s:2:7", "m is a array map; .slot fills prog_array maps"},
		{".map pa prog_array key=4 value=4 max=2\n.slot pa 2 p", "t.s:2:10", "slot 2 is past the end of pa (max 2)"},
		{".map pa prog_array key=4 value=4 max=2\n.slot pa 0 nowhere\nexit", "t.s:2:12", `no program "nowhere" for slot 0 of pa`},
		{".prog a\nexit\n.prog a\nexit", "t.s:3:1", `program "a" already defined at t.s:1:1`},
		{".prog a frobnicator", "t.s:1:9", `unknown program type "frobnicator"`},
		{".helpers bsd", "t.s:1:10", `expected kernel or conformance after .helpers, found "bsd"`},
		{".bogus", "t.s:1:1", `unknown directive ".bogus"`},
		{".raw 07 00", "t.s:1:11", "expected 8 bytes as two hex digits each after .raw, found end of line"},
		{"r0 = 1 /* unterminated", "t.s:1:1", "unterminated /* comment"},
	} {
		t.Run(tc.frag, func(t *testing.T) {
			obj, err := asm.Parse("t.s", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; got %d programs", len(obj.Progs))
			}
			var e *core.Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T %v is not a *core.Error", err, err)
			}
			want := tc.pos + ": parse: " + tc.frag
			if e.Op != "parse" || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %q\nwant prefix %q", err, want)
			}
		})
	}
}
