package asm

import (
	"encoding/binary"
	"math/bits"
	"strconv"

	"jitsim/core"
)

// The conformance suite's syntax (bpf_conformance's bpf_assembler.cc, which
// follows uBPF's): a mnemonic with the class in its suffix ("add32" is ALU,
// "add" ALU64), %r registers, [%rN+off] memory operands, +N/-N/label jump
// targets. Encodings follow that assembler exactly.

// Mnemonic kinds.
const (
	mALU    = iota + 1 // op dst, src|imm
	mNeg               // op dst
	mEndian            // op dst (imm = width)
	mMovsx             // op dst, src (off = source width)
	mLddw              // lddw dst, imm64
	mLdx               // ldx dst, [src+off]
	mSt                // st [dst+off], imm
	mStx               // stx [dst+off], src
	mJa                // ja target
	mJa32              // ja32 target (gotol)
	mJcc               // jcc dst, src|imm, target
	mLdAbs             // ldabs imm (uBPF)
	mLdInd             // ldind src, imm (uBPF)
	mCall
	mExit
	mLock
)

type mnemonic struct {
	kind uint8
	op   uint8
	off  int16
	imm  int32
}

// mnemonics is the suite's mnemonic table (_bpf_mnemonic_map), built below
// from the uapi opcode values.
var mnemonics = func() map[string]mnemonic {
	m := make(map[string]mnemonic)
	alu := []struct {
		name string
		op   uint8
		off  int16
	}{
		{"add", core.Add, 0}, {"sub", core.Sub, 0}, {"mul", core.Mul, 0}, {"div", core.Div, 0},
		{"sdiv", core.Div, 1}, {"or", core.Or, 0}, {"and", core.And, 0}, {"lsh", core.Lsh, 0},
		{"rsh", core.Rsh, 0}, {"mod", core.Mod, 0}, {"smod", core.Mod, 1}, {"xor", core.Xor, 0},
		{"mov", core.Mov, 0}, {"arsh", core.Arsh, 0},
	}
	for _, a := range alu {
		m[a.name] = mnemonic{kind: mALU, op: core.ALU64 | a.op, off: a.off}
		m[a.name+"32"] = mnemonic{kind: mALU, op: core.ALU | a.op, off: a.off}
	}
	m["neg"] = mnemonic{kind: mNeg, op: core.ALU64 | core.Neg}
	m["neg32"] = mnemonic{kind: mNeg, op: core.ALU | core.Neg}
	for _, w := range []struct {
		s   string
		imm int32
	}{{"16", 16}, {"32", 32}, {"64", 64}} {
		m["le"+w.s] = mnemonic{kind: mEndian, op: core.ALU | core.End | core.ToLE, imm: w.imm}
		m["be"+w.s] = mnemonic{kind: mEndian, op: core.ALU | core.End | core.ToBE, imm: w.imm}
		m["swap"+w.s] = mnemonic{kind: mEndian, op: core.ALU64 | core.End, imm: w.imm}
		m["bswap"+w.s] = mnemonic{kind: mEndian, op: core.ALU64 | core.End, imm: w.imm}
	}
	m["movsx864"] = mnemonic{kind: mMovsx, op: core.ALU64 | core.Mov | core.X, off: 8}
	m["movsx1664"] = mnemonic{kind: mMovsx, op: core.ALU64 | core.Mov | core.X, off: 16}
	m["movsx3264"] = mnemonic{kind: mMovsx, op: core.ALU64 | core.Mov | core.X, off: 32}
	m["movsx832"] = mnemonic{kind: mMovsx, op: core.ALU | core.Mov | core.X, off: 8}
	m["movsx1632"] = mnemonic{kind: mMovsx, op: core.ALU | core.Mov | core.X, off: 16}
	m["lddw"] = mnemonic{kind: mLddw, op: core.LD | core.IMM | core.DW}
	sizes := []struct {
		s    string
		size uint8
	}{{"b", core.B}, {"h", core.H}, {"w", core.W}, {"dw", core.DW}}
	for _, s := range sizes {
		m["ldx"+s.s] = mnemonic{kind: mLdx, op: core.LDX | core.MEM | s.size}
		m["st"+s.s] = mnemonic{kind: mSt, op: core.ST | core.MEM | s.size}
		m["stx"+s.s] = mnemonic{kind: mStx, op: core.STX | core.MEM | s.size}
		if s.size != core.DW {
			m["ldxs"+s.s] = mnemonic{kind: mLdx, op: core.LDX | core.MEMSX | s.size}
			m["ldabs"+s.s] = mnemonic{kind: mLdAbs, op: core.LD | core.ABS | s.size}
			m["ldind"+s.s] = mnemonic{kind: mLdInd, op: core.LD | core.IND | s.size}
		}
	}
	m["ja"] = mnemonic{kind: mJa, op: core.JMP | core.JA}
	m["ja32"] = mnemonic{kind: mJa32, op: core.JMP32 | core.JA}
	jcc := []struct {
		name string
		op   uint8
	}{
		{"jeq", core.JEQ}, {"jgt", core.JGT}, {"jge", core.JGE}, {"jset", core.JSET},
		{"jne", core.JNE}, {"jsgt", core.JSGT}, {"jsge", core.JSGE}, {"jlt", core.JLT},
		{"jle", core.JLE}, {"jslt", core.JSLT}, {"jsle", core.JSLE},
	}
	for _, j := range jcc {
		m[j.name] = mnemonic{kind: mJcc, op: core.JMP | j.op}
		m[j.name+"32"] = mnemonic{kind: mJcc, op: core.JMP32 | j.op}
	}
	m["call"] = mnemonic{kind: mCall}
	m["exit"] = mnemonic{kind: mExit, op: core.JMP | core.Exit}
	m["lock"] = mnemonic{kind: mLock}
	return m
}()

// mnemonicTable is mnemonics as an open-addressing hash table keyed by the
// bytes of the word, so a lookup neither converts nor hashes a string
// (the parser's hottest lookup: one per conformance line).
var mnemonicTable = func() (t [512]struct {
	name string
	m    mnemonic
}) {
	for name, m := range mnemonics {
		h := mnemonicHash([]byte(name))
		for t[h].name != "" {
			h = (h + 1) % uint32(len(t))
		}
		t[h].name, t[h].m = name, m
	}
	return t
}()

func mnemonicHash(w []byte) uint32 {
	h := uint32(len(w))
	for _, c := range w {
		h = h*31 + uint32(c)
	}
	return h % 512
}

func lookupMnemonic(w []byte) (mnemonic, bool) {
	for h := mnemonicHash(w); mnemonicTable[h].name != ""; h = (h + 1) % 512 {
		if mnemonicTable[h].name == string(w) {
			return mnemonicTable[h].m, true
		}
	}
	return mnemonic{}, false
}

// firstWords maps the words a statement starts with most often (the
// registers of a pseudo-C assignment, the mnemonics, "if" and "goto") to
// what they start, keyed by the word's bytes packed into a word
// (nameKey). One multiply and, mostly, one compare find a word; words of
// more than 8 bytes are left to the general dispatch in instruction.
var firstWords = func() (t [512]firstWord) {
	add := func(name string, e firstWord) {
		if len(name) > 8 {
			return
		}
		e.key, _ = nameKey([]byte(name), 0, len(name))
		e.n = uint8(len(name))
		h := firstWordHash(e.key)
		for t[h].key != 0 {
			h = (h + 1) % uint32(len(t))
		}
		t[h] = e
	}
	for name, m := range mnemonics {
		add(name, firstWord{m: m})
	}
	for r := core.R0; r <= core.R10; r++ {
		add("r"+strconv.Itoa(int(r)), firstWord{reg: r, regKind: regR})
		add("w"+strconv.Itoa(int(r)), firstWord{reg: r, regKind: regW})
	}
	add("if", firstWord{kw: kwIf})
	add("goto", firstWord{kw: kwGoto})
	return t
}()

type firstWord struct {
	key     uint64
	n       uint8    // the word's length: a key does not tell "ja" from "ja\x00"
	kw      uint8    // a pseudo-C keyword, else:
	m       mnemonic // kind 0: a register
	reg     core.Reg
	regKind byte
}

// Pseudo-C keywords among firstWords.
const (
	kwIf = iota + 1
	kwGoto
)

func firstWordHash(key uint64) uint32 { return uint32((key * 0x9e3779b97f4a7c15) >> (64 - 9)) }

// lookupFirst finds w, a slice of the line, in firstWords.
func lookupFirst(w []byte) *firstWord {
	if len(w) == 0 || len(w) > 8 {
		return nil
	}
	key, _ := nameKey(w[:cap(w)], 0, len(w))
	return lookupFirstKey(key, len(w))
}

// lookupFirstKey finds the word of n bytes packed into key.
func lookupFirstKey(key uint64, n int) *firstWord {
	for h := firstWordHash(key); firstWords[h].key != 0; h = (h + 1) % uint32(len(firstWords)) {
		if f := &firstWords[h]; f.key == key {
			if int(f.n) != n {
				return nil
			}
			return f
		}
	}
	return nil
}

// firstWordKey packs the bytes from b[i] up to the first byte at or below
// ' ' (a blank, '\n') or the end of b as nameKey does, reading b[i:] as one
// word (b's capacity beyond its length included): for a statement's first
// word, which is mostly short and followed by a blank, this takes a few
// instructions where a scan takes several per byte. n is the word's
// length, 0 when it may be longer than 8 bytes (or b has no 8 bytes'
// capacity from i). The bytes are not checked: a key made of other than
// identifier bytes is in no table.
func firstWordKey(b []byte, i int) (key uint64, n int) {
	if uint(i)+8 > uint(cap(b)) {
		return 0, 0
	}
	w := binary.LittleEndian.Uint64(b[i:cap(b)])
	n = len(b) - i
	// The top bit of each byte below 0x21 (not of one above 0x7f), exact
	// up to the lowest: a borrow only carries upwards.
	if m := (w - 0x2121212121212121) &^ w & 0x8080808080808080; m != 0 {
		n = min(n, bits.TrailingZeros64(m)/8)
	} else if n > 8 {
		return 0, 0
	}
	return w & lowBytes[n&15], n
}

// lowBytes[n] keeps the n low bytes of a word.
var lowBytes = [16]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xff_ffffffff, 0xffff_ffffffff, 0xffffff_ffffffff, ^uint64(0)}

// operandCount is how many comma-separated operands each kind takes.
var operandCount = [...]int{
	mALU: 2, mNeg: 1, mEndian: 1, mMovsx: 2, mLddw: 2, mLdx: 2, mSt: 2, mStx: 2,
	mJa: 1, mJa32: 1, mJcc: 3, mLdAbs: 1, mLdInd: 2,
}

// operands splits the rest of the statement at commas into at most
// len(spans) operand spans and returns how many there are.
func (p *parser) operands(spans *[3][2]int) int {
	p.skipSpace()
	b, start := p.buf, p.i
	if start >= len(b) {
		return 0
	}
	n := 0
	for j := start; j < len(b); j++ {
		if b[j] == ',' {
			if n < len(spans) {
				spans[n] = [2]int{start, j}
			}
			n++
			start = j + 1
		}
	}
	if n < len(spans) {
		spans[n] = [2]int{start, len(b)}
	}
	return n + 1
}

// enter narrows the cursor to the operand span s and returns the
// statement for leave.
func (p *parser) enter(s [2]int) (stmt []byte) {
	stmt = p.buf
	p.buf, p.i = p.buf[:s[1]], s[0]
	return stmt
}

// leave checks that the operand was used up and moves to the statement's
// end.
func (p *parser) leave(stmt []byte) {
	if p.err == nil {
		if p.peek() != 0 {
			p.errorf("unexpected %s in operand", p.found())
		}
	}
	p.buf = stmt
	p.i = len(stmt)
}

// regIn, immIn and memIn parse operand span s as a %r register, an
// immediate or a [%rN+off] memory operand.
func (p *parser) regIn(s [2]int) core.Reg {
	stmt := p.enter(s)
	r, _ := p.reg(regR)
	p.leave(stmt)
	return r
}

func (p *parser) immIn(s [2]int) int32 {
	stmt := p.enter(s)
	imm := p.imm32()
	p.leave(stmt)
	return imm
}

func (p *parser) memIn(s [2]int) (core.Reg, int16) {
	stmt := p.enter(s)
	r, off := p.memConformance()
	p.leave(stmt)
	return r, off
}

// scanMemConformance scans a memory operand as memConformance does.
func scanMemConformance(b []byte, i int) (r core.Reg, off int16, end int) {
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] != '[' {
		return 0, 0, -1
	}
	if r, _, i = scanReg(b, i+1, regR); i < 0 {
		return 0, 0, -1
	}
	if i = skipBlanks(b, i); uint(i) < uint(len(b)) && (b[i] == '+' || b[i] == '-') {
		off, i = scanOff16(b, i)
		i = skipBlanks(b, i)
	}
	if uint(i) >= uint(len(b)) || b[i] != ']' {
		return 0, 0, -1
	}
	return r, off, i + 1
}

// conformance assembles one instruction of the suite's syntax.
func (p *parser) conformance(col int, name []byte, m mnemonic) {
	switch m.kind {
	case mCall:
		p.callConformance(col)
		return
	case mExit:
		p.exit(col)
		return
	case mLock:
		p.lockConformance(col, name)
		return
	}
	var spans [3][2]int
	n := p.operands(&spans)
	if want := operandCount[m.kind]; n != want {
		p.errorAt(p.pos(col), "%s takes %d operand%s, found %d", name, want, plural(want), n)
		return
	}
	ins := core.Insn{Op: m.op, Off: m.off, Imm: m.imm}
	switch m.kind {
	case mALU:
		ins.Dst = p.regIn(spans[0])
		end := p.enter(spans[1])
		p.regOrImm(&ins, regR)
		p.leave(end)
	case mNeg, mEndian:
		ins.Dst = p.regIn(spans[0])
	case mMovsx:
		ins.Dst = p.regIn(spans[0])
		ins.Src = p.regIn(spans[1])
	case mLddw:
		dst := p.regIn(spans[0])
		end := p.enter(spans[1])
		p.ldImm64(col, dst, false)
		p.leave(end)
		return
	case mLdx:
		ins.Dst = p.regIn(spans[0])
		ins.Src, ins.Off = p.memIn(spans[1])
	case mSt:
		ins.Dst, ins.Off = p.memIn(spans[0])
		ins.Imm = p.immIn(spans[1])
	case mStx:
		ins.Dst, ins.Off = p.memIn(spans[0])
		ins.Src = p.regIn(spans[1])
	case mLdAbs:
		ins.Imm = p.immIn(spans[0])
	case mLdInd:
		ins.Src = p.regIn(spans[0])
		ins.Imm = p.immIn(spans[1])
	case mJa, mJa32:
		slot := p.slot()
		kind := uint8(fixJump)
		if m.kind == mJa32 {
			kind = fixJumpImm
		}
		end := p.enter(spans[0])
		p.target(slot, kind, &ins, false)
		p.leave(end)
	case mJcc:
		slot := p.slot()
		ins.Dst = p.regIn(spans[0])
		end := p.enter(spans[1])
		p.regOrImm(&ins, regR)
		p.leave(end)
		end = p.enter(spans[2])
		p.target(slot, fixJump, &ins, false)
		p.leave(end)
	}
	p.emit(col, &ins)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// memConformance scans "[%rN]", "[%rN+off]" or "[%rN-off]".
func (p *parser) memConformance() (core.Reg, int16) {
	if !p.accept('[') {
		p.errorf("expected memory operand [%%rN+offset], found %s", p.found())
		return 0, 0
	}
	r, _ := p.reg(regR)
	var off int16
	if c := p.peek(); c == '+' || c == '-' {
		off = p.off16()
	}
	p.expect(']')
	return r, off
}

// callConformance: "call N" and "call helper N" call a helper, "call %rN"
// and "call helper %rN" call the helper whose id is in rN (BPF_CALL|BPF_X,
// register in dst as the suite encodes it), "call local T" calls a
// subprogram, "call runtime N" a kfunc (src 2). Pseudo-C call forms are
// handled here too, since both syntaxes spell the mnemonic "call".
func (p *parser) callConformance(col int) {
	ins := core.Insn{Op: core.JMP | core.Call}
	slot := p.slot()
	switch {
	case p.acceptWord("local"):
		p.target(slot, fixCallOnly, &ins, true)
		ins.Src = core.PseudoCall
	case p.acceptWord("runtime"):
		ins.Src = core.PseudoKfunc
		ins.Imm = p.imm32()
	default:
		p.acceptWord("helper")
		p.callPseudoC(col, slot, &ins)
	}
	if p.err == nil {
		p.emit(col, &ins)
	}
}

// lockConformance: "lock [fetch] OP [%rD+off], %rS" with OP add, or, and,
// xor (32-bit forms add32 ...), xchg, cmpxchg; pseudo-C "lock *(u32 *)..."
// goes to lockPseudoC.
func (p *parser) lockConformance(col int, name []byte) {
	if p.peek() == '*' {
		p.lockPseudoC(col)
		return
	}
	fetch := p.acceptWord("fetch")
	opStart := p.here()
	op := p.ident()
	if len(op) == 0 {
		p.errorAt(p.pos(col), "lock needs an atomic operation and 2 operands, as in lock add [%%r1+0], %%r2")
		return
	}
	size := uint8(core.DW)
	base := op
	if len(op) > 2 && string(op[len(op)-2:]) == "32" {
		size, base = core.W, op[:len(op)-2]
	}
	var imm int32
	switch string(base) {
	case "add":
		imm = core.AtomicAdd
	case "or":
		imm = core.AtomicOr
	case "and":
		imm = core.AtomicAnd
	case "xor":
		imm = core.AtomicXor
	case "xchg":
		imm = core.AtomicXchg
	case "cmpxchg":
		imm = core.AtomicCmpXchg
	default:
		p.errorAt(p.pos(opStart), "unknown atomic operation %q after lock", op)
		return
	}
	if fetch {
		imm |= core.Fetch
	}
	var spans [3][2]int
	if n := p.operands(&spans); n != 2 {
		p.errorAt(p.pos(col), "%s %s takes 2 operands, found %d", name, op, n)
		return
	}
	ins := core.Insn{Op: core.STX | core.ATOMIC | size, Imm: imm}
	ins.Dst, ins.Off = p.memIn(spans[0])
	ins.Src = p.regIn(spans[1])
	p.emit(col, &ins)
}
