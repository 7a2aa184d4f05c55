// Package maps puts an object's maps into the guest address space as the
// kernel's own objects, so that every engine reads the same bytes at the
// same addresses: JITed tail-call code loads map.max_entries and ptrs[]
// from a struct bpf_array and bpf_func from a struct bpf_prog at the
// offsets in core/kabi, the helpers find a map by the pointer a program
// passes, and a program reading a global reads the .bss map's value.
//
// The layout is a pure function of the object (Plan), so xlate can turn
// map references into addresses before any engine has built the maps, and
// every engine that builds them (New) puts them at those addresses.
//
//	mem.MapBase       map objects in declaration order (not global data)
//	ProgBase          one struct bpf_prog per program of the object
//	mem.GlobalBase    global data sections (.data, .bss, .rodata)
//
// Each map object starts on its own page and is followed by an unmapped
// page, so an access that runs off a map's end faults instead of landing
// in the next map.
package maps

import (
	"fmt"
	"slices"

	"jitsim/core"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// Where the objects go. ProgBase is in the map area mem documents, far
// enough above MapBase for MapAreaSize bytes of maps.
const (
	MapAreaSize    = 0x0800_0000 // 128 MiB of map objects
	ProgBase       = mem.MapBase + MapAreaSize
	GlobalAreaSize = 0x1000_0000
	// guardSize is the unmapped gap after every map object.
	guardSize = mem.PageSize
)

// InterpFuncBase is where the interpreter's synthetic bpf_func values
// start (one page per program). The kernel's interpreted programs share
// one bpf_func (an interpreters[] entry) and a tail call finds the target
// through prog->insnsi instead; a distinct value per program keeps dumps
// readable and never collides with a JIT image (mem.X86CodeBase and up).
const InterpFuncBase = 0xffffffffa0000000

// Offsets of struct bpf_map fields in the same kernel configuration as
// kabi's (v5.19 arm64, CONFIG_SECURITY on: ops, inner_map_meta, security,
// then map_type). Only max_entries is read by JITed code; the others are
// written so a dump of a map object reads like the kernel's.
const (
	MapTypeOff       = kabi.ArrayMaxEntriesOff - 0xc
	MapKeySizeOff    = kabi.ArrayMaxEntriesOff - 0x8
	MapValueSizeOff  = kabi.ArrayMaxEntriesOff - 0x4
	MapFlagsOff      = kabi.ArrayMaxEntriesOff + 0xc
	ArrayElemSizeOff = kabi.ArrayPtrsOff - 0x10 // struct bpf_array.elem_size
	ArrayIndexMask   = kabi.ArrayPtrsOff - 0xc  // struct bpf_array.index_mask
)

// HashElemOff is where a hash map's elements start in its object (after a
// header laid out like struct bpf_array's, so max_entries reads the same).
// Each element is an 8-byte header (u32 1 while the element exists), the
// key rounded up to 8 bytes, then the value rounded up to 8 bytes. This is
// jitsim's own layout: the kernel's htab elements live in separately
// allocated memory, which programs never see except through a lookup's
// value pointer.
const HashElemOff = kabi.ArrayPtrsOff

// maxMapBytes bounds one map object, so a huge max_entries is an error
// rather than an mmap failure deep inside a run.
const maxMapBytes = 64 << 20

// Layout says where each map object and each program's struct bpf_prog
// are.
type Layout struct {
	Maps []Placement // by index in core.Object.Maps
	// Progs[i] is the address of program i's struct bpf_prog (what a prog
	// array slot holds when it holds program i).
	Progs []uint64
}

// Placement is one map object.
type Placement struct {
	// Addr is the map object's address: what ld_imm64 of the map becomes
	// and what a program passes to the map helpers and bpf_tail_call.
	Addr uint64
	// Size is the object's size in bytes (before rounding to pages).
	Size int
	// ElemSize is the kernel's elem_size: value_size rounded up to 8 for
	// arrays, 8 (a pointer) for prog arrays, the element stride for hash
	// maps.
	ElemSize uint32
	// Values is where the value of element 0 is: Addr+kabi.ArrayValueOff
	// for arrays (ld_imm64 of a map value is Values+offset), the ptrs[]
	// array for prog arrays, the first element's value for hash maps.
	Values uint64
}

// Plan lays out obj's maps and program objects and checks what a load
// would: map shapes, initial contents, prog array slots naming programs of
// a type the map accepts (bpf_prog_map_compatible). Errors are
// *core.Error with Op "xlate".
func Plan(obj *core.Object) (*Layout, error) {
	if obj == nil {
		return nil, core.Errorf(core.NoInsn, "xlate", "no object")
	}
	l := &Layout{Maps: make([]Placement, len(obj.Maps)), Progs: make([]uint64, len(obj.Progs))}
	next := [2]uint64{mem.MapBase, mem.GlobalBase}
	limit := [2]uint64{mem.MapBase + MapAreaSize, mem.GlobalBase + GlobalAreaSize}
	for i, m := range obj.Maps {
		if err := checkMap(obj, m); err != nil {
			return nil, err
		}
		pl := Placement{}
		switch m.Type {
		case core.MapArray:
			pl.ElemSize = roundUp8(m.ValueSize)
			pl.Size = kabi.ArrayValueOff + int(m.MaxEntries)*int(pl.ElemSize)
		case core.MapProgArray:
			pl.ElemSize = 8
			pl.Size = kabi.ArrayPtrsOff + int(m.MaxEntries)*8
		case core.MapHash:
			pl.ElemSize = 8 + roundUp8(m.KeySize) + roundUp8(m.ValueSize)
			pl.Size = HashElemOff + int(m.MaxEntries)*int(pl.ElemSize)
		}
		if pl.Size > maxMapBytes {
			return nil, mapError(obj, m, "needs %d bytes of guest memory, more than jitsim's limit of %d", pl.Size, maxMapBytes)
		}
		area := 0
		if m.Section != "" {
			area = 1
		}
		pl.Addr = next[area]
		next[area] += uint64(mem.RoundUp(pl.Size)) + guardSize
		if next[area] > limit[area] {
			return nil, mapError(obj, m, "does not fit in the %d MiB jitsim gives maps", (limit[area]-pl.Addr)>>20)
		}
		switch m.Type {
		case core.MapHash:
			pl.Values = pl.Addr + HashElemOff + 8 + uint64(roundUp8(m.KeySize))
		default:
			pl.Values = pl.Addr + kabi.ArrayValueOff
		}
		l.Maps[i] = pl
	}
	if len(obj.Progs)*kabi.ProgObjSize > MapAreaSize {
		return nil, core.Errorf(core.Pos{File: obj.File, Insn: -1}, "xlate", "%d programs is more than jitsim lays out", len(obj.Progs))
	}
	for i := range obj.Progs {
		l.Progs[i] = ProgBase + uint64(i)*kabi.ProgObjSize
	}
	if err := checkProgArrays(obj); err != nil {
		return nil, err
	}
	return l, nil
}

// MapAt returns the index of the map whose object starts at addr.
func (l *Layout) MapAt(addr uint64) (int, bool) {
	for i, pl := range l.Maps {
		if pl.Addr == addr {
			return i, true
		}
	}
	return 0, false
}

// ProgAt returns the index of the program whose struct bpf_prog is at addr.
func (l *Layout) ProgAt(addr uint64) (int, bool) {
	if addr < ProgBase || (addr-ProgBase)%kabi.ProgObjSize != 0 {
		return 0, false
	}
	i := (addr - ProgBase) / kabi.ProgObjSize
	if i >= uint64(len(l.Progs)) {
		return 0, false
	}
	return int(i), true
}

// ValueAddr is the address ld_imm64 of map m's value at offset off
// becomes (BPF_PSEUDO_MAP_VALUE: array_map_direct_value_addr).
func (l *Layout) ValueAddr(m int, off uint32) uint64 { return l.Maps[m].Values + uint64(off) }

func roundUp8(n uint32) uint32 { return (n + 7) &^ 7 }

func mapError(obj *core.Object, m *core.Map, format string, args ...any) *core.Error {
	pos := m.Pos
	if pos.File == "" && pos.Line == 0 {
		pos = core.Pos{File: obj.File}
	}
	pos.Insn = -1
	return core.Errorf(pos, "xlate", "map %s: "+format, append([]any{m.Name}, args...)...)
}

// checkMap checks one map's shape and initial contents the way
// map_alloc_check and map_update_elem would.
func checkMap(obj *core.Object, m *core.Map) error {
	if m == nil {
		return core.Errorf(core.Pos{File: obj.File, Insn: -1}, "xlate", "nil map")
	}
	if m.MaxEntries == 0 {
		return mapError(obj, m, "max_entries is 0")
	}
	switch m.Type {
	case core.MapArray:
		if m.KeySize != 4 || m.ValueSize == 0 {
			return mapError(obj, m, "an array needs key_size 4 and a value, has key %d value %d", m.KeySize, m.ValueSize)
		}
	case core.MapProgArray:
		if m.KeySize != 4 || m.ValueSize != 4 {
			return mapError(obj, m, "a prog_array needs key_size 4 and value_size 4, has %d and %d", m.KeySize, m.ValueSize)
		}
		if m.Section != "" {
			return mapError(obj, m, "a prog_array cannot hold global data (%s)", m.Section)
		}
	case core.MapHash:
		if m.KeySize == 0 || m.ValueSize == 0 {
			return mapError(obj, m, "a hash map needs a key and a value, has key %d value %d", m.KeySize, m.ValueSize)
		}
		if m.Section != "" {
			return mapError(obj, m, "a hash map cannot hold global data (%s)", m.Section)
		}
		if len(m.Entries) > int(m.MaxEntries) {
			return mapError(obj, m, "%d initial entries, max_entries %d", len(m.Entries), m.MaxEntries)
		}
	default:
		return mapError(obj, m, "type %v: %w", m.Type, core.ErrUnsupported)
	}
	if m.Section != "" && m.MaxEntries != 1 {
		return mapError(obj, m, "global data section %s is a single-entry array, has max_entries %d", m.Section, m.MaxEntries)
	}
	if m.Type == core.MapProgArray {
		if len(m.Entries) > 0 {
			return mapError(obj, m, "prog_array entries are programs (slots), not values")
		}
		for key := range m.Progs {
			if key >= m.MaxEntries {
				return mapError(obj, m, "slot %d is past max_entries %d", key, m.MaxEntries)
			}
		}
		return nil
	}
	if len(m.Progs) > 0 {
		return mapError(obj, m, "only a prog_array holds programs")
	}
	seen := map[string]bool{}
	for _, e := range m.Entries {
		if len(e.Key) != int(m.KeySize) || len(e.Value) != int(m.ValueSize) {
			return mapError(obj, m, "an entry has a %d-byte key and %d-byte value, the map %d and %d", len(e.Key), len(e.Value), m.KeySize, m.ValueSize)
		}
		if m.Type == core.MapArray {
			if k := le32(e.Key); k >= m.MaxEntries {
				return mapError(obj, m, "key %d is past max_entries %d", k, m.MaxEntries)
			}
		}
		if seen[string(e.Key)] {
			return mapError(obj, m, "key %x is given twice", e.Key)
		}
		seen[string(e.Key)] = true
	}
	return nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// checkProgArrays is bpf_prog_map_compatible for every prog array: the
// first program that uses the map (loading a program that references it,
// bpf_check_tail_call; or being put in a slot, prog_fd_array_get_ptr) fixes
// its owner type, and every other user and every slot's program must have
// that type. Programs load before libbpf fills the slots, so a referencing
// program is the owner when there is one.
func checkProgArrays(obj *core.Object) error {
	progIdx := make(map[string]int, len(obj.Progs))
	for i, p := range obj.Progs {
		if p == nil {
			return core.Errorf(core.Pos{File: obj.File, Insn: -1}, "xlate", "program %d is nil", i)
		}
		if _, dup := progIdx[p.Name]; !dup {
			progIdx[p.Name] = i
		}
	}
	for mi, m := range obj.Maps {
		if m.Type != core.MapProgArray {
			continue
		}
		owner, ownerInsn := -1, -1
		for pi, p := range obj.Progs {
			i := firstRef(p, mi)
			if i < 0 {
				continue
			}
			if owner < 0 {
				owner, ownerInsn = pi, i
				continue
			}
			if o := obj.Progs[owner]; o.Type != p.Type {
				return p.Errorf(i, "xlate", "prog_array %s is used by %s, a %s program; %s is %s (bpf_prog_map_compatible: one program type per prog_array)",
					m.Name, o.Name, progTypeName(o.Type), p.Name, progTypeName(p.Type))
			}
		}
		keys := make([]uint32, 0, len(m.Progs))
		for k := range m.Progs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			name := m.Progs[k]
			pi, ok := progIdx[name]
			if !ok {
				return mapError(obj, m, "slot %d names program %q, which the object does not have", k, name)
			}
			if owner < 0 {
				owner = pi
				continue
			}
			if o, p := obj.Progs[owner], obj.Progs[pi]; o.Type != p.Type {
				if ownerInsn >= 0 {
					return o.Errorf(ownerInsn, "xlate", "prog_array %s: slot %d holds %s, a %s program, but %s, a %s program, tail-calls through it (bpf_prog_map_compatible)",
						m.Name, k, p.Name, progTypeName(p.Type), o.Name, progTypeName(o.Type))
				}
				return mapError(obj, m, "slot %d holds %s, a %s program, but another slot holds %s, a %s program (bpf_prog_map_compatible)",
					k, p.Name, progTypeName(p.Type), o.Name, progTypeName(o.Type))
			}
		}
	}
	return nil
}

// firstRef returns the first slot of p whose ld_imm64 loads map m, or -1.
func firstRef(p *core.Program, m int) int {
	for i := 0; i < len(p.Insns); i++ {
		ins := p.Insns[i]
		if !ins.IsLdImm64() {
			continue
		}
		if (ins.Src == core.PseudoMapFD || ins.Src == core.PseudoMapValue) && uint32(ins.Imm) == uint32(m) {
			return i
		}
		i++
	}
	return -1
}

func progTypeName(t core.ProgType) string {
	switch t {
	case core.ProgTypeUnspec:
		return "unspec"
	case core.ProgTypeSocketFilter:
		return "socket_filter"
	case core.ProgTypeSchedCLS:
		return "sched_cls"
	case core.ProgTypeSchedAct:
		return "sched_act"
	case core.ProgTypeXDP:
		return "xdp"
	}
	return fmt.Sprintf("type %d", t)
}
