package asm

import (
	"encoding/binary"

	"jitsim/core"
)

// The pseudo-C syntax: what the kernel's print_bpf_insn prints (bpftool,
// verifier log), llvm-objdump's variants of it (spaces in "(r1 + 4)", w
// registers in 32-bit atomics, xchg_64/cmpxchg_64, "goto +3"), and LLVM's
// BPF assembler input as the kernel selftests write it (';'-separated,
// "l0_%=" labels, "%[name]" operands).

// aluOps are the compound assignments, longest first so that "s>>=" is not
// read as "s" and ">>=".
type aluOp struct {
	text string
	op   uint8
	off  int16
}

var aluOps = []aluOp{
	{"s>>=", core.Arsh, 0}, {"<<=", core.Lsh, 0}, {">>=", core.Rsh, 0},
	{"s/=", core.Div, 1}, {"s%=", core.Mod, 1},
	{"+=", core.Add, 0}, {"-=", core.Sub, 0}, {"*=", core.Mul, 0}, {"/=", core.Div, 0},
	{"|=", core.Or, 0}, {"&=", core.And, 0}, {"%=", core.Mod, 0}, {"^=", core.Xor, 0},
	{"=", core.Mov, 0},
}

// byFirst indexes operator tables by their first byte, so matching one
// compares at most three candidates, each text (of up to 4 bytes) packed
// into a word to compare with what load4 reads.
func byFirst[T any](ops []T, text func(T) string) (t [256][]packedOp[T]) {
	for _, o := range ops {
		s := text(o)
		var key uint32
		for k := len(s) - 1; k >= 0; k-- {
			key = key<<8 | uint32(s[k])
		}
		t[s[0]] = append(t[s[0]], packedOp[T]{key: key, mask: uint32(lowBytes[len(s)]), n: len(s), op: o})
	}
	return t
}

type packedOp[T any] struct {
	key, mask uint32
	n         int // the text's length
	op        T
}

// load4 packs the bytes b[i:i+4] into a word, little-endian, zero past
// the end of b. i must not be negative.
func load4(b []byte, i int) uint32 {
	if i+4 <= len(b) {
		return binary.LittleEndian.Uint32(b[i:])
	}
	var w uint32
	for k := len(b) - 1; k >= i; k-- {
		w = w<<8 | uint32(b[k])
	}
	return w
}

var (
	aluOpsByFirst = byFirst(aluOps, func(o aluOp) string { return o.text })
	jmpOpsByFirst = byFirst(jmpOps, func(o jmpOp) string { return o.text })
)

// matchALUOp finds the compound assignment at b[i:].
func matchALUOp(b []byte, i int) (aluOp, bool) {
	if uint(i) < uint(len(b)) {
		w := load4(b, i)
		for _, o := range aluOpsByFirst[byte(w)] {
			if w&o.mask == o.key {
				return o.op, true
			}
		}
	}
	return aluOp{}, false
}

// matchJmpOp finds the condition at b[i:].
func matchJmpOp(b []byte, i int) (jmpOp, bool) {
	if uint(i) < uint(len(b)) {
		w := load4(b, i)
		for _, o := range jmpOpsByFirst[byte(w)] {
			if w&o.mask == o.key {
				return o.op, true
			}
		}
	}
	return jmpOp{}, false
}

// wordAt reports whether b[i:] starts with the identifier w (not followed
// by another identifier byte); w has at most 4 bytes.
func wordAt(b []byte, i int, w string) bool {
	var key uint32
	for k := len(w) - 1; k >= 0; k-- {
		key = key<<8 | uint32(w[k])
	}
	return uint(i) < uint(len(b)) && load4(b, i)&uint32(lowBytes[len(w)]) == key &&
		!(i+len(w) < len(b) && identByte[b[i+len(w)]])
}

// jmpOps are the conditions of "if", longest first.
type jmpOp struct {
	text string
	op   uint8
}

var jmpOps = []jmpOp{
	{"s>=", core.JSGE}, {"s<=", core.JSLE}, {"s>", core.JSGT}, {"s<", core.JSLT},
	{"==", core.JEQ}, {"!=", core.JNE}, {">=", core.JGE}, {"<=", core.JLE},
	{">", core.JGT}, {"<", core.JLT}, {"&", core.JSET},
}

// instruction dispatches on the first word of a statement.
func (p *parser) instruction(col int, w []byte) {
	if f := lookupFirst(w); f != nil && f.kw == 0 {
		if f.m.kind == 0 {
			p.assign(col, f.reg, f.regKind)
		} else {
			p.conformance(col, w, f.m)
		}
		return
	}
	if r, kind, ok := parseReg(w); ok && kind != regPercent {
		p.assign(col, r, kind)
		return
	}
	switch string(w) {
	case "if":
		p.cond(col)
		return
	case "goto", "gotol", "may_goto":
		slot := p.slot()
		ins := core.Insn{Op: core.JMP | core.JA}
		kind := uint8(fixJump)
		switch string(w) {
		case "gotol":
			ins.Op, kind = core.JMP32|core.JA, fixJumpImm
		case "may_goto":
			ins.Op = core.JMP | core.JCOND
		}
		p.target(slot, kind, &ins, false)
		p.emit(col, &ins)
		return
	case "callx":
		ins := core.Insn{Op: core.JMP | core.Call | core.X}
		ins.Dst, _ = p.reg(0)
		p.emit(col, &ins)
		return
	case "tail_call":
		p.emit(col, &core.Insn{Op: core.JMP | core.TailCall})
		return
	}
	if w[0] == '.' {
		p.directive(col, w)
		return
	}
	m, ok := lookupMnemonic(w)
	if !ok {
		if len(w) > 1 && (w[0] == 'r' || w[0] == 'w') && isDigit(w[1]) {
			p.errorAt(p.pos(col), "expected register, found %q (BPF has r0 to r10)", w)
			return
		}
		p.errorAt(p.pos(col), "unknown instruction %q", w)
		return
	}
	p.conformance(col, w, m)
}

func (p *parser) exit(col int) {
	pr := p.program()
	if pr.firstExit < 0 {
		pr.firstExit = p.slot()
	}
	p.emit(col, &core.Insn{Op: core.JMP | core.Exit})
}

// target scans a jump or call target into ins: "pc+N"/"pc-N" as bpftool
// prints, "+N"/"-N" as llvm-objdump and the conformance suite write, or a
// label (resolved when the program ends). kind says where the offset goes.
// llvm-objdump's trailing "<LBB0_2>" is skipped.
func (p *parser) target(slot int, kind uint8, ins *core.Insn, call bool) {
	p.skipSpace()
	start := p.i
	if p.targetFast(slot, kind, ins) {
		return
	}
	if len(p.buf)-p.i > 2 && p.buf[p.i] == 'p' && p.buf[p.i+1] == 'c' && (p.buf[p.i+2] == '+' || p.buf[p.i+2] == '-') {
		p.i += 2
	}
	if c := p.peek(); c == '+' || c == '-' {
		if kind == fixJump {
			ins.Off = p.off16()
		} else {
			ins.Imm = p.imm32()
		}
	} else {
		name := p.ident()
		if len(name) == 0 || isDigit(name[0]) {
			p.i = start
			p.errorf("expected jump target (+N, -N, pc+N or a label), found %s", p.found())
			return
		}
		if p.buf[start] == '%' {
			start += 2 // %[name]
		}
		p.addFixup(kind, slot, start, start+len(name))
	}
	if p.peek() == '<' {
		for p.i < len(p.buf) && p.buf[p.i] != '>' {
			p.i++
		}
		p.expect('>')
	}
}

// targetFast is target for "+N", "-N" and a plain label.
func (p *parser) targetFast(slot int, kind uint8, ins *core.Insn) bool {
	b := p.buf
	t, end := scanTarget(b, p.i, kind)
	if end < 0 {
		return false
	}
	if !t.isLabel() {
		t.apply(ins)
	} else {
		p.addFixup(kind, slot, int(t.start), int(t.end))
	}
	p.i = end
	if k := skipBlanks(b, end); k < len(b) && b[k] == '<' {
		// llvm-objdump's "<LBB0_2>": target skips it.
		p.i = k
		for p.i < len(p.buf) && p.buf[p.i] != '>' {
			p.i++
		}
		p.expect('>')
	}
	return true
}

// jumpTarget is a scanned jump target: a label b[start:end], or an
// offset (kind fixJump) or imm (other kinds) when start == end.
type jumpTarget struct {
	kind       uint8
	off        int16
	imm        int32
	start, end int32
}

func (t *jumpTarget) isLabel() bool { return t.start != t.end }

// apply puts a numeric target where target would.
func (t *jumpTarget) apply(ins *core.Insn) {
	if t.kind == fixJump {
		ins.Off = t.off
	} else {
		ins.Imm = t.imm
	}
}

// scanTarget scans, as target does, "+N", "-N" and a plain label followed
// by the statement's end, a blank or a '\n'.
func scanTarget(b []byte, i int, kind uint8) (t jumpTarget, end int) {
	t.kind = kind
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) {
		return t, -1
	}
	switch c := b[i]; {
	case c == '+' || c == '-':
		if kind == fixJump {
			t.off, end = scanOff16(b, i)
		} else {
			t.imm, end = scanImm32(b, i)
		}
		return t, end
	case identByte[c] && !isDigit(c) && !(c == 'p' && i+2 < len(b) && b[i+1] == 'c' && (b[i+2] == '+' || b[i+2] == '-')):
		end = identEnd(b, i)
		if end < len(b) && !isBlank(b[end]) && b[end] != '\n' {
			return t, -1 // "l0_%=", "name<...>"
		}
		t.start, t.end = int32(i), int32(end)
		return t, end
	}
	return t, -1
}

// assign parses the statements that start with a register: "rD op= src",
// "rD = expr".
func (p *parser) assign(col int, dst core.Reg, kind byte) {
	cls := uint8(core.ALU64)
	if kind == regW {
		cls = core.ALU
	}
	p.skipSpace()
	opAt := p.i
	o, found := matchALUOp(p.buf, p.i)
	if !found {
		p.errorf("expected assignment operator after %s, found %s", p.buf[col:opAt], p.found())
		return
	}
	p.i += len(o.text)
	op, off := o.op, o.off
	ins := core.Insn{Op: cls | op, Dst: dst, Off: off}
	if op != core.Mov {
		// Compound assignment.
		p.regOrImm(&ins, kind)
		p.emit(col, &ins)
		return
	}
	switch c := p.peek(); {
	case c == '-' && p.i+1 < len(p.buf) && !isDigit(p.buf[p.i+1]) && !isBlank(p.buf[p.i+1]):
		// "r1 = -r1": neg.
		p.i++
		at := p.here()
		r, _ := p.reg(kind)
		if p.err == nil && r != dst {
			p.errorAt(p.pos(at), "neg must name the same register on both sides (%s = -%s)", p.buf[col:opAt-1], p.buf[col:opAt-1])
		}
		p.emit(col, &core.Insn{Op: cls | core.Neg, Dst: dst})
	case c == '(':
		// "r0 = (s8)r1": movsx.
		p.i++
		at := p.here()
		w := p.ident()
		switch string(w) {
		case "s8":
			ins.Off = 8
		case "s16":
			ins.Off = 16
		case "s32":
			ins.Off = 32
		default:
			p.errorAt(p.pos(at), "expected (s8), (s16) or (s32), found %q", w)
			return
		}
		p.expect(')')
		ins.Op |= core.X
		ins.Src, _ = p.reg(kind)
		p.emit(col, &ins)
	case c == '*':
		p.i++
		p.load(col, dst, kind)
	case p.isRegNext():
		ins.Op |= core.X
		ins.Src, _ = p.reg(kind)
		p.emit(col, &ins)
	case isDigit(c) || c == '-' || c == '+':
		save := p.i
		if _, _, _, ok := p.number(); ok && p.acceptWord("ll") {
			p.i = save
			if kind != regR {
				p.errorAt(p.pos(col), "ld_imm64 loads a 64-bit r register")
				return
			}
			p.ldImm64(col, dst, true)
			return
		}
		p.i = save
		ins.Imm = p.imm32()
		p.emit(col, &ins)
	default:
		p.assignWord(col, dst, kind)
	}
}

// assignWord parses "rD = WORD ...": byte swaps, map references and the
// atomic functions.
func (p *parser) assignWord(col int, dst core.Reg, kind byte) {
	at := p.here()
	w := p.ident()
	switch string(w) {
	case "be16", "be32", "be64", "le16", "le32", "le64", "bswap16", "bswap32", "bswap64":
		ins := core.Insn{Op: core.ALU | core.End | core.ToLE, Dst: dst}
		switch w[0] {
		case 'b':
			if w[1] == 'e' {
				ins.Op = core.ALU | core.End | core.ToBE
			} else {
				ins.Op = core.ALU64 | core.End
			}
		}
		n := w[len(w)-2:]
		ins.Imm = int32(n[0]-'0')*10 + int32(n[1]-'0')
		if kind != regR {
			p.errorAt(p.pos(col), "byte swaps are written with r registers (r1 = %s r1)", w)
			return
		}
		r, _ := p.reg(regR)
		if p.err == nil && r != dst {
			p.errorf("%s must name the same register on both sides", w)
		}
		p.emit(col, &ins)
		return
	case "map":
		p.i = at
		if kind != regR {
			p.errorAt(p.pos(col), "ld_imm64 loads a 64-bit r register")
			return
		}
		p.ldImm64(col, dst, true)
		return
	}
	if len(w) == 0 {
		p.errorf("expected expression after =, found %s", p.found())
		return
	}
	if p.peek() == '(' && p.atomicCall(col, at, dst, kind, w) {
		return
	}
	if p.err == nil {
		// "r1 = %[name] ll", as the selftests reference maps.
		if p.buf[at] == '%' && p.acceptWord("ll") {
			if kind != regR {
				p.errorAt(p.pos(col), "ld_imm64 loads a 64-bit r register")
				return
			}
			slot := p.emitLdImm64(col, dst, core.PseudoMapFD, 0)
			p.addFixup(fixMap, slot, at+2, at+2+len(w))
			return
		}
		p.errorAt(p.pos(at), "expected expression after =, found %q", w)
	}
}

// ldImm64 parses the value of an ld_imm64 at the cursor and emits it: a
// number, "map[NAME]" (src 1, the map's index in Imm) or
// "map[NAME][0]+OFF" (src 2, the offset into the value in the second
// slot). With ll the value may be followed by "ll" (pseudo-C).
func (p *parser) ldImm64(col int, dst core.Reg, ll bool) {
	if !p.acceptWord("map") {
		v := p.imm64()
		if ll && !p.acceptWord("ll") {
			p.errorf("expected ll after 64-bit immediate, found %s", p.found())
		}
		p.emitLdImm64(col, dst, 0, v)
		return
	}
	if !p.expect('[') {
		return
	}
	p.skipSpace()
	start := p.i
	for p.i < len(p.buf) && p.buf[p.i] != ']' && !isBlank(p.buf[p.i]) {
		p.i++
	}
	end := p.i
	if end == start {
		p.errorf("expected map name, found %s", p.found())
		return
	}
	if !p.expect(']') {
		return
	}
	src := core.Reg(core.PseudoMapFD)
	var off uint64
	if p.accept('[') {
		if !p.acceptStr("0") || !p.expect(']') || !p.expect('+') {
			if p.err == nil {
				p.errorf("expected [0]+offset after map[%s], found %s", p.buf[start:end], p.found())
			}
			return
		}
		src = core.PseudoMapValue
		off = p.unsigned("map value offset", 1<<32-1)
	}
	if ll {
		p.acceptWord("ll")
	}
	slot := p.emitLdImm64(col, dst, src, off<<32)
	p.addFixup(fixMap, slot, start, end)
}

// cast scans "(u32 *)" and returns the size and whether it is signed.
func (p *parser) cast() (size uint8, signed bool) {
	if size, signed, end := scanCast(p.buf, p.i); end >= 0 {
		p.i = end
		return size, signed
	}
	if !p.expect('(') {
		return 0, false
	}
	at := p.i
	size, signed, ok := castType(p.ident())
	if !ok {
		p.i = at
		p.errorf("expected u8, u16, u32, u64, s8, s16 or s32, found %s", p.found())
		return 0, false
	}
	p.expect('*')
	p.expect(')')
	return size, signed
}

// castType decodes the type of a pointer cast: its access size, and
// whether the load sign-extends.
func castType(name []byte) (size uint8, signed, ok bool) {
	switch string(name) {
	case "u8":
		return core.B, false, true
	case "u16":
		return core.H, false, true
	case "u32":
		return core.W, false, true
	case "u64":
		return core.DW, false, true
	case "s8":
		return core.B, true, true
	case "s16":
		return core.H, true, true
	case "s32":
		return core.W, true, true
	}
	return 0, false, false
}

// scanCast scans a cast as cast does.
func scanCast(b []byte, i int) (size uint8, signed bool, end int) {
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] != '(' {
		return 0, false, -1
	}
	w := skipBlanks(b, i+1)
	i = identEnd(b, w)
	size, signed, ok := castType(b[w:i])
	if !ok {
		return 0, false, -1
	}
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] != '*' {
		return 0, false, -1 // "u8_%=" is no size either
	}
	if i = skipBlanks(b, i+1); uint(i) >= uint(len(b)) || b[i] != ')' {
		return 0, false, -1
	}
	return size, signed, i + 1
}

// addr scans "rN +off", "rN - off" or "rN" (a w register is accepted too,
// as LLVM does).
func (p *parser) addr() (core.Reg, int16) {
	r, _ := p.reg(0)
	var off int16
	if c := p.peek(); c == '+' || c == '-' {
		off = p.off16()
	}
	return r, off
}

// mem scans "(rN +off)".
func (p *parser) mem() (core.Reg, int16) {
	if r, off, end := scanMem(p.buf, p.i); end >= 0 {
		p.i = end
		return r, off
	}
	if !p.expect('(') {
		return 0, 0
	}
	r, off := p.addr()
	p.expect(')')
	return r, off
}

// scanMem scans "(rN +off)" as mem does.
func scanMem(b []byte, i int) (r core.Reg, off int16, end int) {
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) || b[i] != '(' {
		return 0, 0, -1
	}
	if r, _, i = scanReg(b, i+1, 0); i < 0 {
		return 0, 0, -1
	}
	if i = skipBlanks(b, i); uint(i) < uint(len(b)) && (b[i] == '+' || b[i] == '-') {
		off, i = scanOff16(b, i)
		i = skipBlanks(b, i)
	}
	if uint(i) >= uint(len(b)) || b[i] != ')' {
		return 0, 0, -1
	}
	return r, off, i + 1
}

// load parses what follows "rD = *": "(u32 *)(rS +off)", "(s8 *)(...)",
// "(u8 *)skb[imm]", "(u8 *)skb[rS + imm]".
func (p *parser) load(col int, dst core.Reg, kind byte) {
	at := p.here()
	size, signed := p.cast()
	if p.err != nil {
		return
	}
	if kind == regW && (size == core.DW || signed) {
		p.errorAt(p.pos(col), "a 64-bit or sign-extending load needs an r register")
		return
	}
	if p.acceptWord("skb") {
		if signed {
			p.errorAt(p.pos(at), "legacy packet loads are unsigned")
			return
		}
		if dst != core.R0 {
			p.errorAt(p.pos(col), "legacy packet loads always load into r0")
			return
		}
		p.expect('[')
		ins := core.Insn{Op: core.LD | core.ABS | size}
		if p.isRegNext() {
			ins.Op = core.LD | core.IND | size
			ins.Src, _ = p.reg(regR)
			if c := p.peek(); c == '+' || c == '-' {
				ins.Imm = p.imm32()
			}
		} else {
			ins.Imm = p.imm32()
		}
		p.expect(']')
		p.emit(col, &ins)
		return
	}
	mode := uint8(core.MEM)
	if signed {
		mode = core.MEMSX
	}
	ins := core.Insn{Op: core.LDX | mode | size, Dst: dst}
	ins.Src, ins.Off = p.mem()
	p.emit(col, &ins)
}

// store parses "*(u32 *)(rD +off) = rS" and "... = imm".
func (p *parser) store(col int) {
	p.i++ // '*'
	size, signed := p.cast()
	if p.err != nil {
		return
	}
	if signed {
		p.errorAt(p.pos(col), "stores take an unsigned size (u8, u16, u32, u64)")
		return
	}
	dst, off := p.mem()
	p.expect('=')
	ins := core.Insn{Dst: dst, Off: off}
	if p.isRegNext() {
		ins.Op = core.STX | core.MEM | size
		var kind byte
		ins.Src, kind = p.reg(0)
		if kind == regW && size == core.DW {
			p.errorAt(p.pos(col), "a 64-bit store needs an r register")
		}
	} else {
		ins.Op = core.ST | core.MEM | size
		ins.Imm = p.imm32()
	}
	p.emit(col, &ins)
	p.expectEnd()
}

// lockPseudoC parses "lock *(u64 *)(rD +off) += rS" (also |=, &=, ^=).
func (p *parser) lockPseudoC(col int) {
	p.expect('*')
	at := p.here()
	size, signed := p.cast()
	if p.err != nil {
		return
	}
	if signed || size != core.W && size != core.DW {
		p.errorAt(p.pos(at), "atomic operations are u32 or u64")
		return
	}
	ins := core.Insn{Op: core.STX | core.ATOMIC | size}
	ins.Dst, ins.Off = p.mem()
	imm, ok := lockOp(p.peek())
	if !ok || !hasPrefixAt(p.buf, p.i+1, "=") {
		p.errorf("expected +=, |=, &= or ^= after lock *(...), found %s", p.found())
		return
	}
	p.i += 2
	ins.Imm = imm
	ins.Src, _ = p.reg(0)
	p.emit(col, &ins)
}

// lockOp decodes the operator of "lock *(...) op= rS" by its first byte:
// the atomic insn's imm.
func lockOp(c byte) (imm int32, ok bool) {
	switch c {
	case '+':
		return core.AtomicAdd, true
	case '|':
		return core.AtomicOr, true
	case '&':
		return core.AtomicAnd, true
	case '^':
		return core.AtomicXor, true
	}
	return 0, false
}

// atomicFuncOp decodes the operation of an atomic written as a function,
// its name without the "atomic64_"/"atomic_" prefix or the LLVM width
// suffix: the atomic insn's imm.
func atomicFuncOp(name []byte) (imm int32, ok bool) {
	switch string(name) {
	case "fetch_add":
		return core.AtomicAdd | core.Fetch, true
	case "fetch_or":
		return core.AtomicOr | core.Fetch, true
	case "fetch_and":
		return core.AtomicAnd | core.Fetch, true
	case "fetch_xor":
		return core.AtomicXor | core.Fetch, true
	case "xchg":
		return core.AtomicXchg, true
	case "cmpxchg":
		return core.AtomicCmpXchg, true
	}
	return 0, false
}

// atomicCall parses the fetching atomics written as functions: disasm.c's
// "r1 = atomic64_fetch_add((u64 *)(r2 +0), r1)", "atomic64_xchg",
// "r0 = atomic64_cmpxchg((u64 *)(r2 +0), r0, r1)" (32-bit forms without
// 64), and LLVM's "atomic_fetch_add((u64 *)(r2 + 0), r1)", "xchg_64(r2 +
// 0, r1)", "xchg32_32", "cmpxchg_64(r2 + 0, r0, r1)", "cmpxchg32_32". It
// returns false if name is none of them.
func (p *parser) atomicCall(col, at int, dst core.Reg, kind byte, name []byte) bool {
	n := name        // bytes, not a string: converting would allocate
	size := uint8(0) // from the cast
	llvm := false    // LLVM's xchg_64 family: the address has no cast
	switch string(n) {
	case "xchg_64", "cmpxchg_64":
		size, llvm = core.DW, true
	case "xchg32_32", "cmpxchg32_32":
		size, llvm = core.W, true
	}
	base := n
	switch {
	case llvm:
		base = n[:len(n)-3]
		if string(base) == "xchg32" || string(base) == "cmpxchg32" {
			base = base[:len(base)-2]
		}
	case len(n) > 9 && string(n[:9]) == "atomic64_":
		base, size = n[9:], core.DW
	case len(n) > 7 && string(n[:7]) == "atomic_":
		base = n[7:]
	default:
		return false
	}
	imm, ok := atomicFuncOp(base)
	if !ok {
		return false
	}
	p.expect('(')
	ins := core.Insn{Imm: imm}
	if llvm {
		ins.Dst, ins.Off = p.addr()
	} else {
		castAt := p.here()
		s, signed := p.cast()
		if p.err != nil {
			return true
		}
		if signed || s != core.W && s != core.DW || size == core.DW && s != core.DW {
			want := "(u32 *) or (u64 *)"
			if size == core.DW {
				want = "(u64 *)"
			}
			p.errorAt(p.pos(castAt), "%s needs %s", n, want)
			return true
		}
		size = s
		ins.Dst, ins.Off = p.mem()
	}
	ins.Op = core.STX | core.ATOMIC | size
	p.expect(',')
	if imm == core.AtomicCmpXchg {
		r0At := p.here()
		if r, _ := p.reg(0); p.err == nil && r != core.R0 {
			p.errorAt(p.pos(r0At), "cmpxchg compares with r0")
			return true
		}
		if p.err == nil && dst != core.R0 {
			p.errorAt(p.pos(col), "cmpxchg returns the old value in r0")
			return true
		}
		p.expect(',')
	}
	srcAt := p.here()
	ins.Src, _ = p.reg(0)
	p.expect(')')
	if p.err == nil && imm != core.AtomicCmpXchg && ins.Src != dst {
		p.errorAt(p.pos(srcAt), "%s returns the old value into its source register, so both must be r%d", n, dst)
		return true
	}
	p.emit(col, &ins)
	return true
}

// cond parses "if rD OP src goto T".
func (p *parser) cond(col int) {
	dst, kind := p.reg(0)
	if kind == regPercent {
		p.errorf("expected r or w register in if")
		return
	}
	cls := uint8(core.JMP)
	if kind == regW {
		cls = core.JMP32
	}
	p.skipSpace()
	ins := core.Insn{Dst: dst}
	o, found := matchJmpOp(p.buf, p.i)
	if found {
		ins.Op = cls | o.op
		p.i += len(o.text)
	} else {
		p.errorf("expected comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &), found %s", p.found())
		return
	}
	p.regOrImm(&ins, kind)
	if !p.acceptWord("goto") {
		p.errorf("expected goto, found %s", p.found())
		return
	}
	p.target(p.slot(), fixJump, &ins, false)
	p.emit(col, &ins)
}

// callPseudoC parses the operand of call: "pc+N" (bpf-to-bpf, as bpftool
// prints), "N" or "+N" (helper id), "NAME#N" (bpftool's helper form),
// "%rN"/"rN" (callx), or NAME: a label (bpf-to-bpf) or else a helper
// name.
func (p *parser) callPseudoC(col, slot int, ins *core.Insn) {
	p.skipSpace()
	if p.i < len(p.buf) && p.buf[p.i] == '%' && p.i+1 < len(p.buf) && p.buf[p.i+1] == 'r' {
		ins.Op |= core.X
		ins.Dst, _ = p.reg(regPercent)
		return
	}
	if len(p.buf)-p.i > 2 && p.buf[p.i] == 'p' && p.buf[p.i+1] == 'c' && (p.buf[p.i+2] == '+' || p.buf[p.i+2] == '-') {
		ins.Src = core.PseudoCall
		p.target(slot, fixCall, ins, true)
		return
	}
	if c := p.peek(); isDigit(c) || c == '+' || c == '-' {
		ins.Imm = p.imm32()
		return
	}
	start := p.i
	name := p.ident()
	if len(name) == 0 {
		p.errorf("expected helper id, helper name or label after call, found %s", p.found())
		return
	}
	nameStart := start
	if p.buf[start] == '%' {
		nameStart = start + 2
	}
	if p.i < len(p.buf) && p.buf[p.i] == '#' {
		p.i++
		ins.Imm = p.imm32()
		p.addFixup(fixHelperCheck, slot, nameStart, nameStart+len(name))
		return
	}
	p.addFixup(fixCall, slot, nameStart, nameStart+len(name))
}
