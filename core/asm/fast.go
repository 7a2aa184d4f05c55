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

// The fast path's scanners take the statement and an index and return
// the index after what they scanned, -1 if it is not there; a negative
// index passes through, so a chain of scans checks once at the end. The
// cursor stays in a register rather than in the parser.

// fReg scans a register of a kind want accepts (0: any), blanks skipped.
func fReg(b []byte, i int, want byte) (core.Reg, byte, int) {
	r, kind, end, ok := scanReg(b, skipBlanks(b, i), want)
	if !ok {
		return 0, 0, -1
	}
	return r, kind, end
}

// fComma scans the comma between two operands.
func fComma(b []byte, i int) int {
	if i = skipBlanks(b, i); uint(i) < uint(len(b)) && b[i] == ',' {
		return i + 1
	}
	return -1
}

func fImm32(b []byte, i int) (int32, int) {
	v, end, ok := scanImm32(b, skipBlanks(b, i))
	if !ok {
		return 0, -1
	}
	return v, end
}

func fRegOrImm(b []byte, i int, kind byte, ins *core.Insn) int {
	end, ok := scanRegOrImm(b, i, kind, ins)
	if !ok {
		return -1
	}
	return end
}

func fMemConformance(b []byte, i int) (core.Reg, int16, int) {
	r, off, end, ok := scanMemConformance(b, i)
	if !ok {
		return 0, 0, -1
	}
	return r, off, end
}

// fLoadStore scans "(size *)(rN +off)" (cast, then mem).
func fLoadStore(b []byte, i int) (size uint8, signed bool, r core.Reg, off int16, end int) {
	size, signed, i, ok := scanCast(b, i)
	if ok {
		r, off, i, ok = scanMem(b, i)
	}
	if !ok {
		return 0, false, 0, 0, -1
	}
	return size, signed, r, off, i
}

// fTarget scans a jump target into f.
func fTarget(b []byte, i int, kind uint8, f *fastInsn) int {
	t, end, ok := scanTarget(b, skipBlanks(b, i), kind)
	if !ok {
		return -1
	}
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

const (
	fastPlain = iota
	fastJump
	fastLdImm64
	fastExit
)

// fastStatement assembles the statement at b[i:] if the fast path knows
// its shape. The statement ends at a '\n' in b or, if atEnd, at the end of
// b; fastStatement returns that index, -1 if it did nothing. An empty line
// is a statement that emits nothing.
func (p *parser) fastStatement(b []byte, i int, atEnd bool) int {
	if i = skipBlanks(b, i); i >= len(b) || b[i] == '\n' {
		return statementEnd(b, i, atEnd)
	}
	col := i
	var f fastInsn
	if b[i] == '*' {
		i = fStore(b, i+1, &f.ins)
	} else {
		var fw *firstWord
		if key, n := firstWordKey(b, col); n > 0 {
			fw = lookupFirstKey(key, n)
			i += n
		}
		if fw == nil {
			i = identEnd(b, col)
			if i == col || isDigit(b[col]) || i < len(b) && b[i] == '%' {
				return -1 // "l0_%=" is no first word
			}
		}
		next := skipBlanks(b, i)
		if next < len(b) && b[next] == ':' {
			return p.fastLabel(b, col, i, next+1, atEnd)
		}
		if fw != nil {
			if fw.m.kind == 0 {
				i = fAssign(b, next, fw.reg, fw.regKind, &f)
			} else {
				i = fConformance(b, next, fw.m, &f)
			}
		} else {
			switch string(b[col:i]) {
			case "if":
				i = fCond(b, next, &f)
			case "goto":
				f.ins.Op = core.JMP | core.JA
				i = fTarget(b, next, fixJump, &f)
			default:
				return -1
			}
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
			p.addFixup(f.target.kind, p.slot(), int(f.target.start), int(f.target.end))
		} else {
			f.target.apply(&f.ins)
		}
		p.emit(col, &f.ins)
	default:
		p.emit(col, &f.ins)
	}
	return i
}

// fastLabel defines the label b[col:end] of a line that holds nothing
// else (after rest), as the general parser would.
func (p *parser) fastLabel(b []byte, col, end, rest int, atEnd bool) int {
	if rest = statementEnd(b, rest, atEnd); rest < 0 {
		return -1
	}
	p.buf = b // defineLabel finds the name's offset in src from p.buf
	p.defineLabel(col, b[col:end], false)
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

// fConformance scans the operands of mnemonic m (conformance).
func fConformance(b []byte, i int, m mnemonic, f *fastInsn) int {
	ins := &f.ins
	*ins = core.Insn{Op: m.op, Off: m.off, Imm: m.imm}
	switch m.kind {
	case mALU:
		ins.Dst, _, i = fReg(b, i, regR)
		return fRegOrImm(b, fComma(b, i), regR, ins)
	case mNeg, mEndian:
		ins.Dst, _, i = fReg(b, i, regR)
		return i
	case mMovsx:
		ins.Dst, _, i = fReg(b, i, regR)
		ins.Src, _, i = fReg(b, fComma(b, i), regR)
		return i
	case mLddw:
		ins.Dst, _, i = fReg(b, i, regR)
		v, end, ok := scanImm64(b, skipBlanks(b, fComma(b, i)))
		if !ok {
			return -1
		}
		f.kind, f.imm64 = fastLdImm64, v
		return end
	case mLdx:
		ins.Dst, _, i = fReg(b, i, regR)
		ins.Src, ins.Off, i = fMemConformance(b, fComma(b, i))
		return i
	case mSt:
		ins.Dst, ins.Off, i = fMemConformance(b, i)
		ins.Imm, i = fImm32(b, fComma(b, i))
		return i
	case mStx:
		ins.Dst, ins.Off, i = fMemConformance(b, i)
		ins.Src, _, i = fReg(b, fComma(b, i), regR)
		return i
	case mLdAbs:
		ins.Imm, i = fImm32(b, i)
		return i
	case mLdInd:
		ins.Src, _, i = fReg(b, i, regR)
		ins.Imm, i = fImm32(b, fComma(b, i))
		return i
	case mJa, mJa32:
		kind := uint8(fixJump)
		if m.kind == mJa32 {
			kind = fixJumpImm
		}
		return fTarget(b, i, kind, f)
	case mJcc:
		ins.Dst, _, i = fReg(b, i, regR)
		i = fRegOrImm(b, fComma(b, i), regR, ins)
		return fTarget(b, fComma(b, i), fixJump, f)
	case mExit:
		f.kind = fastExit
		return i
	case mCall:
		return fCall(b, i, f)
	case mLock:
		if i < len(b) && b[i] == '*' {
			return fLock(b, i+1, ins)
		}
	}
	return -1
}

// fCall scans "call N" (a helper id) and "call name" (a label, else a
// helper name), callConformance's and callPseudoC's common forms.
func fCall(b []byte, i int, f *fastInsn) int {
	f.ins = core.Insn{Op: core.JMP | core.Call}
	if i >= len(b) {
		return -1
	}
	if c := b[i]; isDigit(c) || c == '+' || c == '-' {
		f.ins.Imm, i = fImm32(b, i)
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

// fAssign scans what follows the register of a pseudo-C assignment
// (assign): "op= src", "= src", "= N ll", "= *(size *)(rS +off)".
func fAssign(b []byte, i int, dst core.Reg, kind byte, f *fastInsn) int {
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
		return fRegOrImm(b, i, kind, ins)
	}
	if i = skipBlanks(b, i); i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '*':
		size, signed, r, off, end := fLoadStore(b, i+1)
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
		return fAtomic(b, i, dst, ins)
	case c == '%' || c >= 'b' && c <= 'z' || c >= 'A' && c <= 'Z':
		// A register of the destination's kind; any other word is left
		// to assignWord.
		ins.Op |= core.X
		ins.Src, _, i = fReg(b, i, kind)
		return i
	case isDigit(c) || (c == '-' || c == '+') && i+1 < len(b) && (isDigit(b[i+1]) || isBlank(b[i+1])):
		neg, hex, mag, end, ok, big := scanNumber(b, i)
		if !ok || big {
			return -1
		}
		if ll := skipBlanks(b, end); hasPrefixAt(b, ll, "ll") && (ll+2 == len(b) || !identByte[b[ll+2]]) {
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

// fAtomic scans the fetching atomics as disasm.c prints them, after
// "rD = ": "atomic64_fetch_add((u64 *)(rS +off), rD)", "atomic_xchg((u32
// *)(...), wD)", "atomic64_cmpxchg((u64 *)(...), r0, rN)" (atomicCall;
// LLVM's xchg_64 family is left to it).
func fAtomic(b []byte, i int, dst core.Reg, ins *core.Insn) int {
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
	var imm int32
	switch string(name) {
	case "fetch_add":
		imm = core.AtomicAdd | core.Fetch
	case "fetch_or":
		imm = core.AtomicOr | core.Fetch
	case "fetch_and":
		imm = core.AtomicAnd | core.Fetch
	case "fetch_xor":
		imm = core.AtomicXor | core.Fetch
	case "xchg":
		imm = core.AtomicXchg
	case "cmpxchg":
		imm = core.AtomicCmpXchg
	default:
		return -1
	}
	if i = skipBlanks(b, i); i >= len(b) || b[i] != '(' {
		return -1
	}
	s, signed, r, off, i := fLoadStore(b, i+1)
	if i < 0 || signed || s != core.W && s != core.DW || size == core.DW && s != core.DW {
		return -1
	}
	*ins = core.Insn{Op: core.STX | core.ATOMIC | s, Dst: r, Off: off, Imm: imm}
	i = fComma(b, i)
	if imm == core.AtomicCmpXchg {
		var r0 core.Reg
		if r0, _, i = fReg(b, i, 0); r0 != core.R0 || dst != core.R0 {
			return -1
		}
		i = fComma(b, i)
	}
	if ins.Src, _, i = fReg(b, i, 0); imm != core.AtomicCmpXchg && ins.Src != dst {
		return -1
	}
	if i = skipBlanks(b, i); i < 0 || i >= len(b) || b[i] != ')' {
		return -1
	}
	return i + 1
}

// fStore scans what follows the '*' of "*(size *)(rD +off) = src" (store).
func fStore(b []byte, i int, ins *core.Insn) int {
	size, signed, dst, off, i := fLoadStore(b, i)
	if i < 0 || signed {
		return -1
	}
	if i = skipBlanks(b, i); i >= len(b) || b[i] != '=' {
		return -1
	}
	i = skipBlanks(b, i+1)
	if r, kind, end, ok := scanReg(b, i, 0); ok {
		if kind == regW && size == core.DW {
			return -1
		}
		*ins = core.Insn{Op: core.STX | core.MEM | size, Dst: dst, Src: r, Off: off}
		return end
	}
	*ins = core.Insn{Op: core.ST | core.MEM | size, Dst: dst, Off: off}
	ins.Imm, i = fImm32(b, i)
	return i
}

// fLock scans what follows "lock *" (lockPseudoC).
func fLock(b []byte, i int, ins *core.Insn) int {
	size, signed, dst, off, i := fLoadStore(b, i)
	if i < 0 || signed || size != core.W && size != core.DW {
		return -1
	}
	*ins = core.Insn{Op: core.STX | core.ATOMIC | size, Dst: dst, Off: off}
	if i = skipBlanks(b, i); i+1 >= len(b) || b[i+1] != '=' {
		return -1
	}
	switch b[i] {
	case '+':
		ins.Imm = core.AtomicAdd
	case '|':
		ins.Imm = core.AtomicOr
	case '&':
		ins.Imm = core.AtomicAnd
	case '^':
		ins.Imm = core.AtomicXor
	default:
		return -1
	}
	ins.Src, _, i = fReg(b, i+2, 0)
	return i
}

// fCond scans what follows "if" (cond).
func fCond(b []byte, i int, f *fastInsn) int {
	dst, kind, i := fReg(b, i, 0)
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
	i = fRegOrImm(b, i+len(o.text), kind, &f.ins)
	if i = skipBlanks(b, i); !hasPrefixAt(b, i, "goto") || i+4 < len(b) && identByte[b[i+4]] {
		return -1
	}
	return fTarget(b, i+4, fixJump, f)
}
