package interp_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"jitsim/core"
	"jitsim/core/interp"
)

// countLoop runs 3n+3 instructions: two movs, n times (add, add, jlt), exit.
func countLoop(n int32) []core.Insn {
	return prog(
		mov(r0, 0),
		mov(r1, 0),
		alu64x(core.Add, r0, r1),
		alu64(core.Add, r1, 1),
		jmp(core.JMP, core.JLT, r1, n, -3),
		exit(),
	)
}

// TestBudget: Insns is exact, a run may use its whole budget, and one
// instruction more is core.ErrBudget naming the instruction that could not
// run. 30000 iterations cross the loop's internal 65536-instruction
// refill, so the count is exact across it.
func TestBudget(t *testing.T) {
	e := interp.New()
	defer e.Close()
	obj := withPos(object(core.HelpersConformance, countLoop(30000)))
	res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{Budget: 90003})
	if err != nil || res.Insns != 90003 || res.R0 != 30000*29999/2 {
		t.Fatalf("res %+v err %v; want 90003 insns, r0 %d", res, err, 30000*29999/2)
	}
	_, err = e.Run(obj, 0, core.Input{}, core.RunOptions{Budget: 90002})
	const want = "test: test.s:6 (insn 5): run: instruction budget exhausted (90002 instructions ran)"
	if !errors.Is(err, core.ErrBudget) || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	// An endless loop under the default budget.
	_, err = e.Run(object(core.HelpersConformance, prog(ja(-1))), 0, core.Input{}, core.RunOptions{})
	if !errors.Is(err, core.ErrBudget) || err.Error() != "test: (insn 0): run: instruction budget exhausted (1000000 instructions ran)" {
		t.Fatalf("endless loop: %v", err)
	}
	res, err = e.Run(object(core.HelpersConformance, prog(mov(r0, 1), exit())), 0, core.Input{}, core.RunOptions{Budget: 2})
	if err != nil || res.Insns != 2 {
		t.Fatalf("budget 2: %v %v", res, err)
	}
	_, err = e.Run(object(core.HelpersConformance, prog(mov(r0, 1), exit())), 0, core.Input{}, core.RunOptions{Budget: 1})
	if !errors.Is(err, core.ErrBudget) || err.Error() != "test: (insn 1): run: instruction budget exhausted (1 instructions ran)" {
		t.Fatalf("budget 1: %v", err)
	}
}

// TestInsnsCounts: ld_imm64 is one instruction, calls and exits count.
func TestInsnsCounts(t *testing.T) {
	res, err := run(t, prog(ldImm64(r0, 1), callLocal(1), exit(), call(noOp), exit()), nil)
	// ld_imm64, call, call noOp, exit (callee), exit (main)
	if err != nil || res.Insns != 5 {
		t.Fatalf("res %+v err %v; want 5 insns", res, err)
	}
}

// TestTimeout: a wall-clock limit stops a run the budget would let go on.
func TestTimeout(t *testing.T) {
	e := interp.New()
	defer e.Close()
	_, err := e.Run(object(core.HelpersConformance, prog(ja(-1))), 0, core.Input{},
		core.RunOptions{Budget: 1 << 62, Timeout: 20 * time.Millisecond})
	if !errors.Is(err, core.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

// TestReject: programs the interpreter refuses before running, each error
// naming the slot.
func TestReject(t *testing.T) {
	i := func(op uint8, dst, src core.Reg, off int16, imm int32) []core.Insn {
		return one(core.Insn{Op: op, Dst: dst, Src: src, Off: off, Imm: imm})
	}
	lo := core.LdImm64(r0, 0, 5)
	for _, tc := range []struct {
		name  string
		insns []core.Insn
		is    error
		want  string // the whole message
	}{
		{"unknown opcode", prog(mov(r0, 0), i(core.LD|core.MEM|core.W, 0, 0, 0, 0), exit()), nil,
			"test: test.s:2 (insn 1): run: unknown opcode 0x60"},
		{"unknown ALU64 opcode 0xff", prog(i(0xff, 0, 0, 0, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: unknown ALU operation 0xff"},
		{"unknown ALU op", prog(i(core.ALU64|0xe0, 0, 0, 0, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: unknown ALU operation 0xe7"},
		{"unknown jump op", prog(i(core.JMP|0xe0, 0, 0, 0, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: unknown jump operation 0xe5"},
		{"jump past the end", prog(ja(5), exit()), nil,
			"test: test.s:1 (insn 0): run: jump to 6 is out of range (2 insns)"},
		{"jump before the start", prog(mov(r0, 0), jmp(core.JMP, core.JEQ, r0, 0, -3), exit()), nil,
			"test: test.s:2 (insn 1): run: jump to -1 is out of range (3 insns)"},
		{"gotol far past the end", prog(mov(r0, 0), gotol(0x7fffffff), exit()), nil,
			"test: test.s:2 (insn 1): run: jump to 2147483649 is out of range (3 insns)"},
		{"call far before the start", prog(callLocal(-0x80000000), exit()), nil,
			"test: test.s:1 (insn 0): run: call to -2147483647 is out of range (2 insns)"},
		{"jump into ld_imm64", prog(ja(1), ldImm64(r0, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: jump to 2 lands in the middle of ld_imm64"},
		{"call out of range", prog(callLocal(100), exit()), nil,
			"test: test.s:1 (insn 0): run: call to 101 is out of range (2 insns)"},
		{"truncated ld_imm64", prog(exit(), lo[:1]), nil,
			"test: test.s:2 (insn 1): run: ld_imm64 is truncated: its second slot is missing"},
		{"ld_imm64 second slot with opcode", prog(one(lo[0]), mov(r0, 1), exit()), nil,
			"test: test.s:2 (insn 1): run: second slot of ld_imm64 uses reserved fields (op 0xb7 dst 0 src 0 off 0 imm 1)"},
		{"ld_imm64 of a map the object lacks", prog(one(core.Insn{Op: core.LD | core.IMM | core.DW, Src: core.PseudoMapFD}), one(core.Insn{}), exit()), nil,
			"test: test.s:1 (insn 0): xlate: ld_imm64 refers to map 0, but the object has 0 maps"},
		{"ld_imm64 of a function", prog(one(core.Insn{Op: core.LD | core.IMM | core.DW, Src: core.PseudoFunc, Imm: 1}), one(core.Insn{}), exit(), exit()), core.ErrUnsupported,
			"test: test.s:1 (insn 0): run: ld_imm64 with pseudo source 4: not supported"},
		{"LD_ABS", prog(i(core.LD|core.ABS|core.W, 0, 0, 0, 0), exit()), core.ErrUnsupported,
			"test: test.s:1 (insn 0): run: legacy packet load 0x20 must be rewritten by xlate first: not supported"},
		{"tail call through no map", prog(i(core.JMP|core.TailCall, 0, 0, 0, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: tail call through r2 = 0x0, which is not a prog_array (the verifier passes only one)"},
		{"tail call with a poke the program lacks", prog(i(core.JMP|core.TailCall, 0, 0, 0, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: tail call through poke descriptor 1, the program has 0"},
		{"tail call with reserved fields", prog(i(core.JMP|core.TailCall, 1, 0, 0, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: tail call uses reserved fields (op 0xf5 dst 1 src 0 off 0 imm 0)"},
		{"kfunc", prog(i(core.JMP|core.Call, 0, core.PseudoKfunc, 0, 9), exit()), core.ErrUnsupported,
			"test: test.s:1 (insn 0): run: kfunc call 9: not supported"},
		{"load-acquire", prog(atomic(core.DW, core.LoadAcq, r0, r1, 0), exit()), core.ErrUnsupported,
			"test: test.s:1 (insn 0): run: load-acquire/store-release (imm 0x100): not supported"},
		{"unknown atomic", prog(atomic(core.DW, 0x10, r10, r1, -8), exit()), nil,
			"test: test.s:1 (insn 0): run: unknown atomic operation imm 0x10"},
		{"byte atomic", prog(atomic(core.B, core.AtomicAdd, r10, r1, -8), exit()), nil,
			"test: test.s:1 (insn 0): run: atomic operation of 1 bytes: only 4 and 8 exist"},
		{"register r11", prog(mov(11, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: register r11 does not exist"},
		{"source register r12", prog(alu64x(core.Add, r0, 12), exit()), nil,
			"test: test.s:1 (insn 0): run: register r12 does not exist"},
		{"write to r10", prog(mov(r10, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: frame pointer r10 is read only"},
		{"load into r10", prog(ldx(core.DW, r10, r10, -8), exit()), nil,
			"test: test.s:1 (insn 0): run: frame pointer r10 is read only"},
		{"fetch into r10", prog(atomic(core.DW, core.AtomicAdd|core.Fetch, r10, r10, -8), exit()), nil,
			"test: test.s:1 (insn 0): run: frame pointer r10 is read only"},
		{"add imm with a source register", prog(i(core.ALU64|core.K|core.Add, 0, 1, 0, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: ALU uses reserved fields (op 0x07 dst 0 src 1 off 0 imm 1)"},
		{"add reg with an offset", prog(i(core.ALU64|core.X|core.Add, 0, 1, 1, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: ALU uses reserved fields (op 0x0f dst 0 src 1 off 1 imm 0)"},
		{"neg with imm", prog(i(core.ALU64|core.Neg, 0, 0, 0, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: neg uses reserved fields (op 0x87 dst 0 src 0 off 0 imm 1)"},
		{"le with width 8", prog(end(core.ALU, core.ToLE, r0, 8), exit()), nil,
			"test: test.s:1 (insn 0): run: byte swap uses reserved fields (op 0xd4 dst 0 src 0 off 0 imm 8)"},
		{"ALU64 END with X", prog(end(core.ALU64, core.ToBE, r0, 16), exit()), nil,
			"test: test.s:1 (insn 0): run: byte swap uses reserved fields (op 0xdf dst 0 src 0 off 0 imm 16)"},
		{"movsx32 from 32 bits", prog(movsx(core.ALU, r0, r1, 32), exit()), nil,
			"test: test.s:1 (insn 0): run: movsx uses reserved fields (op 0xbc dst 0 src 1 off 32 imm 0)"},
		{"mov imm with offset", prog(i(core.ALU64|core.K|core.Mov, 0, 0, 8, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: ALU uses reserved fields (op 0xb7 dst 0 src 0 off 8 imm 1)"},
		{"ja with a register", prog(i(core.JMP|core.JA, 1, 0, 0, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: ja uses reserved fields (op 0x05 dst 1 src 0 off 0 imm 0)"},
		{"gotol with an offset", prog(i(core.JMP32|core.JA, 0, 0, 1, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: ja uses reserved fields (op 0x06 dst 0 src 0 off 1 imm 0)"},
		{"exit with imm", prog(i(core.JMP|core.Exit, 0, 0, 0, 1)), nil,
			"test: test.s:1 (insn 0): run: exit uses reserved fields (op 0x95 dst 0 src 0 off 0 imm 1)"},
		{"JMP32 exit", prog(i(core.JMP32|core.Exit, 0, 0, 0, 0)), nil,
			"test: test.s:1 (insn 0): run: exit uses reserved fields (op 0x96 dst 0 src 0 off 0 imm 0)"},
		{"call with dst", prog(i(core.JMP|core.Call, 1, 0, 0, 2), exit()), nil,
			"test: test.s:1 (insn 0): run: call uses reserved fields (op 0x85 dst 1 src 0 off 0 imm 2)"},
		{"call with offset", prog(i(core.JMP|core.Call, 0, 0, 1, 2), exit()), nil,
			"test: test.s:1 (insn 0): run: call uses reserved fields (op 0x85 dst 0 src 0 off 1 imm 2)"},
		{"callx with imm", prog(i(core.JMP|core.X|core.Call, 1, 0, 0, 2), exit()), nil,
			"test: test.s:1 (insn 0): run: callx uses reserved fields (op 0x8d dst 1 src 0 off 0 imm 2)"},
		{"jeq imm with a source register", prog(i(core.JMP|core.JEQ, 0, 1, 0, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: conditional jump uses reserved fields (op 0x15 dst 0 src 1 off 0 imm 0)"},
		{"jeq reg with imm", prog(i(core.JMP|core.X|core.JEQ, 0, 1, 0, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: conditional jump uses reserved fields (op 0x1d dst 0 src 1 off 0 imm 1)"},
		{"ldx with imm", prog(i(core.LDX|core.MEM|core.DW, 0, 10, -8, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: BPF_LDX uses reserved fields (op 0x79 dst 0 src 10 off -8 imm 1)"},
		{"ldxsdw does not exist", prog(ldxs(core.DW, r0, r10, -8), exit()), nil,
			"test: test.s:1 (insn 0): run: unknown load opcode 0x99"},
		{"st with a source register", prog(i(core.ST|core.MEM|core.W, 10, 1, -8, 0), exit()), nil,
			"test: test.s:1 (insn 0): run: BPF_ST uses reserved fields (op 0x62 dst 10 src 1 off -8 imm 0)"},
		{"stx with imm", prog(i(core.STX|core.MEM|core.W, 10, 1, -8, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: BPF_STX uses reserved fields (op 0x63 dst 10 src 1 off -8 imm 1)"},
		{"sdiv-like offset on add", prog(sdivmod(core.ALU64, core.K, core.Add, r0, 0, 1), exit()), nil,
			"test: test.s:1 (insn 0): run: ALU uses reserved fields (op 0x07 dst 0 src 0 off 1 imm 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := interp.New()
			defer e.Close()
			_, err := e.Run(withPos(object(core.HelpersConformance, tc.insns)), 0, core.Input{}, core.RunOptions{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err %v does not wrap %v", err, tc.is)
			}
		})
	}
}

func TestRunOffTheEnd(t *testing.T) {
	e := interp.New()
	defer e.Close()
	for _, tc := range []struct {
		insns []core.Insn
		want  string // names the last instruction, the one that fell through
	}{
		{prog(mov(r0, 1)), "test: (insn 0): run: execution ran past the last instruction without exit"},
		{prog(mov(r0, 1), ldImm64(r0, 1)), "test: (insn 1): run: execution ran past the last instruction without exit"},
		{prog(ja(1), exit(), callLocal(-2)), "test: (insn 2): run: execution ran past the last instruction without exit"},
	} {
		_, err := e.Run(object(core.HelpersConformance, tc.insns), 0, core.Input{}, core.RunOptions{Budget: 100})
		if err == nil || err.Error() != tc.want {
			t.Fatalf("err = %v\nwant  %s", err, tc.want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	e := interp.New()
	defer e.Close()
	if _, err := e.Run(nil, 0, core.Input{}, core.RunOptions{}); err == nil || err.Error() != "?: run: no program 0 (the object has 0)" {
		t.Fatalf("nil object: %v", err)
	}
	obj := object(core.HelpersConformance, prog(exit()))
	if _, err := e.Run(obj, 1, core.Input{}, core.RunOptions{}); err == nil || err.Error() != "?: run: no program 1 (the object has 1)" {
		t.Fatalf("prog 1: %v", err)
	}
	if _, err := e.Run(object(core.HelpersConformance, nil), 0, core.Input{}, core.RunOptions{}); err == nil || err.Error() != `?: run: program "test" has no instructions` {
		t.Fatalf("empty: %v", err)
	}
}

// TestProgramChanged: the predecode cache notices a Program edited in
// place between runs.
func TestProgramChanged(t *testing.T) {
	e := interp.New()
	defer e.Close()
	obj := object(core.HelpersConformance, prog(mov(r0, 1), exit()))
	if res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{}); err != nil || res.R0 != 1 {
		t.Fatal(res, err)
	}
	obj.Progs[0].Insns[0].Imm = 2
	if res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{}); err != nil || res.R0 != 2 {
		t.Fatalf("after edit: %v %v; want r0 2", res, err)
	}
	obj.Helpers = core.HelpersKernel
	obj.Progs[0].Insns = prog(call(gatherBytes), exit())
	if _, err := e.Run(obj, 0, core.Input{}, core.RunOptions{}); err == nil {
		t.Fatal("helper 0 ran in the kernel set")
	}
}

// TestGarbage runs seeded random slot arrays: whatever they hold, a run
// ends with a result or an error, never a panic or a hang.
func TestGarbage(t *testing.T) {
	e := interp.New()
	defer e.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	ran := 0
	for range 20000 {
		var insns []core.Insn
		for range 1 + rng.IntN(12) {
			insns = append(insns, randomInsn(rng)...)
		}
		res, err := e.Run(object(core.HelpersConformance, insns), 0, core.Input{Ctx: make([]byte, 16)}, core.RunOptions{Budget: 500})
		if (res == nil) == (err == nil) {
			t.Fatalf("res %v and err %v for %v", res, err, insns)
		}
		if err == nil {
			ran++
		} else if testing.Verbose() && rng.IntN(500) == 0 {
			t.Log(err)
		}
	}
	if ran == 0 {
		t.Fatal("no random program ran to completion: the generator only tests the decoder")
	}
	t.Logf("%d of 20000 random programs ran to completion", ran)
}

// randomInsn mostly builds well-formed slots (unused fields zero, opcodes
// that exist, small registers and offsets) so that many programs get past
// the decoder into the run loop; one in eight slots is raw noise.
func randomInsn(rng *rand.Rand) []core.Insn {
	reg := func() core.Reg {
		if rng.IntN(32) == 0 {
			return core.Reg(rng.IntN(16))
		}
		return core.Reg(rng.IntN(11))
	}
	off := func() int16 { return int16(rng.IntN(17) - 8) }
	imm := func() int32 {
		if rng.IntN(4) == 0 {
			return int32(rng.Uint32())
		}
		return int32(rng.IntN(65) - 32)
	}
	aluOps := []uint8{core.Add, core.Sub, core.Mul, core.Div, core.Or, core.And, core.Lsh, core.Rsh, core.Mod, core.Xor, core.Mov, core.Arsh}
	jmpOps := []uint8{core.JEQ, core.JGT, core.JGE, core.JSET, core.JNE, core.JSGT, core.JSGE, core.JLT, core.JLE, core.JSLT, core.JSLE}
	sizes := []uint8{core.B, core.H, core.W, core.DW}
	atomics := []int32{core.AtomicAdd, core.AtomicOr | core.Fetch, core.AtomicXchg, core.AtomicCmpXchg, core.AtomicXor}
	class64 := func(a, b uint8) uint8 {
		if rng.IntN(2) == 0 {
			return a
		}
		return b
	}
	switch rng.IntN(14) {
	case 0:
		return one(core.Insn{Op: uint8(rng.Uint32()), Dst: core.Reg(rng.IntN(16)), Src: core.Reg(rng.IntN(16)), Off: int16(rng.Uint32()), Imm: int32(rng.Uint32())})
	case 1, 2:
		return one(core.Insn{Op: class64(core.ALU64, core.ALU) | core.K | aluOps[rng.IntN(len(aluOps))], Dst: reg(), Imm: imm()})
	case 3, 4:
		return one(core.Insn{Op: class64(core.ALU64, core.ALU) | core.X | aluOps[rng.IntN(len(aluOps))], Dst: reg(), Src: reg()})
	case 5:
		return one(core.Insn{Op: class64(core.JMP, core.JMP32) | core.K | jmpOps[rng.IntN(len(jmpOps))], Dst: reg(), Imm: imm(), Off: off()})
	case 6:
		return one(core.Insn{Op: class64(core.JMP, core.JMP32) | core.X | jmpOps[rng.IntN(len(jmpOps))], Dst: reg(), Src: reg(), Off: off()})
	case 7:
		return ja(off())
	case 8:
		return one(core.Insn{Op: core.LDX | core.MEM | sizes[rng.IntN(4)], Dst: reg(), Src: core.Reg(class64(uint8(core.R10), uint8(core.R1))), Off: -8 * int16(rng.IntN(4))})
	case 9:
		return one(core.Insn{Op: core.ST | core.MEM | sizes[rng.IntN(4)], Dst: core.Reg(class64(uint8(core.R10), uint8(reg()))), Off: -8, Imm: imm()})
	case 10:
		return one(core.Insn{Op: core.STX | core.ATOMIC | class64(core.W, core.DW), Dst: core.R10, Src: reg(), Off: -8 * int16(rng.IntN(3)), Imm: atomics[rng.IntN(len(atomics))]})
	case 11:
		return call(int32(rng.IntN(7)))
	case 12:
		return ldImm64(reg(), rng.Uint64())
	}
	return exit()
}

// FuzzRun: raw instruction bytes, decoded as a loader would, then run: a
// result or an error, never both, never a panic.
func FuzzRun(f *testing.F) {
	f.Add(core.EncodeInsns(prog(mov(r0, 1), exit())), []byte{1, 2, 3})
	f.Add(core.EncodeInsns(countLoop(100)), []byte(nil))
	f.Add(core.EncodeInsns(prog(ldx(core.DW, r0, r1, 0), atomic(core.DW, core.AtomicCmpXchg, r1, r0, 0), exit())), make([]byte, 8))
	e := interp.New()
	f.Fuzz(func(t *testing.T, raw, ctx []byte) {
		insns, err := core.DecodeRaw("fuzz", raw)
		if err != nil {
			return
		}
		res, err := e.Run(object(core.HelpersConformance, insns), 0, core.Input{Ctx: ctx}, core.RunOptions{Budget: 10000})
		if (res == nil) == (err == nil) {
			t.Fatalf("res %v, err %v", res, err)
		}
	})
}
