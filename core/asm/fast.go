package asm

import "jitsim/core"

// The fast path assembles a statement of the shapes most lines have, in
// both syntaxes, in one pass over its bytes with the cursor in a local:
//
//	mov %r0, 1        add32 %r1, %r2     neg %r1           be16 %r1
//	ldxw %r0, [%r1+4] stdw [%r10-8], 1   stxw [%r1], %r2   lddw %r1, 0x5
//	jeq %r1, 2, L     ja +3              call 5            exit
//	r0 = 1            w1 += w2           r1 = 5 ll         r0 = *(u32 *)(r1 +4)
//	*(u64 *)(r10 -8) = r1                lock *(u64 *)(r10 -8) += r1
//	if r1 > 0x5 goto L                   goto +3           call name
//
// Anything else (other forms, bad input, trailing text) makes it give up
// before it changes anything, and the general parser, which reports the
// errors, parses the statement from the start. For what it accepts, the
// result is the general parser's: the same slots, positions and label
// references (TestFastPath and FuzzFastPath compare the two).

// fastPath is false in tests that compare the fast path with the general
// parser.
var fastPath = true

// scan is the fast path's cursor over one statement. Its methods are small
// enough to be inlined, so the index stays in a register.
type scan struct {
	b []byte
	i int
}

func (s *scan) blanks() {
	for s.i < len(s.b) && isBlank(s.b[s.i]) {
		s.i++
	}
}

// eat consumes c, blanks skipped before it.
func (s *scan) eat(c byte) bool {
	s.blanks()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// word scans an identifier (without the general scanner's "%[name]" and
// "_%=" forms) and returns its start.
func (s *scan) word() int {
	start := s.i
	for s.i < len(s.b) && identByte[s.b[s.i]] {
		s.i++
	}
	return start
}

// end reports whether only blanks are left.
func (s *scan) end() bool {
	s.blanks()
	return s.i == len(s.b)
}

// reg scans a register of a kind want accepts (0: any), blanks skipped.
func (s *scan) reg(want byte) (core.Reg, byte, bool) {
	s.blanks()
	r, kind, end, ok := scanReg(s.b, s.i, want)
	if ok {
		s.i = end
	}
	return r, kind, ok
}

// regOrImm scans the source operand of an ALU or jump instruction.
func (s *scan) regOrImm(kind byte, ins *core.Insn) bool {
	end, ok := scanRegOrImm(s.b, s.i, kind, ins)
	if ok {
		s.i = end
	}
	return ok
}

func (s *scan) imm32() (int32, bool) {
	s.blanks()
	v, end, ok := scanImm32(s.b, s.i)
	if ok {
		s.i = end
	}
	return v, ok
}

// mem scans "(rN +off)" after a cast.
func (s *scan) mem() (core.Reg, int16, bool) {
	r, off, end, ok := scanMem(s.b, s.i)
	if ok {
		s.i = end
	}
	return r, off, ok
}

func (s *scan) cast() (size uint8, signed, ok bool) {
	size, signed, end, ok := scanCast(s.b, s.i)
	if ok {
		s.i = end
	}
	return size, signed, ok
}

// target scans a jump target into f.
func (s *scan) target(kind uint8, f *fastInsn) bool {
	s.blanks()
	t, end, ok := scanTarget(s.b, s.i, kind)
	if ok {
		s.i = end
		f.target, f.jump = t, true
	}
	return ok
}

// fastInsn is what the fast path assembled, committed by fastStatement.
type fastInsn struct {
	ins    core.Insn
	target jumpTarget // of a jump (jump set)
	jump   bool
	call   [2]int     // "call name": the name, for fixCall
	lddw   bool       // an ld_imm64 of imm64
	imm64  uint64
	exit   bool
}

// fastStatement assembles the statement at the cursor if the fast path
// knows its shape, and reports whether it did.
func (p *parser) fastStatement() bool {
	s := scan{b: p.buf, i: p.i}
	s.blanks()
	col := s.i
	var f fastInsn
	var ok bool
	if s.i < len(s.b) && s.b[s.i] == '*' {
		s.i++
		ok = s.store(&f.ins)
	} else {
		start := s.word()
		if s.i == start || isDigit(s.b[start]) || s.i < len(s.b) && s.b[s.i] == '%' {
			return false
		}
		w := s.b[start:s.i]
		if s.eat(':') {
			return false // a label
		}
		if fw := lookupFirst(w); fw != nil {
			if fw.m.kind == 0 {
				ok = s.assign(fw.reg, fw.regKind, &f)
			} else {
				ok = s.conformance(fw.m, &f)
			}
		} else {
			switch string(w) {
			case "if":
				ok = s.cond(&f)
			case "goto":
				f.ins.Op = core.JMP | core.JA
				ok = s.target(fixJump, &f)
			}
		}
	}
	if !ok || !s.end() {
		return false
	}
	p.i = s.i
	switch {
	case f.exit:
		p.exit(col)
	case f.lddw:
		p.emitLdImm64(col, f.ins.Dst, 0, f.imm64)
	case f.call[0] != f.call[1]:
		p.addFixup(fixCall, p.slot(), f.call[0], f.call[1])
		p.emit(col, f.ins)
	case f.jump:
		if f.target.isLabel() {
			p.addFixup(f.target.kind, p.slot(), f.target.start, f.target.end)
		} else {
			f.target.apply(&f.ins)
		}
		p.emit(col, f.ins)
	default:
		p.emit(col, f.ins)
	}
	return true
}

// conformance scans the operands of mnemonic m (conformance).
func (s *scan) conformance(m mnemonic, f *fastInsn) bool {
	ins := &f.ins
	*ins = core.Insn{Op: m.op, Off: m.off, Imm: m.imm}
	var ok bool
	switch m.kind {
	case mALU:
		if ins.Dst, _, ok = s.reg(regR); ok && s.eat(',') {
			return s.regOrImm(regR, ins)
		}
	case mNeg, mEndian:
		ins.Dst, _, ok = s.reg(regR)
		return ok
	case mMovsx:
		if ins.Dst, _, ok = s.reg(regR); ok && s.eat(',') {
			ins.Src, _, ok = s.reg(regR)
			return ok
		}
	case mLddw:
		if ins.Dst, _, ok = s.reg(regR); ok && s.eat(',') {
			s.blanks()
			f.imm64, s.i, ok = scanImm64(s.b, s.i)
			f.lddw = ok
			return ok
		}
	case mLdx:
		if ins.Dst, _, ok = s.reg(regR); ok && s.eat(',') {
			ins.Src, ins.Off, s.i, ok = scanMemConformance(s.b, s.i)
			return ok
		}
	case mSt:
		if ins.Dst, ins.Off, s.i, ok = scanMemConformance(s.b, s.i); ok && s.eat(',') {
			ins.Imm, ok = s.imm32()
			return ok
		}
	case mStx:
		if ins.Dst, ins.Off, s.i, ok = scanMemConformance(s.b, s.i); ok && s.eat(',') {
			ins.Src, _, ok = s.reg(regR)
			return ok
		}
	case mLdAbs:
		ins.Imm, ok = s.imm32()
		return ok
	case mLdInd:
		if ins.Src, _, ok = s.reg(regR); ok && s.eat(',') {
			ins.Imm, ok = s.imm32()
			return ok
		}
	case mJa, mJa32:
		kind := uint8(fixJump)
		if m.kind == mJa32 {
			kind = fixJumpImm
		}
		return s.target(kind, f)
	case mJcc:
		if ins.Dst, _, ok = s.reg(regR); ok && s.eat(',') && s.regOrImm(regR, ins) && s.eat(',') {
			return s.target(fixJump, f)
		}
	case mExit:
		f.exit = true
		return true
	case mCall:
		return s.call(f)
	case mLock:
		s.blanks()
		if s.i < len(s.b) && s.b[s.i] == '*' {
			s.i++
			return s.lock(ins)
		}
	}
	return false
}

// call scans "call N" (a helper id) and "call name" (a label, else a
// helper name), callConformance's and callPseudoC's common forms.
func (s *scan) call(f *fastInsn) bool {
	f.ins = core.Insn{Op: core.JMP | core.Call}
	s.blanks()
	if s.i >= len(s.b) {
		return false
	}
	if c := s.b[s.i]; isDigit(c) || c == '+' || c == '-' {
		var ok bool
		f.ins.Imm, ok = s.imm32()
		return ok
	}
	start := s.word()
	switch string(s.b[start:s.i]) {
	case "", "local", "runtime", "helper", "pc":
		return false
	}
	if isDigit(s.b[start]) || s.i < len(s.b) && (s.b[s.i] == '%' || s.b[s.i] == '#') {
		return false
	}
	f.call = [2]int{start, s.i}
	return true
}

// assign scans what follows the register of a pseudo-C assignment
// (assign): "op= src", "= src", "= N ll", "= *(size *)(rS +off)".
func (s *scan) assign(dst core.Reg, kind byte, f *fastInsn) bool {
	cls := uint8(core.ALU64)
	if kind == regW {
		cls = core.ALU
	}
	s.blanks()
	if s.i >= len(s.b) {
		return false
	}
	var op uint8
	var off int16
	found := false
	for _, o := range aluOpsByFirst[s.b[s.i]] {
		if hasPrefixAt(s.b, s.i, o.text) {
			op, off, found = o.op, o.off, true
			s.i += len(o.text)
			break
		}
	}
	if !found {
		return false
	}
	ins := &f.ins
	*ins = core.Insn{Op: cls | op, Dst: dst, Off: off}
	s.blanks()
	if op != core.Mov {
		return s.regOrImm(kind, ins)
	}
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '*':
		s.i++
		return s.load(dst, kind, ins)
	case c == '%' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		// A register of the destination's kind; any other word is left
		// to assignWord.
		var ok bool
		ins.Op |= core.X
		ins.Src, _, ok = s.reg(kind)
		return ok
	case isDigit(c) || (c == '-' || c == '+') && s.i+1 < len(s.b) && (isDigit(s.b[s.i+1]) || isBlank(s.b[s.i+1])):
		neg, hex, mag, end, ok, big := scanNumber(s.b, s.i)
		if !ok || big {
			return false
		}
		if ll := skipBlanks(s.b, end); hasPrefixAt(s.b, ll, "ll") && (ll+2 == len(s.b) || !identByte[s.b[ll+2]]) {
			// "r1 = N ll": ld_imm64.
			if kind != regR || neg && mag > 1<<63 {
				return false
			}
			if neg {
				mag = -mag
			}
			f.lddw, f.imm64 = true, mag
			s.i = ll + 2
			return true
		}
		s.i = end
		ins.Imm, ok = imm32Of(neg, hex, mag)
		return ok
	}
	return false
}

// load scans "(size *)(rS +off)" after "rD = *" (load).
func (s *scan) load(dst core.Reg, kind byte, ins *core.Insn) bool {
	size, signed, ok := s.cast()
	if !ok || kind == regW && (size == core.DW || signed) {
		return false
	}
	mode := uint8(core.MEM)
	if signed {
		mode = core.MEMSX
	}
	*ins = core.Insn{Op: core.LDX | mode | size, Dst: dst}
	ins.Src, ins.Off, ok = s.mem()
	return ok
}

// store scans what follows the '*' of "*(size *)(rD +off) = src" (store).
func (s *scan) store(ins *core.Insn) bool {
	size, signed, ok := s.cast()
	if !ok || signed {
		return false
	}
	*ins = core.Insn{}
	if ins.Dst, ins.Off, ok = s.mem(); !ok || !s.eat('=') {
		return false
	}
	s.blanks()
	if r, kind, end, ok := scanReg(s.b, s.i, 0); ok {
		if kind == regW && size == core.DW {
			return false
		}
		ins.Op, ins.Src, s.i = core.STX|core.MEM|size, r, end
		return true
	}
	ins.Op = core.ST | core.MEM | size
	ins.Imm, ok = s.imm32()
	return ok
}

// lock scans what follows "lock *" (lockPseudoC).
func (s *scan) lock(ins *core.Insn) bool {
	size, signed, ok := s.cast()
	if !ok || signed || size != core.W && size != core.DW {
		return false
	}
	*ins = core.Insn{Op: core.STX | core.ATOMIC | size}
	if ins.Dst, ins.Off, ok = s.mem(); !ok {
		return false
	}
	s.blanks()
	if s.i+1 >= len(s.b) || s.b[s.i+1] != '=' {
		return false
	}
	switch s.b[s.i] {
	case '+':
		ins.Imm = core.AtomicAdd
	case '|':
		ins.Imm = core.AtomicOr
	case '&':
		ins.Imm = core.AtomicAnd
	case '^':
		ins.Imm = core.AtomicXor
	default:
		return false
	}
	s.i += 2
	ins.Src, _, ok = s.reg(0)
	return ok
}

// cond scans what follows "if" (cond).
func (s *scan) cond(f *fastInsn) bool {
	dst, kind, ok := s.reg(0)
	if !ok || kind == regPercent {
		return false
	}
	cls := uint8(core.JMP)
	if kind == regW {
		cls = core.JMP32
	}
	s.blanks()
	if s.i >= len(s.b) {
		return false
	}
	ins := &f.ins
	*ins = core.Insn{Dst: dst}
	found := false
	for _, o := range jmpOpsByFirst[s.b[s.i]] {
		if hasPrefixAt(s.b, s.i, o.text) {
			ins.Op, found = cls|o.op, true
			s.i += len(o.text)
			break
		}
	}
	if !found || !s.regOrImm(kind, ins) {
		return false
	}
	s.blanks()
	if !hasPrefixAt(s.b, s.i, "goto") || s.i+4 < len(s.b) && identByte[s.b[s.i+4]] {
		return false
	}
	s.i += 4
	return s.target(fixJump, f)
}
