package interp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/interp"
	"jitsim/core/mem"
)

const (
	r6  = core.R6
	r10 = core.R10
)

// TestLoadStore: every load and store size on the stack, little-endian
// byte order, and sign-extending loads.
func TestLoadStore(t *testing.T) {
	v := ldImm64(r1, 0x1122334455667788)
	runR0Cases(t, []r0Case{
		{"stack starts zeroed", prog(mov(r0, 5), ldx(core.DW, r0, r10, -512), exit()), 0},
		{"stdw imm is sign-extended", prog(st(core.DW, r10, -8, -1), ldx(core.DW, r0, r10, -8), exit()), 0xffffffffffffffff},
		{"stw imm writes 4 bytes", prog(st(core.W, r10, -8, -1), ldx(core.DW, r0, r10, -8), exit()), 0xffffffff},
		{"sth imm writes 2 bytes", prog(st(core.H, r10, -8, -1), ldx(core.DW, r0, r10, -8), exit()), 0xffff},
		{"stb imm writes 1 byte", prog(st(core.B, r10, -8, 0x1ab), ldx(core.DW, r0, r10, -8), exit()), 0xab},
		{"stxb keeps the low byte", prog(mov(r1, 0x1ff), stx(core.B, r10, r1, -8), ldx(core.DW, r0, r10, -8), exit()), 0xff},
		{"stxh keeps the low half", prog(mov(r1, 0x12345), stx(core.H, r10, r1, -8), ldx(core.DW, r0, r10, -8), exit()), 0x2345},
		{"stxw keeps the low word", prog(v, stx(core.W, r10, r1, -8), ldx(core.DW, r0, r10, -8), exit()), 0x55667788},
		{"ldxb first byte is the lowest", prog(v, stx(core.DW, r10, r1, -8), ldx(core.B, r0, r10, -8), exit()), 0x88},
		{"ldxb last byte is the highest", prog(v, stx(core.DW, r10, r1, -8), ldx(core.B, r0, r10, -1), exit()), 0x11},
		{"ldxh", prog(v, stx(core.DW, r10, r1, -8), ldx(core.H, r0, r10, -8), exit()), 0x7788},
		{"ldxw upper half", prog(v, stx(core.DW, r10, r1, -8), ldx(core.W, r0, r10, -4), exit()), 0x11223344},
		{"ldxw unaligned", prog(v, stx(core.DW, r10, r1, -8), ldx(core.W, r0, r10, -7), exit()), 0x44556677},
		{"ldxdw through another register", prog(v, stx(core.DW, r10, r1, -16), alu64x(core.Mov, r2, r10), alu64(core.Add, r2, -16), ldx(core.DW, r0, r2, 0), exit()), 0x1122334455667788},
		{"ldxsb negative", prog(st(core.B, r10, -8, 0x80), ldxs(core.B, r0, r10, -8), exit()), 0xffffffffffffff80},
		{"ldxsb positive", prog(st(core.B, r10, -8, 0x7f), ldxs(core.B, r0, r10, -8), exit()), 0x7f},
		{"ldxsh negative", prog(st(core.H, r10, -8, 0x8000), ldxs(core.H, r0, r10, -8), exit()), 0xffffffffffff8000},
		{"ldxsw negative", prog(st(core.W, r10, -8, -0x80000000), ldxs(core.W, r0, r10, -8), exit()), 0xffffffff80000000},
		{"ldxsw positive", prog(st(core.W, r10, -8, 0x7fffffff), ldxs(core.W, r0, r10, -8), exit()), 0x7fffffff},
	})
}

// TestContext: r1/r2 point at the input, writes show in Result.Ctx, and a
// run without input has r1 = r2 = 0.
func TestContext(t *testing.T) {
	ctx := []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a}
	res, err := run(t, prog(
		ldx(core.W, r0, r1, 4), // 0x08070605
		st(core.B, r1, 9, 0x77),
		alu64x(core.Add, r0, r2), // + len 10
		exit(),
	), ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.R0 != 0x08070605+10 {
		t.Errorf("r0 = %#x, want %#x", res.R0, 0x08070605+10)
	}
	want := []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x77}
	if !bytes.Equal(res.Ctx, want) {
		t.Errorf("ctx = % x, want % x", res.Ctx, want)
	}
	if ctx[9] != 0x0a {
		t.Errorf("the caller's input was changed: % x", ctx)
	}
	res, err = run(t, prog(alu64x(core.Mov, r0, r1), alu64x(core.Or, r0, r2), exit()), nil)
	if err != nil || res.R0 != 0 || res.Ctx != nil {
		t.Fatalf("no input: r0 %#x ctx %v err %v; want r0 0, no ctx", res.R0, res.Ctx, err)
	}
	// r1 is mem.CtxBase exactly.
	res, err = run(t, prog(alu64x(core.Mov, r0, r1), exit()), []byte{1})
	if err != nil || res.R0 != mem.CtxBase {
		t.Fatalf("r1 = %#x err %v; want %#x", res.R0, err, uint64(mem.CtxBase))
	}
}

// atomicCase runs one atomic op on the 8 bytes at r10-8 holding init, with
// src in r1 and r0init in r0, and checks r0, r1 and the 8 bytes after.
type atomicCase struct {
	name                     string
	size                     uint8
	op                       int32
	init, src, r0init        uint64
	wantMem, wantSrc, wantR0 uint64
}

// TestAtomic: every atomic operation, 32 and 64 bits, with and without
// fetch. The 32-bit forms work on the low word (the first 4 bytes) and
// leave the high word alone; their fetched values are zero-extended.
func TestAtomic(t *testing.T) {
	const (
		init = 0x111111110000000c
		src  = 0xffffffff0000000a
		r0v  = 0x5555
	)
	add, or, and, xor := int32(core.AtomicAdd), int32(core.AtomicOr), int32(core.AtomicAnd), int32(core.AtomicXor)
	fetch := int32(core.Fetch)
	for _, tc := range []atomicCase{
		{"add64", core.DW, add, init, src, r0v, 0x1111111000000016, src, r0v},
		{"fetch add64", core.DW, add | fetch, init, src, r0v, 0x1111111000000016, init, r0v},
		{"or64", core.DW, or, init, src, r0v, 0xffffffff0000000e, src, r0v},
		{"fetch or64", core.DW, or | fetch, init, src, r0v, 0xffffffff0000000e, init, r0v},
		{"and64", core.DW, and, init, src, r0v, 0x1111111100000008, src, r0v},
		{"fetch and64", core.DW, and | fetch, init, src, r0v, 0x1111111100000008, init, r0v},
		{"xor64", core.DW, xor, init, src, r0v, 0xeeeeeeee00000006, src, r0v},
		{"fetch xor64", core.DW, xor | fetch, init, src, r0v, 0xeeeeeeee00000006, init, r0v},
		{"xchg64", core.DW, core.AtomicXchg, init, src, r0v, src, init, r0v},
		{"cmpxchg64 match", core.DW, core.AtomicCmpXchg, init, src, init, src, src, init},
		{"cmpxchg64 no match", core.DW, core.AtomicCmpXchg, init, src, r0v, init, src, init},
		{"cmpxchg64 high half differs", core.DW, core.AtomicCmpXchg, init, src, 0x000000000000000c, init, src, init},

		{"add32", core.W, add, init, src, r0v, 0x1111111100000016, src, r0v},
		{"add32 carry stays in the word", core.W, add, 0x11111111ffffffff, 1, r0v, 0x1111111100000000, 1, r0v},
		{"fetch add32", core.W, add | fetch, init, src, r0v, 0x1111111100000016, 0xc, r0v},
		{"or32", core.W, or, init, src, r0v, 0x111111110000000e, src, r0v},
		{"fetch or32", core.W, or | fetch, init, src, r0v, 0x111111110000000e, 0xc, r0v},
		{"and32", core.W, and, init, src, r0v, 0x1111111100000008, src, r0v},
		{"fetch and32", core.W, and | fetch, init, src, r0v, 0x1111111100000008, 0xc, r0v},
		{"xor32", core.W, xor, init, src, r0v, 0x1111111100000006, src, r0v},
		{"fetch xor32", core.W, xor | fetch, init, src, r0v, 0x1111111100000006, 0xc, r0v},
		{"xchg32", core.W, core.AtomicXchg, init, src, r0v, 0x111111110000000a, 0xc, r0v},
		{"cmpxchg32 compares the low word of r0", core.W, core.AtomicCmpXchg, init, src, 0xabcdef000000000c, 0x111111110000000a, src, 0xc},
		{"cmpxchg32 no match", core.W, core.AtomicCmpXchg, init, src, 7, init, src, 0xc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, prog(
				alu64x(core.Mov, r6, r1),
				ldImm64(r2, tc.init),
				stx(core.DW, r10, r2, -8),
				ldImm64(r1, tc.src),
				ldImm64(r0, tc.r0init),
				atomic(tc.size, tc.op, r10, r1, -8),
				ldx(core.DW, r3, r10, -8),
				stx(core.DW, r6, r0, 0),
				stx(core.DW, r6, r1, 8),
				stx(core.DW, r6, r3, 16),
				exit(),
			), make([]byte, 24))
			if err != nil {
				t.Fatal(err)
			}
			le := binary.LittleEndian
			if got := le.Uint64(res.Ctx[0:]); got != tc.wantR0 {
				t.Errorf("r0 = %#x, want %#x", got, tc.wantR0)
			}
			if got := le.Uint64(res.Ctx[8:]); got != tc.wantSrc {
				t.Errorf("src = %#x, want %#x", got, tc.wantSrc)
			}
			if got := le.Uint64(res.Ctx[16:]); got != tc.wantMem {
				t.Errorf("mem = %#x, want %#x", got, tc.wantMem)
			}
		})
	}
}

// TestFault: accesses outside every region fail with core.ErrFault naming
// the instruction, its source line and the address.
func TestFault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		insns []core.Insn
		ctx   []byte
		want  string // the whole message
	}{
		{"load from 0", prog(mov(r1, 0), ldx(core.W, r0, r1, 0), exit()), nil,
			"test: test.s:2 (insn 1): run: load of 4 bytes at 0x0: memory fault"},
		{"store below the stack", prog(alu64x(core.Mov, r1, r10), alu64(core.Add, r1, -0xf008), st(core.DW, r1, 0, 1), exit()), nil,
			"test: test.s:3 (insn 2): run: store of 8 bytes at 0xffffc8fffffffff8: memory fault"},
		{"store straddling the stack bottom", prog(alu64x(core.Mov, r1, r10), alu64(core.Add, r1, -0xf000), st(core.DW, r1, -4, 1), exit()), nil,
			"test: test.s:3 (insn 2): run: store of 8 bytes at 0xffffc8fffffffffc: memory fault"},
		{"load straddling the stack top", prog(alu64x(core.Mov, r1, r10), alu64(core.Add, r1, 4092), ldx(core.DW, r0, r1, 0), exit()), nil,
			"test: test.s:3 (insn 2): run: load of 8 bytes at 0xffffc9000000fffc: memory fault"},
		{"load past the context page", prog(ldx(core.B, r0, r1, 4096), exit()), []byte{1, 2},
			"test: test.s:1 (insn 0): run: load of 1 bytes at 0xffff888100001000: memory fault"},
		{"sign-extending load", prog(ldxs(core.H, r0, r1, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: load of 2 bytes at 0x0: memory fault"},
		{"after ld_imm64 the slot index counts two", prog(ldImm64(r1, 0x1000), st(core.B, r1, 0, 1), exit()), nil,
			"test: test.s:3 (insn 2): run: store of 1 bytes at 0x1000: memory fault"},
		{"atomic outside", prog(mov(r1, 8), mov(r2, 1), atomic(core.DW, core.AtomicAdd, r1, r2, 0), exit()), nil,
			"test: test.s:3 (insn 2): run: atomic access of 8 bytes at 0x8: memory fault"},
		{"misaligned atomic", prog(mov(r2, 1), atomic(core.W, core.AtomicAdd, r10, r2, -6), exit()), nil,
			"test: test.s:2 (insn 1): run: atomic access of 4 bytes at 0xffffc9000000effa is misaligned: memory fault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := interp.New()
			defer e.Close()
			_, err := e.Run(withPos(object(core.HelpersConformance, tc.insns)), 0, core.Input{Ctx: tc.ctx}, core.RunOptions{})
			if !errors.Is(err, core.ErrFault) {
				t.Fatalf("err = %v, want a memory fault", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("err = %q\nwant  %q", err, tc.want)
			}
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Op != "run" {
				t.Fatalf("err is not a run *core.Error: %#v", err)
			}
		})
	}
}

// TestEngineReuse: an engine keeps working after a fault, re-zeroes the
// stack, and sizes the context region by each run's input.
func TestEngineReuse(t *testing.T) {
	e := interp.New()
	defer e.Close()
	opts := core.RunOptions{}
	fault := object(core.HelpersConformance, prog(mov(r1, 0), ldx(core.W, r0, r1, 0), exit()))
	write := object(core.HelpersConformance, prog(st(core.DW, r10, -8, 42), mov(r0, 0), exit()))
	read := object(core.HelpersConformance, prog(ldx(core.DW, r0, r10, -8), exit()))
	far := object(core.HelpersConformance, prog(ldx(core.B, r0, r1, 5000), exit()))

	if _, err := e.Run(fault, 0, core.Input{}, opts); !errors.Is(err, core.ErrFault) {
		t.Fatalf("first run: %v, want fault", err)
	}
	if _, err := e.Run(write, 0, core.Input{}, opts); err != nil {
		t.Fatal(err)
	}
	if res, err := e.Run(read, 0, core.Input{}, opts); err != nil || res.R0 != 0 {
		t.Fatalf("stack after reuse: r0 %v err %v; want 0 (re-zeroed)", res, err)
	}
	big := make([]byte, 6000)
	big[5000] = 0x5a
	if res, err := e.Run(far, 0, core.Input{Ctx: big}, opts); err != nil || res.R0 != 0x5a {
		t.Fatalf("big ctx: %v %v; want r0 0x5a", res, err)
	}
	_, err := e.Run(far, 0, core.Input{Ctx: []byte{1}}, opts)
	if !errors.Is(err, core.ErrFault) || !strings.Contains(err.Error(), "at 0xffff888100001388") {
		t.Fatalf("small ctx after big: %v; want a fault at ctx+5000", err)
	}
	if _, err := e.Run(far, 0, core.Input{}, opts); !errors.Is(err, core.ErrFault) {
		t.Fatalf("no ctx: %v; want a fault", err)
	}
	// A second run with the same page count sees zeros past the input, not
	// the bytes the earlier run left.
	e.Run(object(core.HelpersConformance, prog(st(core.B, r1, 100, 9), mov(r0, 0), exit())), 0, core.Input{Ctx: make([]byte, 200)}, opts)
	res, err := e.Run(object(core.HelpersConformance, prog(ldx(core.B, r0, r1, 100), exit())), 0, core.Input{Ctx: make([]byte, 50)}, opts)
	if err != nil || res.R0 != 0 {
		t.Fatalf("ctx tail after reuse: %v %v; want 0", res, err)
	}
}
