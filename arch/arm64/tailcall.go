package arm64

import (
	"jitsim/core"
	"jitsim/core/kabi"
)

// arm64 has no direct tail calls: there is no bpf_arch_poke_desc_update,
// and emit_bpf_tail_call never looks at the poke table, so a tail call
// with a constant map and key (JMP|TailCall with Imm > 0 after xlate) is
// JITed like any other, loading array->ptrs[index] at run time. The
// struct offsets it reads come from kabi.

// emitBpfTailCall is emit_bpf_tail_call of the fixed scheme
// (bpf_tail_call(ctx, array in x1, index in x2)): x26 points at the one
// count of the run, which is checked, incremented in x12 and stored back
// only once the slot turned out to hold a program. The three exits to
// "out" are emitted as NOPs and patched once the sequence's end is known.
func (ctx *jitCtx) emitBpfTailCall() {
	r2, r3 := bpf2a64[core.R2], bpf2a64[core.R3]
	prg := tmp2 // the target bpf_prog
	cnt := tmp3 // a copy of *tail_call_cnt_ptr

	// if (index >= array->map.max_entries) goto out;
	ctx.emitA64MovI64(tmp1, kabi.ArrayMaxEntriesOff)
	ctx.emit(ldrReg(size32, tmp1, r2, tmp1))
	ctx.emit(mov(false, r3, r3))
	ctx.emit(cmp(false, r3, tmp1))
	branch1 := ctx.idx
	ctx.emit(nop)

	// if ((*tail_call_cnt_ptr) >= MAX_TAIL_CALL_CNT) goto out;
	ctx.emitA64MovI64(tmp1, kabi.MaxTailCallCnt)
	ctx.emit(ldrImm(size64, cnt, tcc, 0))
	ctx.emit(cmp(true, cnt, tmp1))
	branch2 := ctx.idx
	ctx.emit(nop)

	// (*tail_call_cnt_ptr)++, in the register for now.
	ctx.emit(addImm(true, cnt, cnt, 1))

	// prog = array->ptrs[index]; if (prog == NULL) goto out;
	ctx.emitA64MovI64(tmp1, kabi.ArrayPtrsOff)
	ctx.emit(add(true, tmp1, r2, tmp1))
	ctx.emit(lslImm(true, prg, r3, 3))
	ctx.emit(ldrReg(size64, prg, tmp1, prg))
	branch3 := ctx.idx
	ctx.emit(nop)

	// Update tail_call_cnt if the slot is populated.
	ctx.emit(strImm(size64, cnt, tcc, 0))

	// Restore SP and this program's callee-saved registers; the target
	// pushes its own after PROLOGUE_OFFSET.
	if ctx.stackSize != 0 {
		ctx.emit(addImm(true, sp, sp, ctx.stackSize))
	}
	ctx.popCalleeRegs()

	// goto *(prog->bpf_func + prologue_offset);
	ctx.emitA64MovI64(tmp1, kabi.ProgBpfFuncOff)
	ctx.emit(ldrReg(size64, tmp1, prg, tmp1))
	ctx.emit(addImm(true, tmp1, tmp1, 4*ctx.c.prologueOffset))
	ctx.emit(br(tmp1))

	// out: the kernel patches the NOPs only when it has an image; the
	// sizing pass patches its recording too, which the write pass then
	// copies.
	ctx.put(branch1, bCond(condCS, ctx.idx-branch1))
	ctx.put(branch2, bCond(condCS, ctx.idx-branch2))
	ctx.put(branch3, cbz(true, prg, ctx.idx-branch3))
}

// emitBpfTailCallLegacy is emit_bpf_tail_call before the tailcall
// hierarchy fix: the count is x26 itself, incremented before the slot is
// looked at (so a miss on an empty slot still counts), and the branches to
// "out" use the static out_offset, the sequence's length, which every tail
// call of every program must share. The jump target keeps the caller's
// frame and callee-saved pushes; only the BPF stack is dropped.
func (ctx *jitCtx) emitBpfTailCallLegacy(i int) error {
	c := ctx.c
	r2, r3 := bpf2a64[core.R2], bpf2a64[core.R3]
	prg := tmp2
	idx0 := ctx.idx
	// out_offset is -1 until the first tail call has been emitted, so the
	// sizing pass aims that one's branches wrong: emit them all again.
	ctx.layoutDependent(i)
	jmpOffset := func() int { return c.outOffset - (ctx.idx - idx0) }

	// if (index >= array->map.max_entries) goto out;
	ctx.emitA64MovI64(tmp1, kabi.ArrayMaxEntriesOff)
	ctx.emit(ldrReg(size32, tmp1, r2, tmp1))
	ctx.emit(mov(false, r3, r3))
	ctx.emit(cmp(false, r3, tmp1))
	ctx.emit(bCond(condCS, jmpOffset()))

	// if (tail_call_cnt >= MAX_TAIL_CALL_CNT) goto out; tail_call_cnt++;
	ctx.emitA64MovI64(tmp1, kabi.MaxTailCallCnt)
	ctx.emit(cmp(true, tcc, tmp1))
	ctx.emit(bCond(condCS, jmpOffset()))
	ctx.emit(addImm(true, tcc, tcc, 1))

	// prog = array->ptrs[index]; if (prog == NULL) goto out;
	ctx.emitA64MovI64(tmp1, kabi.ArrayPtrsOff)
	ctx.emit(add(true, tmp1, r2, tmp1))
	ctx.emit(lslImm(true, prg, r3, 3))
	ctx.emit(ldrReg(size64, prg, tmp1, prg))
	ctx.emit(cbz(true, prg, jmpOffset()))

	// goto *(prog->bpf_func + prologue_offset);
	ctx.emitA64MovI64(tmp1, kabi.ProgBpfFuncOff)
	ctx.emit(ldrReg(size64, tmp1, prg, tmp1))
	ctx.emit(addImm(true, tmp1, tmp1, 4*c.prologueOffset))
	ctx.emit(addImm(true, sp, sp, ctx.stackSize))
	ctx.emit(br(tmp1))

	// out:
	cur := ctx.idx - idx0
	if c.outOffset == -1 {
		c.outOffset = cur
	}
	if cur != c.outOffset {
		return ctx.errorf(i, "tail_call out_offset = %d, expected %d!", cur, c.outOffset)
	}
	return nil
}
