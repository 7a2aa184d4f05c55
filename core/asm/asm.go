// Package asm is jitsim's text assembler. One file may mix, line by line,
// the conformance suite's uBPF-style syntax ("mov32 %r0, 1", "ldxw %r0,
// [%r1+4]", "jeq %r1, 2, +1") and the kernel's pseudo-C as bpftool, the
// verifier log and llvm-objdump print it ("w0 = 1", "r0 = *(u32 *)(r1 +4)",
// "if r1 == 0x2 goto pc+1"), plus a few directives for programs, maps and
// helpers. docs/asm.md is the reference. Format prints an object back in
// pseudo-C such that Parse gives the same object.
package asm

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"

	"jitsim/core"
)

// Options configure ParseOpts.
type Options struct {
	// File names the source in positions and errors.
	File string
	// Line is the number of src's first line (0 means 1), so that positions
	// of an asm section cut out of a larger file (a conformance .data file)
	// point into that file.
	Line int
	// Helpers is the helper id space until a .helpers directive says
	// otherwise; it decides what helper names mean.
	Helpers core.HelperSet
}

// Parse assembles src; file names it in positions. Helper names are kernel
// ones unless the source says ".helpers conformance".
func Parse(file string, src []byte) (*core.Object, error) {
	return ParseOpts(src, Options{File: file})
}

// ParseOpts assembles src. Every error is a *core.Error with Op "parse" and
// the file:line:col of the offending token.
func ParseOpts(src []byte, opts Options) (*core.Object, error) {
	p := &parser{
		src:    src,
		opts:   opts,
		obj:    &core.Object{File: opts.File, Helpers: opts.Helpers},
		mapIdx: make(map[string]int),
	}
	p.run()
	if p.err != nil {
		return nil, p.err
	}
	return p.obj, nil
}

// Fixup kinds: what a name or target written before its definition is
// patched into once known.
const (
	fixJump        = iota // Off = label - (slot+1)
	fixJumpImm            // gotol: Imm = label - (slot+1)
	fixCall               // pseudo call to a label; a helper name if no label has the name
	fixCallOnly           // conformance "call local": a label only
	fixHelperName         // "call NAME": a helper name; the id comes from the helper set
	fixHelperCheck        // "call NAME#N": N is the id; a known NAME must agree
	fixMap                // ld_imm64 map[NAME]: Imm = map index
)

// fixup is a reference resolved at the end of a program (labels) or of the
// file (maps, helper names). The name is src[start:end], so recording one
// allocates nothing.
type fixup struct {
	kind       uint8
	slot       int32
	start, end int32 // the name in src; its line and column are found from start on error
	label      int32 // the name's entry in parser.labels (label kinds only)
}

// prog is a program being assembled.
type prog struct {
	p         *core.Program
	firstExit int // slot of the first exit, the conformance syntax's implicit "exit" label
	pos       core.Pos
}

type labelDef struct {
	slot int32 // -1: referenced, not defined (yet)
	sym  int32 // index in Program.Symbols, -1 for local .L labels
	at   lineCol
}

// labelTab interns the label names of one program. A definition and every
// reference find or add the name's entry, so endProg resolves a reference
// by index, and a name stays in src: no string per label, no map. Open
// addressing over a power-of-two index, kept at most half full; an index
// slot holds the name's hash and an entry holds names of up to 8 bytes
// whole, so a lookup seldom reads src or an entry that is not the match.
type labelTab struct {
	index    []labelSlot
	ents     []labelEnt
	sizeHint int // how many labels the source may have, at most
}

type labelSlot struct {
	hash uint32
	ent  uint32 // entry+1; 0 is empty
}

type labelEnt struct {
	key        uint64 // the name, little-endian, when at most 8 bytes
	start, end int32  // the name in src, where first seen
	def        labelDef
}

func (t *labelTab) reset() {
	clear(t.index)
	t.ents = t.ents[:0]
}

// nameKey packs a name of at most 8 bytes into a word; short is false
// for a longer one.
func nameKey(src []byte, start, end int) (key uint64, short bool) {
	n := end - start
	if n > 8 {
		return 0, false
	}
	if start+8 <= len(src) {
		return binary.LittleEndian.Uint64(src[start:]) & lowBytes[n&15], true
	}
	for k := end - 1; k >= start; k-- {
		key = key<<8 | uint64(src[k])
	}
	return key, true
}

// find returns the entry of src[start:end], adding an undefined one.
func (t *labelTab) find(src []byte, start, end int) int32 {
	key, short := nameKey(src, start, end)
	var h uint32
	if short {
		h = uint32((key * 0x9e3779b97f4a7c15) >> 32) // Fibonacci hashing
	} else {
		h = 2166136261 // FNV-1a
		for _, c := range src[start:end] {
			h = (h ^ uint32(c)) * 16777619
		}
	}
	if 2*(len(t.ents)+1) > len(t.index) {
		if t.index == nil {
			// Every label definition has a ':'.
			t.sizeHint = bytes.Count(src, []byte{':'})
		}
		t.grow()
	}
	n := int32(end - start)
	mask := uint32(len(t.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.index[i]
		if s.ent == 0 {
			t.ents = append(grow(t.ents, 1), labelEnt{key: key, start: int32(start), end: int32(end), def: labelDef{slot: -1, sym: -1}})
			t.index[i] = labelSlot{hash: h, ent: uint32(len(t.ents))}
			return int32(len(t.ents) - 1)
		}
		if s.hash != h {
			continue
		}
		en := &t.ents[s.ent-1]
		if en.end-en.start == n && (short && en.key == key || !short && string(src[en.start:en.end]) == string(src[start:end])) {
			return int32(s.ent - 1)
		}
	}
}

func (t *labelTab) grow() {
	old := t.index
	if t.sizeHint > len(old) {
		// The first growth of a parse: room for the labels the source
		// may have, so that the table is not rebuilt as it fills.
		t.ents = slices.Grow(t.ents, t.sizeHint)
	}
	// A power of two: probes wrap by masking.
	t.index = make([]labelSlot, max(64, 2*len(old), 2<<bits.Len(uint(t.sizeHint))))
	mask := uint32(len(t.index) - 1)
	for _, s := range old {
		if s.ent == 0 {
			continue
		}
		i := s.hash & mask
		for t.index[i].ent != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = s
	}
}

// parser holds the state of one ParseOpts call. Errors are sticky: the
// first one is kept and ends the parse at the end of its statement.
type parser struct {
	src  []byte
	opts Options
	obj  *core.Object
	err  *core.Error

	// buf is the current statement (or operand): the line up to the
	// statement's end, with comments cut off or blanked out, so columns
	// and offsets into buf equal those in src. It may be src itself: never
	// written. Its length is the statement's end, so the scanner's bounds
	// checks are the slice's own.
	buf     []byte
	i       int // cursor in buf
	scratch []byte
	lineOff int // offset of the line in src
	lineNo  int
	inBlock bool // inside a /* */ comment carried over from a previous line

	progs []*prog
	cur   *prog
	// The current program's labels, label references and symbols, which
	// endProg turns into Program.Symbols: until then they hold no pointer
	// (a pointer store costs a write barrier while the GC runs), and the
	// names are one []byte.
	labels labelTab
	fixups []fixup
	names  []byte
	syms   []symDef
	// insns[:nslots] and slotPos[:nslots] hold the slots of all
	// programs, each program's a cap-limited part of them; the current one
	// starts at progStart. Every slot's Origin is 0: origins, the one
	// Origin of the file. The arrays are used up to their length.
	insns     []core.Insn
	slotPos   []core.SlotPos
	nslots    int
	origins   []core.Origin
	emitEnd   int // emit takes its fast path while nslots < emitEnd: a program is open and the arrays have room
	progStart int
	progIdx   map[string]int
	mapIdx    map[string]int
	fileFix   []fileFixup // map names, helper names, .slot programs
	slots     []pendingSlot
}

type lineCol struct{ line, col int32 }

// symDef is a Program.Symbols entry while its program is parsed: the name
// is names[previous symDef's end:end].
type symDef struct {
	insn int32
	end  int32
	fn   bool
}

// fileFixup is resolved once the whole file is read.
type fileFixup struct {
	fixup
	prog *prog
}

func (p *parser) run() {
	line := p.opts.Line
	if line <= 0 {
		line = 1
	}
	src := p.src
	// Most lines have no comment and one statement. The next '#', '/' and
	// ';' in src are kept as cursors, each found by bytes.IndexByte (which
	// scans many bytes per step) only once the parse has passed the last
	// one. The fast path reads a line up to its '\n' before the next of
	// them; any other line, found by IndexByte, is parsed in place if it
	// ends before all three, else through parseLine.
	hash, slash, semi := -1, -1, -1
	special := -1 // min(hash, slash, semi)
	// A '#' after a blank or ',' starts a comment (parseLine): a
	// statement of the fast path may end there.
	hashComment := false
	for off := 0; off <= len(src) && p.err == nil; line++ {
		if special < off {
			// A cursor passed: find the next of its byte.
			if hash < off {
				hash = nextByte(src, '#', off)
			}
			if slash < off {
				slash = nextByte(src, '/', off)
			}
			if semi < off {
				semi = nextByte(src, ';', off)
			}
			special = min(hash, slash, semi)
			hashComment = special < len(src) && src[special] == '#' &&
				(special == 0 || isBlank(src[special-1]) || src[special-1] == ',' || src[special-1] == '\n')
		}
		if fastPath && !p.inBlock {
			var done bool
			if off, line, done = p.fastLines(src, off, special, line, hashComment || special == len(src)); done || p.err != nil {
				break
			}
			if special < off {
				line-- // the loop counts it again
				continue
			}
		}
		p.lineNo, p.lineOff = line, off
		end := len(src)
		if nl := bytes.IndexByte(src[off:], '\n'); nl >= 0 {
			end = off + nl
		}
		if special >= end && !p.inBlock {
			p.buf = src[off:end]
			p.i = 0
			p.statement()
		} else {
			p.parseLine(src[off:end])
		}
		if end == len(src) {
			break
		}
		off = end + 1
	}
	if p.err == nil && p.inBlock {
		p.errorAt(p.pos(0), "unterminated /* comment")
	}
	if p.err == nil {
		p.endProg()
	}
	if p.err == nil {
		p.resolveFile()
	}
}

// parseLine blanks the comments of one line into p.buf, then parses its
// statements, which ';' separates as in LLVM's BPF assembler (the kernel
// selftests' inline asm relies on it). A line whose first non-blank
// character is ';' is a comment, as llvm-objdump -S prints source lines.
func (p *parser) parseLine(l []byte) {
	// b is the line itself, read-only, until a block comment must be
	// blanked: then a copy in p.scratch. Line comments only shorten b.
	b := l
	i := 0
	copied := false
	if p.inBlock {
		p.scratch = append(p.scratch[:0], b...)
		b, copied = p.scratch, true
		i = p.blankBlock(b, 0)
	}
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	if i < len(b) && b[i] == ';' {
		b = b[:i]
	}
	for ; i < len(b); i++ {
		// Most lines have none of '#', '/': skip 8 bytes at a time while a
		// word holds neither (the bit trick finds a zero byte in w^pattern).
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if hasZeroByte(w^0x2323232323232323) || hasZeroByte(w^0x2f2f2f2f2f2f2f2f) {
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		if !commentStart[b[i]] {
			continue
		}
		switch {
		case b[i] == '#':
			// "#" starts a comment at the start of a line or after a blank;
			// bpftool's "call bpf_map_lookup_elem#1" keeps its "#".
			if i == 0 || isBlank(b[i-1]) || b[i-1] == ',' {
				b = b[:i]
			}
		case i+1 < len(b) && b[i+1] == '/':
			b = b[:i]
		case i+1 < len(b) && b[i+1] == '*':
			if !copied {
				p.scratch = append(p.scratch[:0], b...)
				b, copied = p.scratch, true
			}
			b[i], b[i+1] = ' ', ' '
			p.inBlock = true
			i = p.blankBlock(b, i+2) - 1
		}
	}
	start := 0
	for start <= len(b) && p.err == nil {
		end := bytes.IndexByte(b[start:], ';')
		if end < 0 {
			end = len(b)
		} else {
			end += start
		}
		p.buf, p.i = b[:end], start
		if !fastPath || p.fastStatement(p.buf, 0, p.i, true) < 0 {
			p.statement()
		}
		start = end + 1
	}
}

// commentStart marks the bytes that may start a comment.
var commentStart = [256]bool{'#': true, '/': true}

// nextByte returns the index of the first c in src at or after off, or
// len(src). run calls it again only once off has passed the answer.
func nextByte(src []byte, c byte, off int) int {
	if k := bytes.IndexByte(src[off:], c); k >= 0 {
		return off + k
	}
	return len(src)
}

func hasZeroByte(w uint64) bool {
	return (w-0x0101010101010101)&^w&0x8080808080808080 != 0
}

// blankBlock blanks a /* comment in b from i (inside the comment) to its
// */ or the end of the line, and returns the index after it.
func (p *parser) blankBlock(b []byte, i int) int {
	for ; i < len(b); i++ {
		if b[i] == '*' && i+1 < len(b) && b[i+1] == '/' {
			b[i], b[i+1] = ' ', ' '
			p.inBlock = false
			return i + 2
		}
		b[i] = ' '
	}
	return i
}

// posOf expands a compact position.
func (p *parser) posOf(lc lineCol) core.Pos {
	return core.Pos{File: p.opts.File, Line: int(lc.line), Col: int(lc.col), Insn: -1}
}

// fixPos returns the position of a fixup's name, counting lines in src
// (only errors need it, so fixups need not carry it).
func (p *parser) fixPos(f fixup) core.Pos {
	line := p.opts.Line
	if line <= 0 {
		line = 1
	}
	before := p.src[:f.start]
	line += bytes.Count(before, []byte{'\n'})
	col := len(before) - (bytes.LastIndexByte(before, '\n') + 1)
	return p.posOf(lineCol{int32(line), int32(col + 1)})
}

// pos returns the position of column offset i of the current line.
func (p *parser) pos(i int) core.Pos {
	return core.Pos{File: p.opts.File, Line: p.lineNo, Col: i + 1, Insn: -1}
}

func (p *parser) errorAt(pos core.Pos, format string, args ...any) {
	if p.err == nil {
		p.err = core.Errorf(pos, "parse", format, args...)
	}
}

// errorf reports an error at the cursor.
func (p *parser) errorf(format string, args ...any) {
	p.skipSpace()
	p.errorAt(p.pos(p.i), format, args...)
}

// statement parses one statement: labels, then a directive or an
// instruction in either syntax.
func (p *parser) statement() {
	p.skipSpace()
	if p.i >= len(p.buf) {
		return
	}
	if isDigit(p.buf[p.i]) {
		p.listingPrefix()
		if p.err != nil || p.i >= len(p.buf) {
			return
		}
	}
	for {
		p.skipSpace()
		if p.i >= len(p.buf) {
			return
		}
		start := p.i
		c := p.buf[p.i]
		if c == '*' {
			p.store(start)
			return
		}
		w := p.ident()
		if len(w) == 0 {
			p.errorf("expected instruction, found %s", p.found())
			return
		}
		// A label: "name:".
		p.skipSpace()
		if p.i < len(p.buf) && p.buf[p.i] == ':' {
			p.i++
			p.defineLabel(start, w, false)
			if p.err != nil {
				return
			}
			continue
		}
		p.instruction(start, w)
		if p.err == nil {
			p.expectEnd()
		}
		return
	}
}

// listingPrefix skips what bpftool ("  12: (bf) ") or llvm-objdump
// ("      12:\tbf 16 00 ...\t") print before an instruction, so their
// listings assemble; an objdump symbol line "0000000000000000 <name>:"
// defines the label name.
func (p *parser) listingPrefix() {
	for p.i < len(p.buf) && isHex(p.buf[p.i]) {
		p.i++
	}
	p.skipSpace()
	if p.i < len(p.buf) && p.buf[p.i] == '<' {
		p.i++
		start := p.i
		name := p.ident()
		if len(name) == 0 || !p.accept('>') || !p.accept(':') {
			p.errorAt(p.pos(start), "expected <symbol>: in listing line")
			return
		}
		p.defineLabel(start, name, false)
		return
	}
	if !p.accept(':') {
		p.errorf("expected ':' after instruction number, found %s", p.found())
		return
	}
	p.skipSpace()
	if p.i+3 < len(p.buf) && p.buf[p.i] == '(' && isHex(p.buf[p.i+1]) && isHex(p.buf[p.i+2]) && p.buf[p.i+3] == ')' {
		p.i += 4
		return
	}
	// objdump's hex bytes: two hex digits followed by a blank, 8 or 16 of them.
	for p.i+2 < len(p.buf) && isHex(p.buf[p.i]) && isHex(p.buf[p.i+1]) && isBlank(p.buf[p.i+2]) {
		p.i += 3
		p.skipSpace()
	}
}

// program returns the program instructions go to, starting the implicit
// one when the source has no .prog directive.
func (p *parser) program() *prog {
	if p.cur == nil {
		p.startProg("main", 0, core.Pos{File: p.opts.File, Insn: -1})
	}
	return p.cur
}

func (p *parser) startProg(name string, typ core.ProgType, pos core.Pos) {
	p.endProg()
	if p.progIdx == nil {
		p.progIdx = make(map[string]int)
	}
	if i, dup := p.progIdx[name]; dup {
		p.errorAt(pos, "program %q already defined at %v", name, p.progs[i].pos)
		return
	}
	p.progIdx[name] = len(p.progs)
	p.cur = &prog{
		p:         &core.Program{Name: name, Type: typ},
		firstExit: -1,
		pos:       pos,
	}
	p.progs = append(p.progs, p.cur)
	p.obj.Progs = append(p.obj.Progs, p.cur.p)
}

// defineLabel records a label at the next slot. Labels starting with ".L"
// are local, as in GNU as: they resolve jumps but are not Symbols (Format
// invents them for targets that have no symbol).
func (p *parser) defineLabel(col int, name []byte, fn bool) {
	// name is a slice of p.buf, which starts at src[p.lineOff].
	p.defineLabelAt(col, name, p.lineOff+cap(p.buf)-cap(name), fn)
}

// defineLabelAt is defineLabel for the name at src[start:].
func (p *parser) defineLabelAt(col int, name []byte, start int, fn bool) {
	if _, _, isReg := parseReg(name); isReg {
		p.errorAt(p.pos(col), "label %q is a register name", name)
		return
	}
	if len(name) > 0 && isDigit(name[0]) {
		p.errorAt(p.pos(col), "label %q starts with a digit", name)
		return
	}
	p.program()
	e := &p.labels.ents[p.labels.find(p.src, start, start+len(name))]
	if e.def.slot >= 0 {
		p.errorAt(p.pos(col), "duplicate label %q (first defined at %v)", name, p.posOf(e.def.at))
		return
	}
	def := labelDef{slot: int32(p.slot()), sym: -1, at: lineCol{int32(p.lineNo), int32(col + 1)}}
	if len(name) < 2 || name[0] != '.' || name[1] != 'L' {
		def.sym = int32(len(p.syms))
		p.names = append(grow(p.names, len(name)), name...)
		p.syms = append(grow(p.syms, 1), symDef{insn: def.slot, end: int32(len(p.names)), fn: fn})
	}
	e.def = def
}

// slot returns the index the next instruction of the current program gets.
func (p *parser) slot() int {
	p.program()
	return p.nslots - p.progStart
}

// emit appends one instruction slot at the position of column col. All
// programs of a file share one backing array, sized from the line count up
// front, so the parser neither regrows nor copies it.
func (p *parser) emit(col int, ins *core.Insn) int {
	n := p.nslots
	if n >= p.emitEnd {
		return p.emitSlow(col, ins)
	}
	p.insns[n] = *ins
	p.slotPos[n] = core.SlotPos{Line: int32(p.lineNo), Col: int32(col + 1)}
	p.nslots = n + 1
	return n - p.progStart
}

// emitSlow is emit for the first slot of a program, and when the arrays are
// missing or full.
func (p *parser) emitSlow(col int, ins *core.Insn) int {
	slot := p.slot()
	if slot >= core.MaxInsnSlots {
		p.errorAt(p.pos(col), "program %s has more than %d instruction slots", p.cur.p.Name, core.MaxInsnSlots)
		return slot
	}
	n := p.nslots
	if p.insns == nil {
		lines := bytes.Count(p.src, []byte{'\n'})
		lines += lines/4 + 16 // ld_imm64 takes two slots
		p.insns = make([]core.Insn, lines)
		p.slotPos = make([]core.SlotPos, lines)
	} else if n == len(p.insns) {
		p.insns = slices.Grow(p.insns, n)[:2*n]
		p.slotPos = slices.Grow(p.slotPos, n)[:2*n]
	}
	p.insns[n] = *ins
	p.slotPos[n] = core.SlotPos{Line: int32(p.lineNo), Col: int32(col + 1)}
	p.nslots = n + 1
	p.emitEnd = min(len(p.insns), p.progStart+core.MaxInsnSlots)
	return slot
}

// emitLdImm64 appends both slots of an ld_imm64; the second gets the same
// position, as the source has one line for both.
func (p *parser) emitLdImm64(col int, dst core.Reg, src core.Reg, v uint64) int {
	s := core.LdImm64(dst, src, v)
	slot := p.emit(col, &s[0])
	p.emit(col, &s[1])
	return slot
}

// addFixup records a reference to name (buf[start:end]) from slot.
func (p *parser) addFixup(kind uint8, slot, start, end int) {
	f := fixup{kind: kind, slot: int32(slot), start: int32(p.lineOff + start), end: int32(p.lineOff + end)}
	switch kind {
	case fixMap, fixHelperName, fixHelperCheck:
		p.fileFix = append(p.fileFix, fileFixup{fixup: f, prog: p.program()})
	default:
		p.program()
		f.label = p.labels.find(p.src, int(f.start), int(f.end))
		p.fixups = append(grow(p.fixups, 1), f)
	}
}

// endProg resolves the labels of the current program.
func (p *parser) endProg() {
	pr := p.cur
	if pr == nil || p.err != nil {
		return
	}
	p.cur, p.emitEnd = nil, 0
	n := p.nslots
	if n > p.progStart {
		pr.p.Insns = p.insns[p.progStart:n:n]
		pr.p.SlotPos = p.slotPos[p.progStart:n:n]
		if p.origins == nil {
			p.origins = []core.Origin{{File: p.opts.File}}
		}
		pr.p.Origins = p.origins
	}
	p.progStart = n
	insns := pr.p.Insns
	fixups := p.fixups
	labels := p.labels.ents
	syms := p.syms
	defer func() {
		p.fixups, p.names, p.syms = p.fixups[:0], p.names[:0], p.syms[:0]
		p.labels.reset()
	}()
	for _, f := range fixups {
		name := p.src[f.start:f.end]
		def := labels[f.label].def
		ok := def.slot >= 0
		if !ok && string(name) == "exit" && pr.firstExit >= 0 {
			def, ok = labelDef{slot: int32(pr.firstExit), sym: -1}, true
		}
		if !ok {
			if f.kind == fixCall {
				// Not a label: a helper by name, resolved with the file's
				// final helper set.
				p.fileFix = append(p.fileFix, fileFixup{fixup: fixup{kind: fixHelperName, slot: f.slot, start: f.start, end: f.end}, prog: pr})
				continue
			}
			p.errorAt(p.fixPos(f), "unknown label %q", name)
			return
		}
		rel := int(def.slot) - int(f.slot+1)
		switch f.kind {
		case fixJump:
			if rel < -32768 || rel > 32767 {
				p.errorAt(p.fixPos(f), "jump to %s is %d slots away, more than a 16-bit offset holds (use gotol)", name, rel)
				return
			}
			insns[f.slot].Off = int16(rel)
		case fixJumpImm, fixCall, fixCallOnly:
			insns[f.slot].Imm = int32(rel)
			if f.kind != fixJumpImm {
				insns[f.slot].Src = core.PseudoCall
				if def.sym >= 0 {
					syms[def.sym].fn = true
				}
			}
		}
	}
	if len(syms) > 0 {
		names := string(p.names)
		pr.p.Symbols = make([]core.Symbol, len(syms))
		start := int32(0)
		for k, s := range syms {
			pr.p.Symbols[k] = core.Symbol{Name: names[start:s.end], Insn: int(s.insn), Func: s.fn}
			start = s.end
		}
	}
}

// grow makes room for n more elements, doubling the capacity when it must
// grow (append grows a large slice by a quarter, which for the parser's
// slices of unknown final size means copying them about five times).
func grow[T any](s []T, n int) []T {
	if len(s)+n > cap(s) {
		s = slices.Grow(s, max(n, len(s), 16))
	}
	return s
}

// resolveFile patches what only the whole file defines: map references,
// helper names and prog array slots.
func (p *parser) resolveFile() {
	for _, f := range p.fileFix {
		name := p.src[f.start:f.end]
		ins := &f.prog.p.Insns[f.slot]
		switch f.kind {
		case fixMap:
			idx, ok := p.mapIdx[string(name)]
			if !ok {
				if n, err := strconv.Atoi(string(name)); err == nil && n >= 0 && n < len(p.obj.Maps) {
					idx, ok = n, true
				}
			}
			if !ok {
				p.errorAt(p.fixPos(f.fixup), "unknown map %q", name)
				return
			}
			ins.Imm = int32(idx)
		case fixHelperCheck:
			if string(name) == "unknown" {
				continue
			}
			if id, ok := p.obj.Helpers.HelperID(string(name)); ok && id != ins.Imm {
				p.errorAt(p.fixPos(f.fixup), "helper %s is id %d in the %s helper set, not %d", name, id, p.obj.Helpers, ins.Imm)
				return
			}
		case fixHelperName:
			id, ok := p.obj.Helpers.HelperID(string(name))
			if !ok {
				p.errorAt(p.fixPos(f.fixup), "unknown label or %s helper %q", p.obj.Helpers, name)
				return
			}
			ins.Src, ins.Imm = core.CallHelper, id
		}
	}
	p.resolveSlots()
}
