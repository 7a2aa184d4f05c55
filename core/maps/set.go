package maps

import (
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"

	"jitsim/core"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// Set is one object's maps and program objects in one guest address
// space: what an engine builds once per object and keeps across runs.
// Programs see the maps through guest memory; Go code (helpers, tests, the
// conformance runner, the simulator patching direct tail calls) goes
// through the methods here, which keep guest memory and the Go-side hash
// indexes in step. A Set is not safe for concurrent use.
type Set struct {
	obj    *core.Object
	lay    *Layout
	space  *mem.Space
	maps   []*Map
	byAddr map[uint64]*Map
	progs  *mem.Region // the struct bpf_prog objects
	// onSlot, when set, hears of every prog array slot change.
	onSlot func(m int, key uint32, prog int)
}

// Map is one map of a Set.
type Map struct {
	Index int
	Def   *core.Map
	Place Placement
	// Data is the map object's bytes (the region holding it, from Addr).
	Data []byte
	reg  *mem.Region
	set  *Set
	// hash maps: element index by key, and the free elements (a stack,
	// popped from the end; the kernel's prealloc freelist hands elements
	// out the same way).
	index map[string]uint32
	free  []uint32
}

// Holder is an engine that keeps an object's maps in its guest memory
// between runs. Maps returns the Set for obj, building it (and dropping
// the previous object's) when obj is not the one loaded.
type Holder interface {
	Maps(obj *core.Object) (*Set, error)
}

// New lays out obj's maps (Plan), maps their regions into space and fills
// them with the initial contents. The program objects' bpf_func fields
// are zero until the engine sets them (SetBpfFunc).
func New(space *mem.Space, obj *core.Object) (*Set, error) {
	lay, err := Plan(obj)
	if err != nil {
		return nil, err
	}
	s := &Set{obj: obj, lay: lay, space: space, byAddr: make(map[uint64]*Map, len(obj.Maps))}
	for i, def := range obj.Maps {
		pl := lay.Maps[i]
		prot := mem.Read | mem.Write
		if def.Type == core.MapProgArray || def.Section == ".rodata" {
			// Programs never store into a prog array, and .rodata is
			// frozen (BPF_F_RDONLY_PROG) before programs load.
			prot = mem.Read
		}
		reg, err := space.Map("map:"+def.Name, pl.Addr, pl.Size, prot)
		if err != nil {
			s.Close()
			return nil, core.Errorf(core.Pos{File: obj.File, Insn: -1}, "xlate", "%v", err)
		}
		m := &Map{Index: i, Def: def, Place: pl, Data: reg.Data, reg: reg, set: s}
		s.maps = append(s.maps, m)
		s.byAddr[pl.Addr] = m
	}
	if n := len(obj.Progs); n > 0 {
		reg, err := space.Map("bpf_prog", ProgBase, n*kabi.ProgObjSize, mem.Read)
		if err != nil {
			s.Close()
			return nil, core.Errorf(core.Pos{File: obj.File, Insn: -1}, "xlate", "%v", err)
		}
		s.progs = reg
	}
	s.Reset()
	return s, nil
}

// Close unmaps the Set's regions.
func (s *Set) Close() error {
	var first error
	for _, m := range s.maps {
		if m.reg != nil {
			if err := s.space.Unmap(m.reg); err != nil && first == nil {
				first = err
			}
			m.reg, m.Data = nil, nil
		}
	}
	if s.progs != nil {
		if err := s.space.Unmap(s.progs); err != nil && first == nil {
			first = err
		}
		s.progs = nil
	}
	return first
}

// Object is the object the Set was built from.
func (s *Set) Object() *core.Object { return s.obj }

// Layout is where everything is.
func (s *Set) Layout() *Layout { return s.lay }

// Regions lists the guest regions the Set mapped, for a simulator that
// maps the same host bytes into its CPU's address space.
func (s *Set) Regions() []*mem.Region {
	var out []*mem.Region
	for _, m := range s.maps {
		out = append(out, m.reg)
	}
	if s.progs != nil {
		out = append(out, s.progs)
	}
	return out
}

// Len is the number of maps.
func (s *Set) Len() int { return len(s.maps) }

// Map returns map i (its index in core.Object.Maps).
func (s *Set) Map(i int) *Map { return s.maps[i] }

// Lookup finds a map by name.
func (s *Set) Lookup(name string) (*Map, bool) {
	for _, m := range s.maps {
		if m.Def.Name == name {
			return m, true
		}
	}
	return nil, false
}

// MapAt returns the map whose object is at addr: what a program passes to
// a map helper or bpf_tail_call.
func (s *Set) MapAt(addr uint64) (*Map, bool) {
	m, ok := s.byAddr[addr]
	return m, ok
}

// ProgAddr is the address of program i's struct bpf_prog.
func (s *Set) ProgAddr(i int) uint64 { return s.lay.Progs[i] }

// ProgAt returns the program whose struct bpf_prog is at addr.
func (s *Set) ProgAt(addr uint64) (int, bool) { return s.lay.ProgAt(addr) }

// SetBpfFunc writes program i's bpf_func: the address its code starts at
// (a JIT engine's image address; the interpreter's synthetic address).
// JITed tail calls jump to bpf_func plus the arch's tail call offset.
func (s *Set) SetBpfFunc(i int, addr uint64) {
	off := i*kabi.ProgObjSize + kabi.ProgBpfFuncOff
	binary.LittleEndian.PutUint64(s.progs.Data[off:], addr)
}

// BpfFunc reads program i's bpf_func.
func (s *Set) BpfFunc(i int) uint64 {
	return binary.LittleEndian.Uint64(s.progs.Data[i*kabi.ProgObjSize+kabi.ProgBpfFuncOff:])
}

// OnSlot registers f to hear of every prog array slot change, made by
// SetSlot, ClearSlot or Reset: map index, slot, and the program now there
// (-1: empty). It is the kernel's prog_array_map_poke_run, which patches
// direct tail calls (bpf_arch_poke_desc_update); a JIT engine patches its
// images there. Reset reports only slots whose content changed.
func (s *Set) OnSlot(f func(m int, key uint32, prog int)) { s.onSlot = f }

// Reset puts every map back to the object's initial contents: arrays and
// global sections zeroed then filled from core.Map.Entries, hash maps
// emptied then filled, prog array slots from core.Map.Progs. bpf_func
// values stay: they belong to the engine's code, not to the maps.
func (s *Set) Reset() {
	progIdx := make(map[string]int, len(s.obj.Progs))
	for i := len(s.obj.Progs) - 1; i >= 0; i-- {
		progIdx[s.obj.Progs[i].Name] = i
	}
	for _, m := range s.maps {
		switch m.Def.Type {
		case core.MapProgArray:
			for k := uint32(0); k < m.Def.MaxEntries; k++ {
				want, word := -1, uint64(0)
				if name, ok := m.Def.Progs[k]; ok {
					want = progIdx[name] // Plan checked the name exists
					word = s.lay.Progs[want]
				}
				if m.slotWord(k) != word {
					s.writeSlot(m, k, want)
				}
			}
			m.writeHeader()
			continue
		case core.MapHash:
			clear(m.Data)
			m.writeHeader()
			m.index = make(map[string]uint32, len(m.Def.Entries))
			m.free = m.free[:0]
			for e := m.Def.MaxEntries; e > 0; e-- {
				m.free = append(m.free, e-1)
			}
			for _, e := range m.Def.Entries {
				m.update(e.Key, e.Value, kabi.BPFAny) // Plan checked sizes and count
			}
		default:
			clear(m.Data)
			m.writeHeader()
			for _, e := range m.Def.Entries {
				copy(m.value(le32(e.Key)), e.Value)
			}
		}
	}
}

// writeHeader fills the struct bpf_map / bpf_array fields a dump shows.
func (m *Map) writeHeader() {
	d := m.Data
	binary.LittleEndian.PutUint32(d[MapTypeOff:], uint32(m.Def.Type))
	binary.LittleEndian.PutUint32(d[MapKeySizeOff:], m.Def.KeySize)
	binary.LittleEndian.PutUint32(d[MapValueSizeOff:], m.Def.ValueSize)
	binary.LittleEndian.PutUint32(d[kabi.ArrayMaxEntriesOff:], m.Def.MaxEntries)
	binary.LittleEndian.PutUint32(d[MapFlagsOff:], m.Def.Flags)
	if m.Def.Type != core.MapHash {
		binary.LittleEndian.PutUint32(d[ArrayElemSizeOff:], m.Place.ElemSize)
		// index_mask = roundup_pow_of_two(max_entries) - 1, used by the
		// kernel's Spectre v1 masking of array accesses.
		mask := uint32(1)
		for mask < m.Def.MaxEntries {
			mask <<= 1
		}
		binary.LittleEndian.PutUint32(d[ArrayIndexMask:], mask-1)
	}
}

// Addr is the map object's guest address.
func (m *Map) Addr() uint64 { return m.Place.Addr }

// value returns the bytes of array element k.
func (m *Map) value(k uint32) []byte {
	off := kabi.ArrayValueOff + int(k)*int(m.Place.ElemSize)
	return m.Data[off : off+int(m.Def.ValueSize) : off+int(m.Def.ValueSize)]
}

// elem returns hash element e's key and value bytes.
func (m *Map) elem(e uint32) (hdr, key, value []byte) {
	off := HashElemOff + int(e)*int(m.Place.ElemSize)
	koff := off + 8
	voff := koff + int(roundUp8(m.Def.KeySize))
	return m.Data[off : off+8], m.Data[koff : koff+int(m.Def.KeySize)], m.Data[voff : voff+int(m.Def.ValueSize)]
}

func (m *Map) elemAddr(e uint32) uint64 {
	return m.Place.Addr + HashElemOff + uint64(e)*uint64(m.Place.ElemSize) + 8 + uint64(roundUp8(m.Def.KeySize))
}

// Errors of the map operations: the kernel's errnos, which helpers return
// negated in r0.
var (
	ENOENT = syscall.ENOENT
	EEXIST = syscall.EEXIST
	E2BIG  = syscall.E2BIG
	EINVAL = syscall.EINVAL
)

// LookupAddr is bpf_map_lookup_elem: the guest address of key's value, or
// 0 when there is none. A prog array has no values a program may see (the
// verifier lets only bpf_tail_call have one); it gives 0.
func (m *Map) LookupAddr(key []byte) uint64 {
	if len(key) != int(m.Def.KeySize) {
		return 0
	}
	switch m.Def.Type {
	case core.MapArray:
		k := le32(key)
		if k >= m.Def.MaxEntries {
			return 0
		}
		return m.Place.Values + uint64(k)*uint64(m.Place.ElemSize)
	case core.MapHash:
		if e, ok := m.index[string(key)]; ok {
			return m.elemAddr(e)
		}
	}
	return 0
}

// Value returns the live bytes of key's value (nil when there is none):
// for reading results and writing globals from Go.
func (m *Map) Value(key []byte) []byte {
	if len(key) != int(m.Def.KeySize) {
		return nil
	}
	switch m.Def.Type {
	case core.MapArray:
		if k := le32(key); k < m.Def.MaxEntries {
			return m.value(k)
		}
	case core.MapHash:
		if e, ok := m.index[string(key)]; ok {
			_, _, v := m.elem(e)
			return v
		}
	}
	return nil
}

// Key builds a 4-byte array key.
func Key(k uint32) []byte { return binary.LittleEndian.AppendUint32(nil, k) }

// Update is bpf_map_update_elem on an array or hash map, with the
// kernel's flags and errors: BPF_ANY, BPF_NOEXIST (-EEXIST when the key
// exists: always for an array), BPF_EXIST (-ENOENT when it does not),
// -E2BIG for an array index past the end or a full hash map, -EINVAL for
// unknown flags and for prog arrays (whose slots hold programs: SetSlot).
func (m *Map) Update(key, value []byte, flags uint64) error {
	if len(key) != int(m.Def.KeySize) || len(value) != int(m.Def.ValueSize) {
		return EINVAL
	}
	return m.update(key, value, flags)
}

func (m *Map) update(key, value []byte, flags uint64) error {
	if flags > kabi.BPFExist {
		return EINVAL // BPF_F_LOCK needs a bpf_spin_lock in the value: none here
	}
	switch m.Def.Type {
	case core.MapArray:
		// array_map_update_elem checks the index before the flags.
		k := le32(key)
		if k >= m.Def.MaxEntries {
			return E2BIG
		}
		if flags == kabi.BPFNoExist {
			return EEXIST
		}
		copy(m.value(k), value)
		return nil
	case core.MapHash:
		e, ok := m.index[string(key)]
		switch {
		case ok && flags == kabi.BPFNoExist:
			return EEXIST
		case !ok && flags == kabi.BPFExist:
			return ENOENT
		case ok:
			// The kernel links a fresh element and frees the old one after
			// an RCU grace period, so a value pointer taken before goes
			// stale; here the element is rewritten in place and the
			// pointer stays valid.
			_, _, v := m.elem(e)
			copy(v, value)
			return nil
		}
		if len(m.free) == 0 {
			return E2BIG
		}
		e = m.free[len(m.free)-1]
		m.free = m.free[:len(m.free)-1]
		hdr, k, v := m.elem(e)
		binary.LittleEndian.PutUint32(hdr, 1)
		copy(k, key)
		copy(v, value)
		m.index[string(key)] = e
		return nil
	}
	return EINVAL
}

// Delete is bpf_map_delete_elem: -ENOENT for a missing hash key, -EINVAL
// for arrays (array_map_delete_elem: elements cannot be deleted) and for
// prog arrays (ClearSlot).
func (m *Map) Delete(key []byte) error {
	if m.Def.Type != core.MapHash {
		return EINVAL
	}
	if len(key) != int(m.Def.KeySize) {
		return EINVAL
	}
	e, ok := m.index[string(key)]
	if !ok {
		return ENOENT
	}
	delete(m.index, string(key))
	hdr, k, v := m.elem(e)
	clear(hdr)
	clear(k)
	clear(v)
	m.free = append(m.free, e)
	return nil
}

// Entry is one key and value of a map's contents.
type Entry struct {
	Key, Value []byte
}

// Entries lists the map's contents: every element of an array, the
// existing keys of a hash map in byte order. Prog arrays list slots that
// hold a program, the value being the program index as a u32.
func (m *Map) Entries() []Entry {
	var out []Entry
	switch m.Def.Type {
	case core.MapArray:
		for k := uint32(0); k < m.Def.MaxEntries; k++ {
			out = append(out, Entry{Key(k), slices.Clone(m.value(k))})
		}
	case core.MapHash:
		for key, e := range m.index {
			_, _, v := m.elem(e)
			out = append(out, Entry{[]byte(key), slices.Clone(v)})
		}
		slices.SortFunc(out, func(a, b Entry) int { return compareBytes(a.Key, b.Key) })
	case core.MapProgArray:
		for k := uint32(0); k < m.Def.MaxEntries; k++ {
			if p, ok := m.Slot(k); ok {
				out = append(out, Entry{Key(k), Key(uint32(p))})
			}
		}
	}
	return out
}

func compareBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

func (m *Map) slotWord(k uint32) uint64 {
	return binary.LittleEndian.Uint64(m.Data[kabi.ArrayPtrsOff+8*int(k):])
}

// Slot returns the program in prog array slot k.
func (m *Map) Slot(k uint32) (int, bool) {
	if m.Def.Type != core.MapProgArray || k >= m.Def.MaxEntries {
		return -1, false
	}
	p, ok := m.set.lay.ProgAt(m.slotWord(k))
	if !ok {
		return -1, false
	}
	return p, true
}

// SetSlot puts program prog in slot k of prog array m, as a
// BPF_MAP_UPDATE_ELEM with a program fd does: -E2BIG past the end,
// -EINVAL when the program's type is not the map's (the owner is the
// first program that references the map, else the first slot's).
func (s *Set) SetSlot(m int, k uint32, prog int) error {
	mp := s.maps[m]
	if mp.Def.Type != core.MapProgArray || prog < 0 || prog >= len(s.obj.Progs) {
		return EINVAL
	}
	if k >= mp.Def.MaxEntries {
		return E2BIG
	}
	if owner, ok := s.owner(m); ok && s.obj.Progs[owner].Type != s.obj.Progs[prog].Type {
		return EINVAL
	}
	s.writeSlot(mp, k, prog)
	return nil
}

// ClearSlot empties slot k of prog array m (BPF_MAP_DELETE_ELEM):
// -E2BIG past the end, -ENOENT when the slot is already empty
// (fd_array_map_delete_elem).
func (s *Set) ClearSlot(m int, k uint32) error {
	mp := s.maps[m]
	if mp.Def.Type != core.MapProgArray {
		return EINVAL
	}
	if k >= mp.Def.MaxEntries {
		return E2BIG
	}
	if mp.slotWord(k) == 0 {
		return ENOENT
	}
	s.writeSlot(mp, k, -1)
	return nil
}

func (s *Set) writeSlot(m *Map, k uint32, prog int) {
	var v uint64
	if prog >= 0 {
		v = s.lay.Progs[prog]
	}
	binary.LittleEndian.PutUint64(m.Data[kabi.ArrayPtrsOff+8*int(k):], v)
	if s.onSlot != nil {
		s.onSlot(m.Index, k, prog)
	}
}

// owner is the program whose type the prog array accepts.
func (s *Set) owner(m int) (int, bool) {
	for i, p := range s.obj.Progs {
		if firstRef(p, m) >= 0 {
			return i, true
		}
	}
	mp := s.maps[m]
	for k := uint32(0); k < mp.Def.MaxEntries; k++ {
		if p, ok := mp.Slot(k); ok {
			return p, true
		}
	}
	return 0, false
}

// Snapshot copies every map object's bytes, for comparing what two engines
// left behind. Addresses inside (prog array slots) are the same on every
// engine; bpf_func, which is not, lives in the program objects and is left
// out.
func (s *Set) Snapshot() [][]byte {
	out := make([][]byte, len(s.maps))
	for i, m := range s.maps {
		out[i] = slices.Clone(m.Data[:m.Place.Size])
	}
	return out
}

// Uint reads the value of key 0 of a map (a global variable's map, a
// counter) as a little-endian number of the value's size: 1, 2, 4 or 8
// bytes.
func (m *Map) Uint() (uint64, error) {
	if m.Def.Type == core.MapProgArray {
		return 0, fmt.Errorf("map %s is a prog_array, it has no values", m.Def.Name)
	}
	v := m.Value(make([]byte, m.Def.KeySize))
	if v == nil {
		return 0, fmt.Errorf("map %s has no element with key 0", m.Def.Name)
	}
	switch len(v) {
	case 1, 2, 4, 8:
		return mem.LoadLE(v, len(v)), nil
	}
	return 0, fmt.Errorf("map %s has %d-byte values, not a number", m.Def.Name, len(v))
}
