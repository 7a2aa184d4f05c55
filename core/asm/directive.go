package asm

import (
	"bytes"
	"encoding/binary"
	"strconv"

	"jitsim/core"
)

// Directives: jitsim's own additions for what a single-program syntax
// cannot say. docs/asm.md describes each.

// progTypes are the names .prog accepts, canonical name first per type
// (libbpf's section names as aliases).
var progTypes = []struct {
	name string
	typ  core.ProgType
}{
	{"unspec", core.ProgTypeUnspec},
	{"socket_filter", core.ProgTypeSocketFilter}, {"socket", core.ProgTypeSocketFilter},
	{"sched_cls", core.ProgTypeSchedCLS}, {"tc", core.ProgTypeSchedCLS}, {"classifier", core.ProgTypeSchedCLS},
	{"sched_act", core.ProgTypeSchedAct}, {"action", core.ProgTypeSchedAct},
	{"xdp", core.ProgTypeXDP},
}

var mapTypes = []struct {
	name string
	typ  core.MapType
}{{"hash", core.MapHash}, {"array", core.MapArray}, {"prog_array", core.MapProgArray}}

// field scans a whitespace-delimited directive argument.
func (p *parser) field() []byte {
	p.skipSpace()
	start := p.i
	for p.i < len(p.buf) && !isBlank(p.buf[p.i]) {
		p.i++
	}
	return p.buf[start:p.i]
}

// isName: the names directives declare (programs, maps) are identifiers,
// so that Format can write them back and the lexer reads them as one word
// ("#" or ";" inside one would start a comment or a new statement).
func isName(b []byte) bool {
	for _, c := range b {
		if !identByte[c] {
			return false
		}
	}
	return len(b) > 0
}

func (p *parser) directive(col int, w []byte) {
	switch string(w) {
	case ".prog":
		p.progDirective(col)
	case ".func":
		at := p.here()
		name := p.ident()
		if len(name) == 0 {
			p.i = at
			p.errorf("expected function name after .func, found %s", p.found())
			return
		}
		p.defineLabel(at+1, name, true)
	case ".map":
		p.mapDirective(col)
	case ".elem":
		p.elemDirective()
	case ".slot":
		p.slotDirective()
	case ".helpers":
		at := p.here()
		switch string(p.ident()) {
		case "kernel":
			p.obj.Helpers = core.HelpersKernel
		case "conformance":
			p.obj.Helpers = core.HelpersConformance
		default:
			p.i = at
			p.errorf("expected kernel or conformance after .helpers, found %s", p.found())
		}
	case ".raw":
		p.rawDirective(col)
	default:
		p.errorAt(p.pos(col), "unknown directive %q", w)
	}
}

// progDirective: ".prog NAME [TYPE]" starts a program.
func (p *parser) progDirective(col int) {
	name := p.field()
	if len(name) == 0 {
		p.errorf("expected program name after .prog")
		return
	}
	if !isName(name) {
		p.errorf("program name %q: want letters, digits, '_', '.' or '$'", name)
		return
	}
	p.skipSpace()
	at := p.here()
	typ := core.ProgTypeUnspec
	if t := p.field(); len(t) > 0 {
		found := false
		for _, pt := range progTypes {
			if pt.name == string(t) {
				typ, found = pt.typ, true
				break
			}
		}
		if !found {
			n, err := strconv.ParseUint(string(t), 0, 32)
			if err != nil {
				p.errorAt(p.pos(at), "unknown program type %q (want socket_filter, sched_cls, sched_act, xdp or a number)", t)
				return
			}
			typ = core.ProgType(n)
		}
	}
	p.startProg(string(name), typ, p.pos(col))
}

// mapDirective: ".map NAME TYPE key=K value=V max=N [flags=F] [section=S]".
func (p *parser) mapDirective(col int) {
	name := p.field()
	if !isName(name) || isDigit(name[0]) {
		p.errorf("expected map name after .map, found %q", name)
		return
	}
	if _, dup := p.mapIdx[string(name)]; dup {
		p.errorAt(p.pos(col), "map %q already defined at %v", name, p.obj.Maps[p.mapIdx[string(name)]].Pos)
		return
	}
	m := &core.Map{Name: string(name), Pos: p.pos(col)}
	p.skipSpace()
	at := p.here()
	t := p.field()
	for _, mt := range mapTypes {
		if mt.name == string(t) {
			m.Type = mt.typ
		}
	}
	if m.Type == 0 {
		p.errorAt(p.pos(at), "unknown map type %q (want array, hash or prog_array)", t)
		return
	}
	seen := map[string]bool{}
	for p.peek() != 0 && p.err == nil {
		at := p.here()
		key := p.ident()
		if !p.accept('=') {
			p.i = at
			p.errorf("expected key=, value=, max=, flags= or section=, found %s", p.found())
			return
		}
		if seen[string(key)] {
			p.errorAt(p.pos(at), "%s= given twice", key)
			return
		}
		seen[string(key)] = true
		switch string(key) {
		case "key":
			m.KeySize = uint32(p.unsigned("key size", 1<<16))
		case "value":
			m.ValueSize = uint32(p.unsigned("value size", 1<<24))
		case "max":
			m.MaxEntries = uint32(p.unsigned("max entries", 1<<24))
		case "flags":
			m.Flags = uint32(p.unsigned("flags", 1<<32-1))
		case "section":
			m.Section = string(p.field())
		default:
			p.errorAt(p.pos(at), "unknown map attribute %q", key)
			return
		}
	}
	if p.err != nil {
		return
	}
	// What the kernel's map_alloc_check callbacks require.
	switch {
	case m.KeySize == 0 || m.ValueSize == 0 || m.MaxEntries == 0:
		p.errorAt(p.pos(col), "map %s needs key=, value= and max= greater than 0", name)
	case (m.Type == core.MapArray || m.Type == core.MapProgArray) && m.KeySize != 4:
		p.errorAt(p.pos(col), "%v map %s needs key=4", m.Type, name)
	case m.Type == core.MapProgArray && m.ValueSize != 4:
		p.errorAt(p.pos(col), "prog_array map %s needs value=4", name)
	}
	p.mapIdx[m.Name] = len(p.obj.Maps)
	p.obj.Maps = append(p.obj.Maps, m)
}

// mapArg scans a map name that an earlier .map declared.
func (p *parser) mapArg() *core.Map {
	at := p.here()
	name := p.field()
	idx, ok := p.mapIdx[string(name)]
	if !ok {
		p.i = at
		p.errorf("expected a map declared by .map, found %q", name)
		return nil
	}
	return p.obj.Maps[idx]
}

// value scans a key or value of size bytes: an integer, stored little-endian
// (a negative one sign-extended), or "[hh hh ...]" with exactly size bytes.
func (p *parser) value(what string, size uint32) []byte {
	b := make([]byte, size)
	start := p.here()
	if p.accept('[') {
		n := uint32(0)
		for !p.accept(']') {
			p.skipSpace()
			if p.i+1 >= len(p.buf) || !isHex(p.buf[p.i]) || !isHex(p.buf[p.i+1]) || p.i+2 < len(p.buf) && isIdentByte(p.buf[p.i+2]) {
				p.errorf("expected two hex digits or ] in %s bytes, found %s", what, p.found())
				return nil
			}
			if n < size {
				v, _ := strconv.ParseUint(string(p.buf[p.i:p.i+2]), 16, 8)
				b[n] = byte(v)
			}
			n++
			p.i += 2
		}
		if n != size {
			p.errorAt(p.pos(start), "%s has %d bytes, the map's size is %d", what, n, size)
			return nil
		}
		return b
	}
	at := p.here()
	neg, _, mag, ok := p.number()
	if !ok {
		p.errorf("expected %s (integer or [hex bytes]), found %s", what, p.found())
		return nil
	}
	bits := 8 * uint(min(size, 8))
	fits := bits == 64 || !neg && mag < 1<<bits || neg && mag <= 1<<(bits-1)
	if !fits {
		p.errorAt(p.pos(at), "%s %s does not fit %d bytes", what, p.buf[at:p.i], size)
		return nil
	}
	v := mag
	if neg {
		v = -mag
	}
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], v)
	copy(b, le[:])
	if neg {
		for i := 8; i < len(b); i++ {
			b[i] = 0xff
		}
	}
	return b
}

// elemDirective: ".elem MAP KEY VALUE" adds an initial entry.
func (p *parser) elemDirective() {
	at := p.here()
	m := p.mapArg()
	if m == nil {
		return
	}
	if m.Type == core.MapProgArray {
		p.errorAt(p.pos(at), "prog_array %s takes .slot, not .elem", m.Name)
		return
	}
	p.skipSpace()
	keyAt := p.i
	key := p.value("key", m.KeySize)
	val := p.value("value", m.ValueSize)
	if p.err != nil {
		return
	}
	if p.peek() != 0 {
		p.errorf("unexpected %s after .elem value", p.found())
		return
	}
	for _, e := range m.Entries {
		if bytes.Equal(e.Key, key) {
			p.errorAt(p.pos(keyAt), "map %s already has key %s", m.Name, p.buf[keyAt:p.i])
			return
		}
	}
	if m.Type == core.MapArray && binary.LittleEndian.Uint32(key) >= m.MaxEntries {
		p.errorAt(p.pos(keyAt), "key %d is past the end of array %s (max %d)", binary.LittleEndian.Uint32(key), m.Name, m.MaxEntries)
		return
	}
	if uint32(len(m.Entries)) >= m.MaxEntries {
		p.errorAt(p.pos(keyAt), "map %s is full (max %d)", m.Name, m.MaxEntries)
		return
	}
	m.Entries = append(m.Entries, core.MapEntry{Key: key, Value: val})
}

// pendingSlot is a .slot whose program may be defined further down.
type pendingSlot struct {
	m    *core.Map
	key  uint32
	name string
	pos  core.Pos
}

// slotDirective: ".slot MAP KEY PROG" puts a program in a prog array.
func (p *parser) slotDirective() {
	at := p.here()
	m := p.mapArg()
	if m == nil {
		return
	}
	if m.Type != core.MapProgArray {
		p.errorAt(p.pos(at), "%s is a %v map; .slot fills prog_array maps", m.Name, m.Type)
		return
	}
	p.skipSpace()
	keyAt := p.i
	key := uint32(p.unsigned("slot", 1<<32-1))
	if p.err != nil {
		return
	}
	if key >= m.MaxEntries {
		p.errorAt(p.pos(keyAt), "slot %d is past the end of %s (max %d)", key, m.Name, m.MaxEntries)
		return
	}
	if _, dup := m.Progs[key]; dup {
		p.errorAt(p.pos(keyAt), "slot %d of %s is already set", key, m.Name)
		return
	}
	p.skipSpace()
	nameAt := p.i
	name := p.field()
	if !isName(name) {
		p.errorf("expected program name after .slot %s %d, found %q", m.Name, key, name)
		return
	}
	if m.Progs == nil {
		m.Progs = make(map[uint32]string)
	}
	m.Progs[key] = string(name)
	p.slots = append(p.slots, pendingSlot{m: m, key: key, name: string(name), pos: p.pos(nameAt)})
}

func (p *parser) resolveSlots() {
	for _, s := range p.slots {
		if _, ok := p.progIdx[s.name]; !ok {
			p.errorAt(s.pos, "no program %q for slot %d of %s", s.name, s.key, s.m.Name)
			return
		}
	}
}

// rawDirective: ".raw hh hh hh hh hh hh hh hh" is one slot given as its 8
// bytes, as a conformance "-- raw" line; Format uses it for slots the
// pseudo-C cannot show exactly.
func (p *parser) rawDirective(col int) {
	var b [core.InsnSize]byte
	for n := range b {
		p.skipSpace()
		if p.i+1 >= len(p.buf) || !isHex(p.buf[p.i]) || !isHex(p.buf[p.i+1]) || p.i+2 < len(p.buf) && !isBlank(p.buf[p.i+2]) {
			p.errorf("expected 8 bytes as two hex digits each after .raw, found %s", p.found())
			return
		}
		v, _ := strconv.ParseUint(string(p.buf[p.i:p.i+2]), 16, 8)
		b[n] = byte(v)
		p.i += 2
	}
	ins := core.DecodeInsn(b[:])
	p.emit(col, &ins)
}
