package arm64

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
	"jitsim/core/jit"
	"jitsim/core/mem"
)

// testHelperAddr places helper stubs 16 bytes apart in the arm64 helper
// page, as sim does.
func testHelperAddr(id int32) uint64 { return mem.Arm64HelperBase + 16*uint64(id) }

// assemble parses pseudo-C and fills Funcs by hand until core/analysis
// does it: main at slot 0 and one function per function symbol, with the
// given stack depths (0 when not given).
func assemble(t testing.TB, src string, depths ...int) *core.Program {
	t.Helper()
	obj, err := asm.Parse("t.s", []byte(src))
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	p := obj.Progs[0]
	starts, names := []int{0}, []string{p.Name}
	for _, s := range p.Symbols {
		if s.Func && s.Insn > 0 {
			starts, names = append(starts, s.Insn), append(names, s.Name)
		}
	}
	starts = append(starts, len(p.Insns))
	p.Funcs = nil
	for k := range names {
		f := core.Func{Name: names[k], Start: starts[k], End: starts[k+1]}
		if k < len(depths) {
			f.StackDepth = depths[k]
		}
		p.Funcs = append(p.Funcs, f)
	}
	return p
}

func compile(t testing.TB, p *core.Program, opts jit.Options) *jit.Image {
	t.Helper()
	if opts.HelperAddr == nil {
		opts.HelperAddr = testHelperAddr
	}
	img, err := Compile(p, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return img
}

// listing is the image's disassembly, one line per instruction, each
// prefixed by its offset ("1c: mov x26, sp").
func listing(img *jit.Image) []string {
	var out []string
	for _, l := range Dump(img) {
		out = append(out, listingFmt(l.Off, l.Text))
	}
	return out
}

func listingFmt(off int, text string) string { return fmt.Sprintf("%x: %s", off, text) }

// listingTarget is how a branch to image offset off disassembles.
func listingTarget(mnemonic string, off int) string { return fmt.Sprintf("%s 0x%x", mnemonic, off) }

// slotText is the disassembly of the code of BPF slot s, without offsets.
func slotText(img *jit.Image, s int) []string {
	var out []string
	for _, l := range Dump(img) {
		if l.Insn == s {
			out = append(out, l.Text)
		}
	}
	return out
}

// matchListing checks that want appears in got in order, in the style of
// the kernel's __jited() selftests: each line must start with the wanted
// text, consecutive wanted lines match consecutive lines, and "..." skips
// any number of lines.
func matchListing(t *testing.T, got, want []string) {
	t.Helper()
	j := 0
	skip := false
	for _, w := range want {
		if w == "..." {
			skip = true
			continue
		}
		for {
			if j >= len(got) {
				t.Fatalf("listing lacks %q\n%s", w, strings.Join(got, "\n"))
			}
			if strings.HasPrefix(got[j], w) {
				j++
				break
			}
			if !skip {
				t.Fatalf("line %d is %q, want %q\n%s", j, got[j], w, strings.Join(got, "\n"))
			}
			j++
		}
		skip = false
	}
}

// TestPrologueEpilogue pins the frame code of "r0 = 0; exit" in every
// configuration. The fixed BTI+PAC listing is the post-6.12 dump Xu Kuohai
// posted with "bpf, arm64: Avoid blindly saving/restoring all callee-saved
// registers" (kernel-notes/arm64.md, Source D), followed by the PLT; the
// legacy one is the pre-fix prologue of the tailcall hierarchy patch's
// context (Source C).
func TestPrologueEpilogue(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       jit.Options
		tailOffset int
		want       []string
	}{
		{"fixed/bti+pac", jit.Options{BTI: true, PAC: true}, 0x20, []string{
			"0: bti jc",
			"4: add x9, x30, #0x0", // mov x9, lr: the fentry patch site's return address
			"8: nop",               // POKE_OFFSET
			"c: paciasp",
			"10: stp x29, x30, [sp,#-16]!",
			"14: mov x29, sp",
			"18: stp xzr, x26, [sp,#-16]!", // tail_call_cnt = 0
			"1c: mov x26, sp",              // x26 = &tail_call_cnt
			"20: bti j",                    // PROLOGUE_OFFSET = 8: tail calls land here
			"24: mov x7, #0x0",
			"28: ldp xzr, x26, [sp],#16",
			"2c: ldp x29, x30, [sp],#16",
			"30: add x0, x7, #0x0",
			"34: autiasp",
			"38: ret",
			"3c: nop", // aligns the PLT target
			"40: ldr x10, 0x48",
			"44: br x10",
		}},
		{"fixed/plain", jit.Options{}, 0x18, []string{
			"0: add x9, x30, #0x0",
			"4: nop",
			"8: stp x29, x30, [sp,#-16]!",
			"c: mov x29, sp",
			"10: stp xzr, x26, [sp,#-16]!",
			"14: mov x26, sp",
			"18: mov x7, #0x0",
			"1c: ldp xzr, x26, [sp],#16",
			"20: ldp x29, x30, [sp],#16",
			"24: add x0, x7, #0x0",
			"28: ret",
			"2c: nop",
			"30: ldr x10, 0x38",
			"34: br x10",
		}},
		{"legacy/bti+pac", jit.Options{Scheme: core.Legacy, BTI: true, PAC: true}, 0x30, []string{
			"0: bti jc",
			"4: add x9, x30, #0x0",
			"8: nop",
			"c: paciasp",
			"10: stp x29, x30, [sp,#-16]!",
			"14: mov x29, sp",
			"18: stp x19, x20, [sp,#-16]!",
			"1c: stp x21, x22, [sp,#-16]!",
			"20: stp x25, x26, [sp,#-16]!",
			"24: stp x27, x28, [sp,#-16]!",
			"28: mov x25, sp",
			"2c: mov x26, #0x0", // tail_call_cnt = 0
			"30: bti j",         // PROLOGUE_OFFSET = 12
			"34: sub x27, x25, #0x0",
			"38: sub sp, sp, #0x0",
			"3c: mov x7, #0x0",
			"40: mov sp, sp", // add sp, sp, #0 (stack_size 0)
			"44: ldp x27, x28, [sp],#16",
			"48: ldp x25, x26, [sp],#16",
			"4c: ldp x21, x22, [sp],#16",
			"50: ldp x19, x20, [sp],#16",
			"54: ldp x29, x30, [sp],#16",
			"58: add x0, x7, #0x0",
			"5c: autiasp",
			"60: ret",
			"64: nop",
			"68: ldr x10, 0x70",
			"6c: br x10",
		}},
		{"legacy/plain", jit.Options{Scheme: core.Legacy}, 0x28, []string{
			"0: add x9, x30, #0x0",
			"4: nop",
			"8: stp x29, x30, [sp,#-16]!",
			"c: mov x29, sp",
			"10: stp x19, x20, [sp,#-16]!",
			"14: stp x21, x22, [sp,#-16]!",
			"18: stp x25, x26, [sp,#-16]!",
			"1c: stp x27, x28, [sp,#-16]!",
			"20: mov x25, sp",
			"24: mov x26, #0x0",
			"28: sub x27, x25, #0x0", // PROLOGUE_OFFSET = 10
			"2c: sub sp, sp, #0x0",
			"30: mov x7, #0x0",
			"34: mov sp, sp",
			"...",
			"50: ret",
			"54: nop",
			"58: ldr x10, 0x60",
			"5c: br x10",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := compile(t, assemble(t, "r0 = 0\nexit"), tc.opts)
			got := listing(img)
			matchListing(t, got, tc.want)
			if !slices.Contains(tc.want, "...") && len(got) != len(tc.want) {
				t.Errorf("listing has %d lines, want %d", len(got), len(tc.want))
			}
			if img.TailCallOffset != tc.tailOffset {
				t.Errorf("TailCallOffset = %#x, want %#x", img.TailCallOffset, tc.tailOffset)
			}
			f := img.Funcs[0]
			if f.Start != 0 || f.End != 4*len(got) {
				t.Errorf("func spans [%#x, %#x), want [0, %#x)", f.Start, f.End, 4*len(got))
			}
			// The PLT target follows the code, 8-byte aligned, and is
			// dummy_tramp's stand-in 0.
			if f.End%8 != 0 || binary.LittleEndian.Uint64(img.Code[f.End:]) != 0 || len(img.Code) != f.End+8 {
				t.Errorf("PLT target: code ends at %#x, image is %#x bytes", f.End, len(img.Code))
			}
		})
	}
}

// TestSubprogramFrames: a subprogram keeps x26 (pushing it twice in the
// fixed scheme, with its frame in the legacy one) and has no tail call
// landing pad; the fixed scheme pushes only the callee-saved registers a
// function uses, pairing an odd one with xzr, and sets x25 only when r10
// is used.
func TestSubprogramFrames(t *testing.T) {
	p := assemble(t, `
		call f
		exit
	f:
		r6 = 1
		r7 = 2
		r8 = 3
		*(u64 *)(r10 -8) = r6
		r0 = 0
		exit`, 0, 24)
	t.Run("fixed", func(t *testing.T) {
		img := compile(t, p, jit.Options{BTI: true})
		f := img.Funcs[1]
		lines := Dump(img)
		var text []string
		for _, l := range lines {
			if l.Func == 1 {
				text = append(text, l.Text)
			}
		}
		matchListing(t, text, []string{
			"bti jc",
			"add x9, x30, #0x0",
			"nop",
			"stp x29, x30, [sp,#-16]!",
			"mov x29, sp",
			"stp x26, x26, [sp,#-16]!", // keeps tcc_ptr; no bti j
			"stp x19, x20, [sp,#-16]!",
			"stp x21, x25, [sp,#-16]!",
			"mov x25, sp",
			"sub sp, sp, #0x20", // round_up(24, 16)
			"mov x19, #0x1",
			"mov x20, #0x2",
			"mov x21, #0x3",
			"str x19, [sp,#24]", // r10-8 = sp + 32 - 8
			"mov x7, #0x0",
			"add sp, sp, #0x20",
			"ldp x21, x25, [sp],#16",
			"ldp x19, x20, [sp],#16",
			"ldp xzr, x26, [sp],#16",
			"ldp x29, x30, [sp],#16",
			"add x0, x7, #0x0",
			"ret",
		})
		if f.BodyStart-f.Start != 4*10 {
			t.Errorf("subprogram body starts %#x into it, want 0x28", f.BodyStart-f.Start)
		}
	})
	t.Run("legacy", func(t *testing.T) {
		img := compile(t, p, jit.Options{Scheme: core.Legacy})
		var text []string
		for _, l := range Dump(img) {
			if l.Func == 1 {
				text = append(text, l.Text)
			}
		}
		matchListing(t, text, []string{
			"add x9, x30, #0x0",
			"nop",
			"stp x29, x30, [sp,#-16]!",
			"mov x29, sp",
			"stp x19, x20, [sp,#-16]!",
			"stp x21, x22, [sp,#-16]!",
			"stp x25, x26, [sp,#-16]!", // the caller's count, restored on return
			"stp x27, x28, [sp,#-16]!",
			"mov x25, sp",
			"sub x27, x25, #0x8", // no "mov x26, #0": the count is inherited
			"sub sp, sp, #0x20",
			"mov x19, #0x1",
			"mov x20, #0x2",
			"mov x21, #0x3",
			"str x19, [x27]", // FP_BOTTOM = r10 - 8
			"mov x7, #0x0",
			"add sp, sp, #0x20",
			"ldp x27, x28, [sp],#16",
			"ldp x25, x26, [sp],#16",
		})
	})
}

// TestImageLayout checks the image fields others rely on: functions in
// order, each in the allocation its first JIT sized; BodyStart after the
// prologue; InsnOffsets with ld_imm64's second slot starting where it
// ends; calls landing on the callee.
func TestImageLayout(t *testing.T) {
	p := assemble(t, `
		r1 = 0x123456789 ll
		call f
		exit
	f:
		r0 = 1
		exit`)
	img := compile(t, p, jit.Options{})
	if img.Arch != "arm64" || img.Base != mem.Arm64CodeBase {
		t.Errorf("arch %q base %#x", img.Arch, img.Base)
	}
	main, f := img.Funcs[0], img.Funcs[1]
	// Prologue: mov x9, nop, stp, mov, stp, mov = 0x18.
	want := []int{0x18, 0x24, 0x24, 0x2c}
	for i, w := range want {
		if img.InsnOffsets[i] != w {
			t.Errorf("InsnOffsets[%d] = %#x, want %#x", i, img.InsnOffsets[i], w)
		}
	}
	// The first JIT sized main with the call as movn/movk/movk/blr: 20
	// words (PLT included) and the 2-word PLT target, so f starts at 0x58.
	// The extra pass made the call "bl f", three words shorter; main ends
	// at 0x48 and keeps its allocation, as the kernel's image does.
	if main.BodyStart != 0x18 || main.End != 0x48 || f.Start != 0x58 {
		t.Errorf("main [%#x, %#x) body %#x; f at %#x; want [0, 0x48) body 0x18, f at 0x58",
			main.Start, main.End, main.BodyStart, f.Start)
	}
	if got := slotText(img, 2); len(got) != 2 || got[0] != "bl 0x58" || got[1] != "add x7, x0, #0x0" {
		t.Errorf("call f = %q, want bl 0x58; add x7, x0, #0x0", got)
	}
	if img.InsnOffsets[len(p.Insns)] != f.BodyStart+4 {
		t.Errorf("end of body %#x, want %#x", img.InsnOffsets[len(p.Insns)], f.BodyStart+4)
	}
	if n := len(img.Code); n != f.End+8 {
		t.Errorf("image is %#x bytes, want %#x", n, f.End+8)
	}
}

// TestErrors: bad input gives a *core.Error naming the instruction, never
// a panic.
func TestErrors(t *testing.T) {
	raw := func(insns ...core.Insn) *core.Program {
		return &core.Program{Name: "p", Insns: insns, Funcs: []core.Func{{Start: 0, End: len(insns)}}}
	}
	exit := core.Insn{Op: core.JMP | core.Exit}
	for _, tc := range []struct {
		name string
		p    *core.Program
		opts jit.Options
		insn int
		want string
		is   error
	}{
		{"no funcs", &core.Program{Name: "p", Insns: []core.Insn{exit}}, jit.Options{}, 0, "no function table", nil},
		{"funcs leave a gap", &core.Program{Name: "p", Insns: []core.Insn{exit, exit},
			Funcs: []core.Func{{Start: 0, End: 1}}}, jit.Options{}, 1, "functions end at slot 1 of 2", nil},
		{"stack too deep", &core.Program{Name: "p", Insns: []core.Insn{exit},
			Funcs: []core.Func{{Start: 0, End: 1, StackDepth: 520}}}, jit.Options{}, 0, "stack depth 520", nil},
		{"unknown opcode", raw(core.Insn{Op: 0xe7}, exit), jit.Options{}, 0, "not supported", core.ErrUnsupported},
		{"register 11", raw(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: 11}, exit), jit.Options{}, 0, "register out of range", nil},
		{"ld_imm64 cut short", raw(exit, core.Insn{Op: core.LD | core.IMM | core.DW}), jit.Options{}, 1, "without its second slot", nil},
		{"jump out of the function", raw(core.Insn{Op: core.JMP | core.JA, Off: 5}, exit), jit.Options{}, 0, "outside its function", nil},
		{"movsx by 24", raw(core.Insn{Op: core.ALU64 | core.Mov | core.X, Off: 24}, exit), jit.Options{}, 0, "movsx offset 24", nil},
		{"bswap 24", raw(core.Insn{Op: core.ALU64 | core.End, Imm: 24}, exit), jit.Options{}, 0, "byte swap width 24", nil},
		{"helper without addresses", raw(core.Insn{Op: core.JMP | core.Call, Imm: 1}, exit),
			jit.Options{HelperAddr: nil}, 0, "no helper addresses", nil},
		{"helper outside the kernel", raw(core.Insn{Op: core.JMP | core.Call, Imm: 1}, exit),
			jit.Options{HelperAddr: func(int32) uint64 { return 0x1000 }}, 0, "not a kernel address", nil},
		{"call into the middle", raw(core.Insn{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: 0}, exit),
			jit.Options{}, 0, "starts no function", nil},
		{"kfunc", raw(core.Insn{Op: core.JMP | core.Call, Src: core.PseudoKfunc, Imm: 1}, exit), jit.Options{}, 0, "not supported", core.ErrUnsupported},
		{"callx with uneven stubs", raw(core.Insn{Op: core.JMP | core.Call | core.X, Dst: 2}, exit),
			jit.Options{HelperAddr: func(id int32) uint64 { return mem.Arm64HelperBase + uint64(id*id) }}, 0, "helper 2 is at", nil},
		{"load acquire", raw(core.Insn{Op: core.STX | core.ATOMIC | core.DW, Imm: core.LoadAcq}, exit), jit.Options{}, 0, "not supported", core.ErrUnsupported},
		{"atomic on a byte", raw(core.Insn{Op: core.STX | core.ATOMIC | core.B}, exit), jit.Options{}, 0, "not supported", core.ErrUnsupported},
		{"ld_abs", raw(core.Insn{Op: core.LD | core.ABS | core.W}, exit), jit.Options{}, 0, "not supported", core.ErrUnsupported},
		{"exit in jmp32", raw(core.Insn{Op: core.JMP32 | core.Exit}, exit), jit.Options{}, 0, "not supported", core.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.HelperAddr == nil && !strings.Contains(tc.name, "without") {
				tc.opts.HelperAddr = testHelperAddr
			}
			img, err := Compile(tc.p, tc.opts)
			if err == nil {
				t.Fatalf("compiled (%d bytes), want error %q", len(img.Code), tc.want)
			}
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Op != "jit arm64" || ce.Pos.Insn != tc.insn {
				t.Fatalf("error %v (%T), want *core.Error, Op jit arm64, insn %d", err, err, tc.insn)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// TestBranchRange: conditional branches carry 19 bits. The kernel's
// check_imm(19) tests the magnitude against 19 bits, so a distance
// between 2^18 and 2^19 instructions passes it and the encoder's
// AARCH64_BREAK_FAULT fails validate_code; a larger one fails check_imm.
// Both name the jump.
func TestBranchRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		fill core.Insn // a slot with a long expansion
		want string
	}{
		// A signed division by register is 10 instructions with the
		// verifier's guard: 300000 in all, past 2^18.
		{"validate_code", core.Insn{Op: core.ALU64 | core.Div | core.X, Src: 1, Off: 1}, "no A64 encoding"},
		// A tail call is 20: 600000, past 2^19.
		{"check_imm", core.Insn{Op: core.JMP | core.TailCall}, "out of range for imm19"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 30000
			insns := []core.Insn{{Op: core.JMP | core.JEQ | core.K, Dst: 1, Off: n}}
			for range n {
				insns = append(insns, tc.fill)
			}
			insns = append(insns, core.Insn{Op: core.JMP | core.Exit})
			p := &core.Program{Name: "far", Insns: insns, Funcs: []core.Func{{Start: 0, End: len(insns)}}}
			_, err := Compile(p, jit.Options{HelperAddr: testHelperAddr})
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Pos.Insn != 0 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming insn 0 with %q", err, tc.want)
			}
		})
	}
}

// TestEntryFrameSize: r10 (x25) sits EntryFrameSize below the stack pointer
// the main function is entered with: 16 bytes for each pair pushed before
// "mov x25, sp".
func TestEntryFrameSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		opts jit.Options
		want int
	}{
		{"fixed, r10 only", "*(u64 *)(r10 -8) = r1\nexit", jit.Options{}, 48},       // fp/lr, count, x25/xzr
		{"fixed, r6 r7 r10", "r6 = r7\nr0 = r10\nexit", jit.Options{BTI: true}, 64}, // + x19/x20, x25/xzr
		{"legacy", "r0 = 0\nexit", jit.Options{Scheme: core.Legacy}, 80},
	} {
		img := compile(t, assemble(t, tc.src, 8), tc.opts)
		pushes := 0
		for _, l := range Dump(img) {
			if l.Text == "mov x25, sp" {
				break
			}
			if strings.HasPrefix(l.Text, "stp ") {
				pushes++
			}
		}
		if img.EntryFrameSize != tc.want || 16*pushes != tc.want {
			t.Errorf("%s: EntryFrameSize = %d, %d pushes before mov x25, sp; want %d", tc.name, img.EntryFrameSize, pushes, tc.want)
		}
	}
}

// TestReplayMatchesFullPasses: the write pass that copies the sizing
// pass's code and emits again only the layout-dependent slots must give
// the image the kernel's way gives, every slot emitted again, whatever
// the layout does: calls that become BL (code at a base near the
// helpers) or stay indirect, subprograms the extra pass reaches with BL,
// callbacks, tail calls in both schemes, every conformance program.
func TestReplayMatchesFullPasses(t *testing.T) {
	progs := map[string]*core.Program{"bench": benchProgram(3000), "subprograms": replayTestProgram()}
	for _, cp := range conformancePrograms(t, 64) {
		progs[cp.name] = cp.prog
	}
	var configs []jit.Options
	for _, scheme := range []core.Scheme{core.Fixed, core.Legacy} {
		// Default base: helpers out of BL range. Just above the helpers:
		// every helper call a BL. Just below them: the first calls out of
		// range, the later ones in.
		for _, base := range []uint64{0, mem.Arm64HelperBase + 1<<16, mem.Arm64HelperBase - 128<<20 - 0x200} {
			configs = append(configs, jit.Options{Scheme: scheme, Base: base, BTI: true, PAC: true, LSE: base == 0, HelperAddr: testHelperAddr})
		}
	}
	compiled := 0
	for name, p := range progs {
		for _, opts := range configs {
			img, err := Compile(p, opts)
			fullPasses = true
			want, wantErr := Compile(p, opts)
			fullPasses = false
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("%s %+v: error %v, emitting every slot gives %v", name, opts, err, wantErr)
			}
			if err != nil {
				continue
			}
			compiled++
			if !slices.Equal(img.Code, want.Code) || !slices.Equal(img.InsnOffsets, want.InsnOffsets) || !slices.Equal(img.Funcs, want.Funcs) {
				t.Fatalf("%s %+v: the image differs from the one emitting every slot gives", name, opts)
			}
		}
	}
	if compiled < 6*290 {
		t.Errorf("only %d programs x configurations compiled", compiled)
	}
}

// replayTestProgram is three functions calling each other and helpers,
// taking each other's addresses as callbacks, with jumps across calls
// and a tail call: what moves when calls change form.
func replayTestProgram() *core.Program {
	var insns []core.Insn
	add := func(is ...core.Insn) { insns = append(insns, is...) }
	call := func(target int) core.Insn {
		return core.Insn{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: int32(target - len(insns) - 1)}
	}
	callback := func(dst core.Reg, target int) {
		add(core.Insn{Op: core.LD | core.IMM | core.DW, Dst: dst, Src: core.PseudoFunc, Imm: int32(target - len(insns) - 1)}, core.Insn{})
	}
	const f1, f2 = 40, 70
	// main: slots 0..39
	add(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: 6, Imm: 3})
	for len(insns) < 36 {
		add(core.Insn{Op: core.JMP | core.JEQ | core.K, Dst: 6, Imm: 0, Off: 5},
			core.Insn{Op: core.JMP | core.Call, Imm: 1})
		add(call(f1))
		callback(2, f2)
		add(core.Insn{Op: core.ALU64 | core.Sub | core.K, Dst: 6, Imm: 1},
			core.Insn{Op: core.JMP | core.JA, Off: -8})
	}
	for len(insns) < f1-1 {
		add(core.Insn{Op: core.ALU64 | core.Add | core.K, Dst: 0, Imm: 1})
	}
	add(core.Insn{Op: core.JMP | core.Exit})
	// f1: slots 40..69
	for len(insns) < f2-3 {
		add(core.Insn{Op: core.JMP | core.Call, Imm: 2})
		add(call(f2)) // call works out the offset from where the slot goes
		add(core.Insn{Op: core.JMP | core.JGT | core.X, Dst: 0, Src: 1, Off: 1},
			core.Insn{Op: core.JMP | core.TailCall})
	}
	for len(insns) < f2-1 {
		add(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: 0, Src: 1})
	}
	add(core.Insn{Op: core.JMP | core.Exit})
	// f2: slots 70..99
	for len(insns) < 97 {
		callback(3, f1)
		add(core.Insn{Op: core.JMP | core.Call, Imm: 3}, core.Insn{Op: core.JMP32 | core.JLT | core.K, Dst: 0, Imm: 7, Off: -4})
	}
	for len(insns) < 99 {
		add(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: 0, Imm: 0})
	}
	add(core.Insn{Op: core.JMP | core.Exit})
	return &core.Program{Name: "replay", Insns: insns, Funcs: []core.Func{
		{Name: "main", Start: 0, End: f1, StackDepth: 16},
		{Name: "f1", Start: f1, End: f2, StackDepth: 32},
		{Name: "f2", Start: f2, End: len(insns)},
	}}
}
