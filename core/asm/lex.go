package asm

import (
	"strconv"

	"jitsim/core"
)

// The scanner works on p.buf[p.i:], the current statement, byte by byte:
// no regexp, no token slice, no allocation on the success path. The loops
// run on a local b = p.buf and cursor, which the compiler keeps in
// registers and needs no bounds check for.

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isIdentByte(c byte) bool { return identByte[c] }

var identByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '$'
	}
	return t
}()

// isBlank: space, tab, and \v \f \r (a CRLF line keeps its \r). Not
// '\n': the fast path reads up to it through several lines of src.
func isBlank(c byte) bool { return c <= ' ' && blankBits>>c&1 != 0 }

const blankBits = 1<<' ' | 1<<'\t' | 1<<'\v' | 1<<'\f' | 1<<'\r'

// skipSpace moves the cursor past blanks. It is called before every token,
// and most tokens follow the previous one directly or after one blank: the
// inlined part answers for a byte above ' ' (no blank is) without a loop.
func (p *parser) skipSpace() {
	if i := p.i; uint(i) >= uint(len(p.buf)) || p.buf[i] > ' ' {
		return
	}
	p.skipBlanks()
}

func (p *parser) skipBlanks() { p.i = skipBlanks(p.buf, p.i) }

// identEnd returns the index of the first byte of b at or after i that is
// no identifier byte. (Loops over b compare uint(i) < uint(len(b)), which
// also proves i >= 0 and so spares the bounds check of b[i].)
func identEnd(b []byte, i int) int {
	for uint(i) < uint(len(b)) && identByte[b[i]] {
		i++
	}
	return i
}

// skipBlanks returns the index of the first byte of b at or after i that
// is not a blank, or len(b); i itself when it is negative (the scanners
// below take a negative index as a failed scan before them).
func skipBlanks(b []byte, i int) int {
	for uint(i) < uint(len(b)) && isBlank(b[i]) {
		i++
	}
	return i
}

// here skips blanks and returns the cursor: where the next token starts.
func (p *parser) here() int {
	p.skipSpace()
	return p.i
}

// peek returns the next non-blank byte, 0 at the end of the statement.
func (p *parser) peek() byte {
	p.skipSpace()
	if p.i < len(p.buf) {
		return p.buf[p.i]
	}
	return 0
}

// accept consumes c if it is the next non-blank byte.
func (p *parser) accept(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// acceptStr consumes s if the statement continues with it.
func (p *parser) acceptStr(s string) bool {
	p.skipSpace()
	if hasPrefixAt(p.buf, p.i, s) {
		p.i += len(s)
		return true
	}
	return false
}

// hasPrefixAt reports whether b[i:] starts with s. Byte by byte: the
// strings are operators and keywords of a few bytes, for which the loop
// is cheaper than a call to the runtime's memequal.
func hasPrefixAt(b []byte, i int, s string) bool {
	if i < 0 || len(b)-i < len(s) {
		return false
	}
	b = b[i:]
	for k := 0; k < len(s); k++ {
		if b[k] != s[k] {
			return false
		}
	}
	return true
}

// acceptWord consumes the identifier w (not a prefix of a longer one).
func (p *parser) acceptWord(w string) bool {
	p.skipSpace()
	j := p.i + len(w)
	if hasPrefixAt(p.buf, p.i, w) && (j == len(p.buf) || !isIdentByte(p.buf[j])) {
		p.i = j
		return true
	}
	return false
}

func (p *parser) expect(c byte) bool {
	// Inlined fast path: c right at the cursor.
	if p.i < len(p.buf) && p.buf[p.i] == c {
		p.i++
		return true
	}
	return p.expectAfterBlanks(c)
}

func (p *parser) expectAfterBlanks(c byte) bool {
	if p.accept(c) {
		return true
	}
	p.errorf("expected %q, found %s", c, p.found())
	return false
}

func (p *parser) expectEnd() {
	if p.i < len(p.buf) && p.peek() != 0 {
		p.errorf("unexpected %s after instruction", p.found())
	}
}

// found describes the next token for error messages.
func (p *parser) found() string {
	p.skipSpace()
	if p.i >= len(p.buf) {
		return "end of line"
	}
	j := p.i
	for j < len(p.buf) && (isIdentByte(p.buf[j]) || j == p.i && (p.buf[j] == '%' || p.buf[j] == '+' || p.buf[j] == '-')) {
		j++
	}
	if j == p.i {
		j++
	}
	return strconv.Quote(string(p.buf[p.i:j]))
}

// ident scans an identifier. "%=" after "_" belongs to it: the selftests'
// inline asm names labels "l0_%=". "%[name]", an inline asm operand, scans
// as name.
func (p *parser) ident() []byte {
	p.skipSpace()
	b, start := p.buf, p.i
	if uint(start) >= uint(len(b)) {
		return b[len(b):]
	}
	rest := b[start:]
	n := 0
	for n < len(rest) && identByte[rest[n]] {
		n++
	}
	if n < len(rest) && rest[n] == '%' {
		return p.identPercent(start, n)
	}
	p.i = start + n
	return rest[:n]
}

// identPercent continues ident at a '%' n bytes after start: "%[name]"
// (n = 0) or "_%=" inside a name.
func (p *parser) identPercent(start, n int) []byte {
	b := p.buf
	i := start + n
	if n == 0 {
		if i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && identByte[b[j]] {
				j++
			}
			if j < len(b) && b[j] == ']' && j > i+2 {
				p.i = j + 1
				return b[start+2 : j]
			}
			return nil
		}
	}
	for i < len(b) {
		c := b[i]
		if identByte[c] {
			i++
		} else if c == '%' && i+1 < len(b) && b[i+1] == '=' && i > start && b[i-1] == '_' {
			i += 2
		} else {
			break
		}
	}
	p.i = i
	return b[start:i]
}

// Register kinds: how a register was written.
const (
	regR       = 'r' // r1: 64-bit in pseudo-C
	regW       = 'w' // w1: 32-bit in pseudo-C
	regPercent = '%' // %r1: conformance syntax
)

// parseReg decodes r0..r10, w0..w10 and %r0..%r10.
func parseReg(b []byte) (core.Reg, byte, bool) {
	kind := byte(regR)
	if len(b) > 0 && b[0] == '%' {
		kind = regPercent
		b = b[1:]
		if len(b) == 0 || b[0] != 'r' {
			return 0, 0, false
		}
	} else if len(b) > 0 && b[0] == 'w' {
		kind = regW
	} else if len(b) == 0 || b[0] != 'r' {
		return 0, 0, false
	}
	switch {
	case len(b) == 2 && isDigit(b[1]):
		return core.Reg(b[1] - '0'), kind, true
	case len(b) == 3 && b[1] == '1' && b[2] == '0':
		return core.R10, kind, true
	}
	return 0, 0, false
}

// regToken scans what may be a register: an identifier with an optional
// leading '%'.
func (p *parser) regToken() []byte {
	p.skipSpace()
	b, start := p.buf, p.i
	i := start
	if i < len(b) && b[i] == '%' {
		i++
	}
	for i < len(b) && identByte[b[i]] {
		i++
	}
	p.i = i
	return b[start:i]
}

// regFast decodes the register at the cursor when it is spelled as most
// are ("r1", "w10", "%r3", not followed by an identifier byte) and of a
// kind want accepts; otherwise it consumes nothing and reg takes the
// general path, which then reads the same token.
func (p *parser) regFast(want byte) (core.Reg, byte, bool) {
	r, kind, end := scanReg(p.buf, p.i, want)
	if end < 0 {
		return 0, 0, false
	}
	p.i = end
	return r, kind, true
}

// The scanners below are pure: they take the statement b and an index, skip
// blanks, and return the index after what they scanned, -1 if it is not
// there. A negative index passes through, so a chain of scans checks once
// at its end, and the cursor stays in a register. (They compare
// uint(i) < uint(len(b)), which also proves i >= 0 and spares the bounds
// check of b[i].)

// scanReg scans a register as regFast does.
func scanReg(b []byte, i int, want byte) (r core.Reg, kind byte, end int) {
	i = skipBlanks(b, i)
	if uint(i) >= uint(len(b)) || i+1 >= len(b) {
		return 0, 0, -1
	}
	kind = b[i]
	switch kind {
	case regR, regW:
	case regPercent:
		i++
		if b[i] != 'r' {
			return 0, 0, -1
		}
	default:
		return 0, 0, -1
	}
	i++
	if uint(i) >= uint(len(b)) || !isDigit(b[i]) {
		return 0, 0, -1
	}
	r = core.Reg(b[i] - '0')
	i++
	if r == 1 && uint(i) < uint(len(b)) && b[i] == '0' {
		r, i = core.R10, i+1
	}
	if uint(i) < uint(len(b)) && identByte[b[i]] || want != 0 && kind != want && !(want == regR && kind == regPercent) {
		return 0, 0, -1
	}
	return r, kind, i
}

// scanComma scans the comma between two operands.
func scanComma(b []byte, i int) int {
	if i = skipBlanks(b, i); uint(i) < uint(len(b)) && b[i] == ',' {
		return i + 1
	}
	return -1
}

// scanRegOrImm is regOrImm: a register (of a kind kind accepts) sets
// the X bit.
func scanRegOrImm(b []byte, i int, kind byte, ins *core.Insn) int {
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) {
		return -1
	}
	if c := b[i]; c == '%' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		r, _, end := scanReg(b, i, kind)
		ins.Op |= core.X
		ins.Src = r
		return end
	}
	v, end := scanImm32(b, i)
	ins.Imm = v
	return end
}

// isRegNext reports whether a register follows, without consuming it.
func (p *parser) isRegNext() bool {
	_, _, end := scanReg(p.buf, p.i, 0)
	return end >= 0
}

// reg scans a register; want is 0 (any spelling) or the kind required.
func (p *parser) reg(want byte) (core.Reg, byte) {
	p.skipSpace()
	if r, kind, ok := p.regFast(want); ok {
		return r, kind
	}
	start := p.i
	tok := p.regToken()
	r, kind, ok := parseReg(tok)
	if !ok {
		p.i = start
		p.errorf("expected register, found %s", p.found())
		return 0, 0
	}
	if want != 0 && kind != want && !(want == regR && kind == regPercent) {
		p.errorAt(p.pos(start), "expected %s register, found %q", kindName(want), tok)
	}
	return r, kind
}

func kindName(k byte) string {
	switch k {
	case regW:
		return "a 32-bit w"
	case regPercent:
		return "a %r"
	}
	return "a 64-bit r"
}

// number scans an optional sign and a decimal or 0x-prefixed hex
// magnitude. ok is false (and nothing consumed) when no digits follow.
func (p *parser) number() (neg, hex bool, mag uint64, ok bool) {
	p.skipSpace()
	start := p.i
	neg, hex, mag, end, ok, big := scanNumber(p.buf, start)
	if !ok {
		return false, false, 0, false
	}
	p.i = end
	if big {
		p.errorAt(p.pos(start), "number %s does not fit 64 bits", p.buf[start:p.i])
	}
	return neg, hex, mag, true
}

// scanNumber is number on b from i (blanks skipped): ok is false when no
// number starts there, big when it does not fit 64 bits; end is the index
// after it.
func scanNumber(b []byte, i int) (neg, hex bool, mag uint64, end int, ok, big bool) {
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) {
		return false, false, 0, 0, false, false
	}
	if c := b[i]; c == '-' || c == '+' {
		neg = c == '-'
		i = skipBlanks(b, i+1)
	}
	if uint(i)+1 < uint(len(b)) && b[i] == '0' && b[i+1]|0x20 == 'x' {
		hex = true
		i += 2
	}
	digits := i
	// Without checks while the digits cannot overflow (16 hex, 19
	// decimal); a longer number is scanned again, checking each step.
	maxDigits := 19
	if hex {
		maxDigits = 16
		for ; uint(i) < uint(len(b)); i++ {
			d := hexDigit[b[i]]
			if d > 15 {
				break
			}
			mag = mag<<4 | uint64(d)
		}
	} else {
		for ; uint(i) < uint(len(b)); i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			mag = mag*10 + uint64(d)
		}
	}
	if i == digits || uint(i) < uint(len(b)) && identByte[b[i]] {
		return false, false, 0, 0, false, false
	}
	if i-digits > maxDigits {
		var fits bool
		mag, fits = checkedMag(b[digits:i], hex)
		big = !fits
	}
	return neg, hex, mag, i, true, big
}

// checkedMag is the value of digits and whether it fits 64 bits.
func checkedMag(digits []byte, hex bool) (mag uint64, ok bool) {
	ok = true
	for _, c := range digits {
		if hex {
			d := hexDigit[c]
			if mag > (^uint64(0)-uint64(d))/16 {
				ok = false
			}
			mag = mag*16 + uint64(d)
		} else {
			d := c - '0'
			if mag > (^uint64(0)-uint64(d))/10 {
				ok = false
			}
			mag = mag*10 + uint64(d)
		}
	}
	return mag, ok
}

// hexDigit is the value of a hex digit, 0xff for any other byte.
var hexDigit = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9':
			t[c] = byte(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = byte(c-'a') + 10
		case c >= 'A' && c <= 'F':
			t[c] = byte(c-'A') + 10
		default:
			t[c] = 0xff
		}
	}
	return t
}()

// Range rules, from the conformance suite's assembler: a hex number is
// unsigned and may use every bit of the field (0xffffffff is imm -1), a
// decimal one must fit the field as a signed value; a negative number of
// either base must fit as signed.

// imm32 scans a 32-bit immediate.
func (p *parser) imm32() int32 {
	p.skipSpace()
	start := p.i
	neg, hex, mag, ok := p.number()
	if !ok {
		p.errorf("expected immediate, found %s", p.found())
		return 0
	}
	if v, ok := imm32Of(neg, hex, mag); ok {
		return v
	}
	p.errorAt(p.pos(start), "immediate %s is out of 32-bit range", p.buf[start:p.i])
	return 0
}

func imm32Of(neg, hex bool, mag uint64) (int32, bool) {
	switch {
	case neg && mag <= 1<<31:
		return int32(-int64(mag)), true
	case !neg && hex && mag <= 0xffffffff:
		return int32(uint32(mag)), true
	case !neg && !hex && mag <= 1<<31-1:
		return int32(mag), true
	}
	return 0, false
}

// off16 scans a 16-bit offset; a '+' or '-' may stand apart from the
// digits, as in "(r1 + 4)".
func (p *parser) off16() int16 {
	p.skipSpace()
	start := p.i
	neg, hex, mag, ok := p.number()
	if !ok {
		p.errorf("expected offset, found %s", p.found())
		return 0
	}
	if v, ok := off16Of(neg, hex, mag); ok {
		return v
	}
	p.errorAt(p.pos(start), "offset %s is out of 16-bit range", p.buf[start:p.i])
	return 0
}

// scanImm32 scans an immediate by imm32's rules.
func scanImm32(b []byte, i int) (int32, int) {
	if d, neg, end := smallNumber(b, i); end >= 0 {
		if neg {
			return -int32(d), end
		}
		return int32(d), end
	}
	neg, hex, mag, end, ok, big := scanNumber(b, i)
	v, fits := imm32Of(neg, hex, mag)
	if !ok || big || !fits {
		return 0, -1
	}
	return v, end
}

// scanOff16 scans an offset by off16's rules.
func scanOff16(b []byte, i int) (int16, int) {
	if d, neg, end := smallNumber(b, i); end >= 0 {
		if neg {
			return -int16(d), end
		}
		return int16(d), end
	}
	neg, hex, mag, end, ok, big := scanNumber(b, i)
	v, fits := off16Of(neg, hex, mag)
	if !ok || big || !fits {
		return 0, -1
	}
	return v, end
}

// smallNumber scans a number of one decimal digit with an optional sign
// next to it, as most immediates and offsets are ("1", "-8", "+4"): what
// scanNumber would give, without its cases. end is -1 for any other.
func smallNumber(b []byte, i int) (d byte, neg bool, end int) {
	if i = skipBlanks(b, i); uint(i) >= uint(len(b)) {
		return 0, false, -1
	}
	if c := b[i]; c == '-' || c == '+' {
		neg = c == '-'
		i++
	}
	if uint(i) >= uint(len(b)) {
		return 0, false, -1
	}
	if d = b[i] - '0'; d > 9 || i+1 < len(b) && identByte[b[i+1]] {
		return 0, false, -1
	}
	return d, neg, i + 1
}

// scanImm64 scans the constant of an ld_imm64 by imm64's rules.
func scanImm64(b []byte, i int) (uint64, int) {
	neg, _, mag, end, ok, big := scanNumber(b, i)
	if !ok || big || neg && mag > 1<<63 {
		return 0, -1
	}
	if neg {
		mag = -mag
	}
	return mag, end
}

func off16Of(neg, hex bool, mag uint64) (int16, bool) {
	switch {
	case neg && mag <= 1<<15:
		return int16(-int64(mag)), true
	case !neg && hex && mag <= 0xffff:
		return int16(uint16(mag)), true
	case !neg && !hex && mag <= 1<<15-1:
		return int16(mag), true
	}
	return 0, false
}

// imm64 scans the 64-bit constant of an ld_imm64.
func (p *parser) imm64() uint64 {
	p.skipSpace()
	start := p.i
	neg, _, mag, ok := p.number()
	if !ok {
		p.errorf("expected 64-bit immediate, found %s", p.found())
		return 0
	}
	if neg {
		if mag > 1<<63 {
			p.errorAt(p.pos(start), "immediate %s is out of 64-bit range", p.buf[start:p.i])
		}
		return -mag
	}
	return mag
}

// unsigned scans a non-negative directive argument up to max.
func (p *parser) unsigned(what string, max uint64) uint64 {
	p.skipSpace()
	start := p.i
	neg, _, mag, ok := p.number()
	if !ok || neg || mag > max {
		p.i = start
		p.errorf("expected %s (0 to %d), found %s", what, max, p.found())
		return 0
	}
	return mag
}

// regOrImm scans the source operand of an ALU or jump instruction: a
// register (setting the X bit) or a 32-bit immediate. A word is taken for a
// register so that "%r11" is reported as a bad register, not a bad number.
func (p *parser) regOrImm(ins *core.Insn, kind byte) {
	c := p.peek()
	if c == '%' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		ins.Op |= core.X
		ins.Src, _ = p.reg(kind)
		return
	}
	if v, end := scanImm32(p.buf, p.i); end >= 0 {
		ins.Imm, p.i = v, end
		return
	}
	ins.Imm = p.imm32()
}
