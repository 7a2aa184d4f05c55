package arm64

import (
	"slices"
	"testing"

	"jitsim/core"
	"jitsim/core/jit"
)

// The sequences below are emit_bpf_tail_call line by line
// (kernel-notes/arm64.md: the current JIT, Source B; the legacy one as in
// the real v5.19 dump of Source E, whose only difference is
// PROLOGUE_OFFSET). kabi's struct offsets: max_entries 0x24, ptrs 0x110,
// bpf_func 0x30; MAX_TAIL_CALL_CNT 0x21.

const tailCallMain = `
	r6 = r1
	*(u64 *)(r10 -8) = r6
	tail_call
	r0 = 0
	exit`

// TestTailCallFixed: the count is read through tcc_ptr (x26), incremented
// in x12 and stored back only when the slot holds a program; the program's
// stack and callee-saved registers are released before the jump to
// bpf_func + PROLOGUE_OFFSET*4. The three exits are NOPs patched to the
// instruction after BR.
func TestTailCallFixed(t *testing.T) {
	img := compile(t, assemble(t, tailCallMain, 8), jit.Options{})
	matchListing(t, listing(img), []string{
		"0: add x9, x30, #0x0",
		"4: nop",
		"8: stp x29, x30, [sp,#-16]!",
		"c: mov x29, sp",
		"10: stp xzr, x26, [sp,#-16]!",
		"14: mov x26, sp",
		"18: stp x19, x25, [sp,#-16]!", // PROLOGUE_OFFSET = 6: r6 and r10 are used
		"1c: mov x25, sp",
		"20: sub sp, sp, #0x10",
		"24: add x19, x0, #0x0",
		"28: str x19, [sp,#8]",
		"2c: mov w10, #0x24", // offsetof(struct bpf_array, map.max_entries)
		"30: ldr w10, [x1,x10]",
		"34: add w2, w2, #0x0", // the index is a u32
		"38: cmp w2, w10",
		"3c: b.cs 0x84", // index >= max_entries
		"40: mov w10, #0x21",
		"44: ldr x12, [x26]", // *tail_call_cnt_ptr
		"48: cmp x12, x10",
		"4c: b.cs 0x84", // count >= MAX_TAIL_CALL_CNT
		"50: add x12, x12, #0x1",
		"54: mov w10, #0x110", // offsetof(struct bpf_array, ptrs)
		"58: add x10, x1, x10",
		"5c: lsl x11, x2, #3",
		"60: ldr x11, [x10,x11]",
		"64: cbz x11, 0x84", // empty slot: not counted
		"68: str x12, [x26]",
		"6c: add sp, sp, #0x10",
		"70: ldp x19, x25, [sp],#16", // pop_callee_regs: the target pushes its own
		"74: mov w10, #0x30",         // offsetof(struct bpf_prog, bpf_func)
		"78: ldr x10, [x11,x10]",
		"7c: add x10, x10, #0x18", // PROLOGUE_OFFSET * 4
		"80: br x10",
		"84: mov x7, #0x0", // out:
		"88: add sp, sp, #0x10",
		"8c: ldp x19, x25, [sp],#16",
		"90: ldp xzr, x26, [sp],#16",
	})
	if img.TailCallOffset != 0x18 {
		t.Errorf("TailCallOffset = %#x, want 0x18", img.TailCallOffset)
	}

	// With BTI and PAC the landing pad is the BTI J at PROLOGUE_OFFSET 8,
	// and the jump adds exactly TailCallOffset.
	img = compile(t, assemble(t, tailCallMain, 8), jit.Options{BTI: true, PAC: true})
	matchListing(t, listing(img), []string{
		"0: bti jc",
		"...",
		"1c: mov x26, sp",
		"20: bti j",
		"24: stp x19, x25, [sp,#-16]!",
		"...",
		"88: add x10, x10, #0x20",
		"8c: br x10",
		"90: mov x7, #0x0",
	})
	if img.TailCallOffset != 0x20 {
		t.Errorf("TailCallOffset = %#x, want 0x20", img.TailCallOffset)
	}
}

// TestTailCallLegacy: the count is x26 itself, compared and incremented
// before the slot is looked at; only the BPF stack is dropped before the
// jump, the target reusing the caller's pushes.
func TestTailCallLegacy(t *testing.T) {
	img := compile(t, assemble(t, tailCallMain, 8), jit.Options{Scheme: core.Legacy})
	matchListing(t, listing(img), []string{
		"0: add x9, x30, #0x0",
		"...",
		"24: mov x26, #0x0",
		"28: sub x27, x25, #0x8", // PROLOGUE_OFFSET = 10
		"2c: sub sp, sp, #0x10",
		"30: add x19, x0, #0x0",
		"34: str x19, [x27]",
		"38: mov w10, #0x24",
		"3c: ldr w10, [x1,x10]",
		"40: add w2, w2, #0x0",
		"44: cmp w2, w10",
		"48: b.cs 0x84",
		"4c: mov w10, #0x21",
		"50: cmp x26, x10",
		"54: b.cs 0x84",
		"58: add x26, x26, #0x1", // counted even if the slot is empty
		"5c: mov w10, #0x110",
		"60: add x10, x1, x10",
		"64: lsl x11, x2, #3",
		"68: ldr x11, [x10,x11]",
		"6c: cbz x11, 0x84",
		"70: mov w10, #0x30",
		"74: ldr x10, [x11,x10]",
		"78: add x10, x10, #0x28",
		"7c: add sp, sp, #0x10",
		"80: br x10",
		"84: mov x7, #0x0", // out:
		"88: add sp, sp, #0x10",
		"8c: ldp x27, x28, [sp],#16",
	})
	if img.TailCallOffset != 0x28 {
		t.Errorf("TailCallOffset = %#x, want 0x28", img.TailCallOffset)
	}
	img = compile(t, assemble(t, tailCallMain, 8), jit.Options{Scheme: core.Legacy, BTI: true, PAC: true})
	matchListing(t, listing(img), []string{
		"...",
		"2c: mov x26, #0x0",
		"30: bti j",
		"...",
		"84: add x10, x10, #0x30", // PROLOGUE_OFFSET 12
		"88: add sp, sp, #0x10",
		"8c: br x10",
		"90: mov x7, #0x0",
	})
}

// TestTailCallInSubprogram is the hierarchy case: a tail call made in a
// subprogram. Fixed: the subprogram keeps the tcc_ptr it inherited in x26
// (pushed twice, no "mov x26, sp") and counts through it. Legacy: it
// counts on x26, which its epilogue restores to the caller's value.
func TestTailCallInSubprogram(t *testing.T) {
	p := assemble(t, "call sub\nexit\nsub:\ntail_call\nr0 = 1\nexit")
	funcLines := func(img *jit.Image, k int) []string {
		var out []string
		for _, l := range Dump(img) {
			if l.Func == k {
				out = append(out, listingLine(l))
			}
		}
		return out
	}
	// main's first JIT is 18 words (its call still indirect), so sub
	// starts at 0x50; its prologue is 5 words, its tail call 20.
	img := compile(t, p, jit.Options{})
	matchListing(t, funcLines(img, 1), []string{
		"50: add x9, x30, #0x0",
		"54: nop",
		"58: stp x29, x30, [sp,#-16]!",
		"5c: mov x29, sp",
		"60: stp x26, x26, [sp,#-16]!",
		"64: mov w10, #0x24",
		"...",
		"74: b.cs 0xb4",
		"78: mov w10, #0x21",
		"7c: ldr x12, [x26]",
		"80: cmp x12, x10",
		"84: b.cs 0xb4",
		"88: add x12, x12, #0x1",
		"...",
		"9c: cbz x11, 0xb4",
		"a0: str x12, [x26]",
		"a4: mov w10, #0x30", // no stack, no callee-saved registers to drop
		"a8: ldr x10, [x11,x10]",
		"ac: add x10, x10, #0x18",
		"b0: br x10",
		"b4: mov x7, #0x1",
		"b8: ldp xzr, x26, [sp],#16",
		"bc: ldp x29, x30, [sp],#16",
		"c0: add x0, x7, #0x0",
		"c4: ret",
	})
	if got := slotText(img, 0); !slices.Equal(got, []string{"bl 0x50", "add x7, x0, #0x0"}) {
		t.Errorf("call sub = %q", got)
	}

	// Legacy main: 12 + 5 + 8 words and the PLT (28), so sub is at 0x78;
	// its prologue is 11 words, its tail call 19.
	img = compile(t, p, jit.Options{Scheme: core.Legacy})
	matchListing(t, funcLines(img, 1), []string{
		"78: add x9, x30, #0x0",
		"...",
		"90: stp x25, x26, [sp,#-16]!", // the caller's count, restored on return
		"94: stp x27, x28, [sp,#-16]!",
		"98: mov x25, sp",
		"9c: sub x27, x25, #0x0", // no "mov x26, #0x0" in a subprogram
		"a0: sub sp, sp, #0x0",
		"a4: mov w10, #0x24",
		"...",
		"b4: b.cs 0xf0",
		"b8: mov w10, #0x21",
		"bc: cmp x26, x10",
		"c0: b.cs 0xf0",
		"c4: add x26, x26, #0x1",
		"...",
		"d8: cbz x11, 0xf0",
		"...",
		"e4: add x10, x10, #0x28",
		"e8: mov sp, sp", // add sp, sp, #0
		"ec: br x10",
		"f0: mov x7, #0x1",
		"f4: mov sp, sp",
		"f8: ldp x27, x28, [sp],#16",
		"fc: ldp x25, x26, [sp],#16",
	})
}

func listingLine(l Line) string { return listingFmt(l.Off, l.Text) }

// TestTailCallConstantKey: arm64 has no direct tail calls, so a tail call
// xlate marked direct (Imm = poke index + 1) is JITed exactly like an
// indirect one and leaves no poke site.
func TestTailCallConstantKey(t *testing.T) {
	p := assemble(t, tailCallMain, 8)
	want := listing(compile(t, p, jit.Options{}))
	for i := range p.Insns {
		if p.Insns[i].Op == core.JMP|core.TailCall {
			p.Insns[i].Imm = 1
		}
	}
	p.TailCallPokes = []core.TailCallPoke{{Map: 0, Key: 0}}
	img := compile(t, p, jit.Options{})
	if got := listing(img); !slices.Equal(got, want) {
		t.Errorf("constant-key tail call differs:\n%q\nwant\n%q", got, want)
	}
	if len(img.Pokes) != 0 {
		t.Errorf("pokes = %v, want none", img.Pokes)
	}
}

// TestTailCallsShareOutOffset: in the legacy JIT every tail call sequence
// must have the length the first one fixed (the static out_offset); two in
// a row each exit to their own end.
func TestTailCallsShareOutOffset(t *testing.T) {
	img := compile(t, assemble(t, "tail_call\ntail_call\nr0 = 0\nexit"), jit.Options{Scheme: core.Legacy})
	for s, out := range []int{img.InsnOffsets[1], img.InsnOffsets[2]} {
		n := 0
		for _, l := range Dump(img) {
			if l.Insn == s && (l.Text == listingTarget("b.cs", out) || l.Text == listingTarget("cbz x11,", out)) {
				n++
			}
		}
		if n != 3 || out-img.InsnOffsets[s] != 19*4 {
			t.Errorf("tail call %d: %d exits to %#x, length %d", s, n, out, out-img.InsnOffsets[s])
		}
	}
}
