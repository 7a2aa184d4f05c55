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

// scanCastMem scans "(size *)(rN +off)" (cast, then mem).
func scanCastMem(b []byte, i int) (size uint8, signed bool, r core.Reg, off int16, end int) {
	size, signed, i = scanCast(b, i)
	r, off, i = scanMem(b, i)
	return size, signed, r, off, i
}

// fastTarget scans a jump target into f.
func fastTarget(b []byte, i int, kind uint8, f *fastInsn) int {
	t, end := scanTarget(b, i, kind)
	f.target, f.kind = t, fastJump
	return end
}

// fastInsn is what the fast path assembled, committed by fastStatement.
type fastInsn struct {
	ins    core.Insn
	kind   uint8      // what to emit: fastJump uses target, fastLdImm64 imm64
	target jumpTarget // of a jump or call
	imm64  uint64
}

// fastInsn kinds.
const (
	fastPlain   = iota // emit ins
	fastJump           // a jump or call: its target, then ins
	fastLdImm64        // both slots of an ld_imm64 of imm64 into ins.Dst
	fastExit           // exit, which may be the "exit" label
)

// fastLines assembles the lines of src from off with the fast path, up
// to the first it cannot take or the limit lim (the next '#', '/' or ';':
// a statement may end there if atEnd), and returns where it stopped and
// the line number there; done when it reached the end of src.
func (p *parser) fastLines(src []byte, off, lim, line int, atEnd bool) (next, nextLine int, done bool) {
	b := src[:lim]
	for off <= lim && p.err == nil {
		p.lineNo, p.lineOff = line, off
		end := p.fastStatement(b, off, off, atEnd)
		if end < 0 {
			break
		}
		if end == lim && lim < len(src) {
			end = nextByte(src, '\n', end) // a '#' comment ends the line
		}
		if end == len(src) {
			return end, line, true
		}
		off, line = end+1, line+1
	}
	return off, line, false
}

// fastStatement assembles the statement at b[i:] if the fast path knows
// its shape; b[base:] is the line. The statement ends at a '\n' in b or,
// if atEnd, at the end of b; fastStatement returns that index, -1 if it
// did nothing. An empty line is a statement that emits nothing.
func (p *parser) fastStatement(b []byte, base, i int, atEnd bool) int {
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] == '\n' {
		return statementEnd(b, i, atEnd)
	}
	start := i
	col := i - base
	var f fastInsn
	if b[i] == '*' {
		i = fastStore(b, i+1, &f.ins)
	} else {
		var fw *firstWord
		if key, n := firstWordKey(b, start); n > 0 {
			fw = lookupFirstKey(key, n)
			i += n
		}
		if fw == nil {
			i = identEnd(b, start)
			if i == start || isDigit(b[start]) || i < len(b) && b[i] == '%' {
				return -1 // "l0_%=" is no first word
			}
		}
		next := skipBlanks(b, i)
		if next < len(b) && b[next] == ':' {
			return p.fastLabel(b, base, start, i, next+1, atEnd)
		}
		switch {
		case fw == nil:
			return -1
		case fw.kw == kwIf:
			i = fastCond(b, next, &f)
		case fw.kw == kwGoto:
			f.ins.Op = core.JMP | core.JA
			i = fastTarget(b, next, fixJump, &f)
		case fw.m.kind == 0:
			i = fastAssign(b, next, fw.reg, fw.regKind, &f)
		default:
			i = fastConformance(b, next, fw.m, &f)
		}
	}
	if i = statementEnd(b, i, atEnd); i < 0 {
		return -1
	}
	switch {
	case f.kind == fastExit:
		p.exit(col)
	case f.kind == fastLdImm64:
		p.emitLdImm64(col, f.ins.Dst, 0, f.imm64)
	case f.kind == fastJump:
		if f.target.isLabel() {
			p.addFixup(f.target.kind, p.slot(), int(f.target.start)-base, int(f.target.end)-base)
		} else {
			f.target.apply(&f.ins)
		}
		p.emit(col, &f.ins)
	default:
		p.emit(col, &f.ins)
	}
	return i
}

// fastLabel defines the label b[start:end] of a line (b[base:]) that
// holds nothing else after it (from rest), as the general parser would.
func (p *parser) fastLabel(b []byte, base, start, end, rest int, atEnd bool) int {
	if rest = statementEnd(b, rest, atEnd); rest < 0 {
		return -1
	}
	p.defineLabelAt(start-base, b[start:end], p.lineOff+start-base, false)
	return rest
}

// statementEnd returns the index of the '\n' after the blanks at b[i:],
// or len(b) if they end b and atEnd; else -1.
func statementEnd(b []byte, i int, atEnd bool) int {
	if i = skipBlanks(b, i); i < 0 {
		return -1
	}
	if i < len(b) {
		if b[i] == '\n' {
			return i
		}
		return -1
	}
	if !atEnd {
		return -1
	}
	return i
}

// fastConformance scans the operands of mnemonic m (conformance).
func fastConformance(b []byte, i int, m mnemonic, f *fastInsn) int {
	ins := &f.ins
	*ins = core.Insn{Op: m.op, Off: m.off, Imm: m.imm}
	switch m.kind {
	case mALU:
		ins.Dst, _, i = scanReg(b, i, regR)
		return scanRegOrImm(b, scanComma(b, i), regR, ins)
	case mNeg, mEndian:
		ins.Dst, _, i = scanReg(b, i, regR)
		return i
	case mMovsx:
		ins.Dst, _, i = scanReg(b, i, regR)
		ins.Src, _, i = scanReg(b, scanComma(b, i), regR)
		return i
	case mLddw:
		ins.Dst, _, i = scanReg(b, i, regR)
		f.kind = fastLdImm64
		f.imm64, i = scanImm64(b, scanComma(b, i))
		return i
	case mLdx:
		ins.Dst, _, i = scanReg(b, i, regR)
		ins.Src, ins.Off, i = scanMemConformance(b, scanComma(b, i))
		return i
	case mSt:
		ins.Dst, ins.Off, i = scanMemConformance(b, i)
		ins.Imm, i = scanImm32(b, scanComma(b, i))
		return i
	case mStx:
		ins.Dst, ins.Off, i = scanMemConformance(b, i)
		ins.Src, _, i = scanReg(b, scanComma(b, i), regR)
		return i
	case mLdAbs:
		ins.Imm, i = scanImm32(b, i)
		return i
	case mLdInd:
		ins.Src, _, i = scanReg(b, i, regR)
		ins.Imm, i = scanImm32(b, scanComma(b, i))
		return i
	case mJa, mJa32:
		kind := uint8(fixJump)
		if m.kind == mJa32 {
			kind = fixJumpImm
		}
		return fastTarget(b, i, kind, f)
	case mJcc:
		ins.Dst, _, i = scanReg(b, i, regR)
		i = scanRegOrImm(b, scanComma(b, i), regR, ins)
		return fastTarget(b, scanComma(b, i), fixJump, f)
	case mExit:
		f.kind = fastExit
		return i
	case mCall:
		return fastCall(b, i, f)
	case mLock:
		if uint(i) < uint(len(b)) && b[i] == '*' {
			return fastLock(b, i+1, ins)
		}
	}
	return -1
}

// fastCall scans "call N" (a helper id) and "call name" (a label, else a
// helper name), callConformance's and callPseudoC's common forms.
func fastCall(b []byte, i int, f *fastInsn) int {
	f.ins = core.Insn{Op: core.JMP | core.Call}
	if uint(i) >= uint(len(b)) {
		return -1
	}
	if c := b[i]; isDigit(c) || c == '+' || c == '-' {
		f.ins.Imm, i = scanImm32(b, i)
		return i
	}
	start := i
	i = identEnd(b, i)
	switch string(b[start:i]) {
	case "", "local", "runtime", "helper", "pc":
		return -1
	}
	if i < len(b) && (b[i] == '%' || b[i] == '#') {
		return -1
	}
	f.kind, f.target = fastJump, jumpTarget{kind: fixCall, start: int32(start), end: int32(i)}
	return i
}

// fastAssign scans what follows the register of a pseudo-C assignment
// (assign): "op= src", "= src", "= N ll", "= *(size *)(rS +off)".
func fastAssign(b []byte, i int, dst core.Reg, kind byte, f *fastInsn) int {
	cls := uint8(core.ALU64)
	if kind == regW {
		cls = core.ALU
	}
	i = skipBlanks(b, i)
	o, ok := matchALUOp(b, i)
	if !ok {
		return -1
	}
	i += len(o.text)
	ins := &f.ins
	*ins = core.Insn{Op: cls | o.op, Dst: dst, Off: o.off}
	if o.op != core.Mov {
		return scanRegOrImm(b, i, kind, ins)
	}
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) {
		return -1
	}
	switch c := b[i]; {
	case c == '*':
		size, signed, r, off, end := scanCastMem(b, i+1)
		if end < 0 || kind == regW && (size == core.DW || signed) {
			return -1
		}
		mode := uint8(core.MEM)
		if signed {
			mode = core.MEMSX
		}
		*ins = core.Insn{Op: core.LDX | mode | size, Dst: dst, Src: r, Off: off}
		return end
	case c == 'a':
		return fastAtomic(b, i, dst, ins)
	case c == '%' || c >= 'b' && c <= 'z' || c >= 'A' && c <= 'Z':
		// A register of the destination's kind; any other word is left
		// to assignWord.
		ins.Op |= core.X
		ins.Src, _, i = scanReg(b, i, kind)
		return i
	case isDigit(c) || (c == '-' || c == '+') && i+1 < len(b) && (isDigit(b[i+1]) || isBlank(b[i+1])):
		var neg, hex, ok, big bool
		var mag uint64
		var end int
		if d, sneg, send := smallNumber(b, i); send >= 0 {
			neg, mag, end, ok = sneg, uint64(d), send, true
		} else {
			neg, hex, mag, end, ok, big = scanNumber(b, i)
		}
		if !ok || big {
			return -1
		}
		if ll := skipBlanks(b, end); wordAt(b, ll, "ll") {
			// "r1 = N ll": ld_imm64.
			if kind != regR || neg && mag > 1<<63 {
				return -1
			}
			if neg {
				mag = -mag
			}
			f.kind, f.imm64 = fastLdImm64, mag
			return ll + 2
		}
		if ins.Imm, ok = imm32Of(neg, hex, mag); !ok {
			return -1
		}
		return end
	}
	return -1
}

// fastAtomic scans the fetching atomics as disasm.c prints them, after
// "rD = ": "atomic64_fetch_add((u64 *)(rS +off), rD)", "atomic_xchg((u32
// *)(...), wD)", "atomic64_cmpxchg((u64 *)(...), r0, rN)" (atomicCall;
// LLVM's xchg_64 family is left to it).
func fastAtomic(b []byte, i int, dst core.Reg, ins *core.Insn) int {
	start := i
	i = identEnd(b, i)
	name := b[start:i]
	var size uint8
	switch {
	case len(name) > 9 && string(name[:9]) == "atomic64_":
		name, size = name[9:], core.DW
	case len(name) > 7 && string(name[:7]) == "atomic_":
		name = name[7:]
	default:
		return -1
	}
	imm, ok := atomicFuncOp(name)
	if !ok {
		return -1
	}
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] != '(' {
		return -1
	}
	s, signed, r, off, i := scanCastMem(b, i+1)
	if i < 0 || signed || s != core.W && s != core.DW || size == core.DW && s != core.DW {
		return -1
	}
	*ins = core.Insn{Op: core.STX | core.ATOMIC | s, Dst: r, Off: off, Imm: imm}
	i = scanComma(b, i)
	if imm == core.AtomicCmpXchg {
		var r0 core.Reg
		if r0, _, i = scanReg(b, i, 0); r0 != core.R0 || dst != core.R0 {
			return -1
		}
		i = scanComma(b, i)
	}
	if ins.Src, _, i = scanReg(b, i, 0); imm != core.AtomicCmpXchg && ins.Src != dst {
		return -1
	}
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] != ')' {
		return -1
	}
	return i + 1
}

// fastStore scans what follows the '*' of "*(size *)(rD +off) = src" (store).
func fastStore(b []byte, i int, ins *core.Insn) int {
	size, signed, dst, off, i := scanCastMem(b, i)
	if i < 0 || signed {
		return -1
	}
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] != '=' {
		return -1
	}
	i = skipBlanks(b, i+1)
	if r, kind, end := scanReg(b, i, 0); end >= 0 {
		if kind == regW && size == core.DW {
			return -1
		}
		*ins = core.Insn{Op: core.STX | core.MEM | size, Dst: dst, Src: r, Off: off}
		return end
	}
	*ins = core.Insn{Op: core.ST | core.MEM | size, Dst: dst, Off: off}
	ins.Imm, i = scanImm32(b, i)
	return i
}

// fastLock scans what follows "lock *" (lockPseudoC).
func fastLock(b []byte, i int, ins *core.Insn) int {
	size, signed, dst, off, i := scanCastMem(b, i)
	if i < 0 || signed || size != core.W && size != core.DW {
		return -1
	}
	*ins = core.Insn{Op: core.STX | core.ATOMIC | size, Dst: dst, Off: off}
	if i = skipBlanks(b, i); i+1 >= len(b) || b[i+1] != '=' {
		return -1
	}
	imm, ok := lockOp(b[i])
	if !ok {
		return -1
	}
	ins.Imm = imm
	ins.Src, _, i = scanReg(b, i+2, 0)
	return i
}

// fastCond scans what follows "if" (cond).
func fastCond(b []byte, i int, f *fastInsn) int {
	dst, kind, i := scanReg(b, i, 0)
	if i < 0 || kind == regPercent {
		return -1
	}
	cls := uint8(core.JMP)
	if kind == regW {
		cls = core.JMP32
	}
	i = skipBlanks(b, i)
	o, ok := matchJmpOp(b, i)
	if !ok {
		return -1
	}
	f.ins = core.Insn{Op: cls | o.op, Dst: dst}
	i = scanRegOrImm(b, i+len(o.text), kind, &f.ins)
	if i = skipBlanks(b, i); !wordAt(b, i, "goto") {
		return -1
	}
	return fastTarget(b, i+4, fixJump, f)
}
