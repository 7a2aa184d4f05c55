package x86

// emitPrologue is emit_prologue() followed by the callee-saved pushes that
// do_jit adds. Fixed scheme (Linux >= 6.11), IBT off:
//
//	 0  nop5                  patch site for trampolines (X86_PATCH_SIZE)
//	 5  xor rax, rax          main with tail calls: tail_call_cnt = 0
//	    (nop3 otherwise, so that the layout stays the same)
//	 8  push rbp
//	 9  mov rbp, rsp
//	12  <- tail calls land here (X86_TAIL_CALL_OFFSET)
//	    sub rsp, rsd          only when the function uses stack
//	    tail call prologue    tail_call_reachable only (emitPrologueTailCall)
//	    push rbx/r13/r14/r15  the callee-saved registers the function uses
//
// IBT puts endbr64 at 0 and at the landing point, which moves it to 16.
// Legacy (<= 6.10) has "xor eax, eax" / nop2 (so tail calls land at 11)
// and a single "push rax" keeping the count by value.
//
// The frame then reads, from rbp down:
//
//	rbp+8           return address
//	rbp             caller's rbp
//	rbp-rsd..rbp-1  BPF stack (r10 = rbp)
//	rbp-rsd-8       fixed: tail_call_cnt (main) or tcc_ptr (subprog);
//	                legacy: the count, in the upper half of the qword
//	rbp-rsd-16      fixed: tcc_ptr
//	below           callee-saved registers
func (c *compiler) emitPrologue() error {
	fs := c.fs
	a := &c.a
	if c.opts.IBT {
		a.endbr64() // emit_cfi() without CFI: EMIT_ENDBR
	}
	a.nops(patchSize)
	tcMain := fs.tcReachable && !fs.subprog
	switch {
	case c.legacy && tcMain:
		a.xorRegReg32(rax, rax)
	case c.legacy:
		a.nops(2)
	case tcMain:
		// The entry of the whole tail call context: rax = 0 is the count.
		a.aluRegReg(true, opXor, rax, rax)
	default:
		a.nops(3)
	}
	a.push(rbp)
	a.movRegReg(rbp, rsp)
	// X86_TAIL_CALL_OFFSET must point here, at the second endbr64 under IBT.
	if got := a.len(); got != c.tailCallOffset {
		return c.errorf(fs.start, "prologue: tail call landing at %d, X86_TAIL_CALL_OFFSET is %d", got, c.tailCallOffset)
	}
	if c.opts.IBT {
		a.endbr64()
	}
	if fs.depth != 0 {
		a.aluImm32(true, opSub, rsp, fs.depth)
	}
	if fs.tcReachable {
		if c.legacy {
			a.push(rax)
		} else {
			c.emitPrologueTailCall(fs.subprog)
		}
	}
	c.pushCalleeRegs()
	return nil
}

// emitPrologueTailCall is emit_prologue_tail_call() (6.11+). A main program
// is entered either by the run (rax = 0) or by a tail call, from a main
// program (rax = its count, <= 33) or from a subprogram (rax = tcc_ptr, a
// kernel address and so > 33):
//
//	cmp rax, MAX_TAIL_CALL_CNT
//	ja 1f
//	push rax          ; a count: keep it here,
//	mov rax, rsp      ; and point at it
//	jmp 2f
//	1: push rax       ; a pointer: the count lives in an earlier frame
//	2: push rax       ; tcc_ptr
//
// A subprogram always gets tcc_ptr in rax: push rax; push rax.
func (c *compiler) emitPrologueTailCall(subprog bool) {
	a := &c.a
	if subprog {
		a.push(rax)
		a.push(rax)
		return
	}
	a.cmpImm8(true, rax, maxTailCalls)
	a.jccRel8(ja, 6)
	a.push(rax)
	a.movRegReg(rax, rsp)
	a.jmpRel8(1)
	a.push(rax)
	a.push(rax)
}

// pushCalleeRegs is push_callee_regs(): rbx, r13, r14, r15 as used.
func (c *compiler) pushCalleeRegs() {
	for k, r := range calleeSaved {
		if c.fs.regsUsed[k] {
			c.a.push(r)
		}
	}
}

// popCalleeRegs is pop_callee_regs(), in reverse.
func (c *compiler) popCalleeRegs() {
	for k := len(calleeSaved) - 1; k >= 0; k-- {
		if c.fs.regsUsed[k] {
			c.a.pop(calleeSaved[k])
		}
	}
}

// emitEpilogue is the first BPF_EXIT's code: "leave" drops the BPF stack
// and the tail call slots with it. emit_return is a plain ret: no return
// thunk (X86_FEATURE_RETHUNK) and no SLS int3 (CONFIG_MITIGATION_SLS is
// off by default), as in the selftests' listings.
func (c *compiler) emitEpilogue() {
	c.popCalleeRegs()
	c.a.leave()
	c.a.ret()
}
