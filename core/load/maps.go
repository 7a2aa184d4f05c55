package load

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"jitsim/core"
)

// mapTypes are the map types jitsim models; any other is an error naming
// the map.
var mapTypes = map[ebpf.MapType]core.MapType{
	ebpf.Hash:         core.MapHash,
	ebpf.Array:        core.MapArray,
	ebpf.ProgramArray: core.MapProgArray,
}

// isDataSection says whether name is a global data section, as cilium/ebpf
// and libbpf recognise them (.bss, .data*, .rodata*).
func isDataSection(name string) bool {
	return name == ".bss" || strings.HasPrefix(name, ".data") || strings.HasPrefix(name, ".rodata")
}

// maps converts the spec's maps in libbpf's creation order.
func (l *loader) maps() error {
	type keyed struct {
		name        string
		data        bool
		section     int
		off         uint64
		sectionName string
	}
	var list []keyed
	for name := range l.spec.Maps {
		k := keyed{name: name, data: isDataSection(name)}
		if k.data {
			k.section, k.sectionName = l.syms.section[name], name
		} else if at, ok := l.syms.obj[name]; ok {
			k.section, k.off, k.sectionName = at.section, at.off, at.name
		}
		list = append(list, k)
	}
	slices.SortFunc(list, func(a, b keyed) int {
		switch {
		case a.data != b.data:
			if a.data {
				return 1
			}
			return -1
		case a.section != b.section:
			return a.section - b.section
		case a.off != b.off:
			if a.off < b.off {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	l.mapIndex = make(map[string]int, len(list))
	for _, k := range list {
		ms := l.spec.Maps[k.name]
		pos := core.Pos{File: l.file, Section: k.sectionName, Insn: -1}
		m, err := l.convertMap(k.name, ms, pos)
		if err != nil {
			return err
		}
		if k.data {
			m.Section = k.name
			m.Vars = l.dataVars(k.name, ms)
		}
		l.mapIndex[k.name] = len(l.obj.Maps)
		l.obj.Maps = append(l.obj.Maps, m)
	}
	return nil
}

// convertMap converts one map declaration and its initial contents (prog
// array slots are filled in by progArrays once the programs are known).
func (l *loader) convertMap(name string, ms *ebpf.MapSpec, pos core.Pos) (*core.Map, error) {
	t, ok := mapTypes[ms.Type]
	if !ok {
		return nil, loadErrorf(pos, "map %s: type %s is %w (jitsim models array, hash and prog_array)", name, ms.Type, core.ErrUnsupported)
	}
	if ms.InnerMap != nil {
		return nil, loadErrorf(pos, "map %s: maps of maps are %w", name, core.ErrUnsupported)
	}
	m := &core.Map{
		Name:       name,
		Type:       t,
		KeySize:    ms.KeySize,
		ValueSize:  ms.ValueSize,
		MaxEntries: ms.MaxEntries,
		Flags:      ms.Flags,
		Pos:        pos,
	}
	if t == core.MapProgArray {
		return m, nil
	}
	for _, kv := range ms.Contents {
		key, err := contentBytes(kv.Key, m.KeySize)
		if err != nil {
			return nil, loadErrorf(pos, "map %s: initial key: %w", name, err)
		}
		val, err := contentBytes(kv.Value, m.ValueSize)
		if err != nil {
			return nil, loadErrorf(pos, "map %s: initial value: %w", name, err)
		}
		m.Entries = append(m.Entries, core.MapEntry{Key: key, Value: val})
	}
	return m, nil
}

// contentBytes encodes an initial key or value as cilium/ebpf's ELF reader
// hands them over: a uint32 index or the raw bytes of a data section.
func contentBytes(v any, size uint32) ([]byte, error) {
	var b []byte
	switch v := v.(type) {
	case uint32:
		b = binary.LittleEndian.AppendUint32(nil, v)
	case []byte:
		b = slices.Clone(v)
	default:
		return nil, fmt.Errorf("%T is not a key or value jitsim understands", v)
	}
	if uint32(len(b)) != size {
		return nil, fmt.Errorf("%d bytes, the map's size is %d", len(b), size)
	}
	return b, nil
}

// dataVars lists the variables of a global data section from its BTF
// Datasec (which also names static variables), else from cilium/ebpf's
// variable specs (global symbols only).
func (l *loader) dataVars(section string, ms *ebpf.MapSpec) []core.Var {
	var vars []core.Var
	if ds, ok := ms.Value.(*btf.Datasec); ok {
		for _, v := range ds.Vars {
			if name := v.Type.TypeName(); name != "" {
				vars = append(vars, core.Var{Name: name, Offset: v.Offset, Size: v.Size})
			}
		}
	} else {
		for _, vs := range l.spec.Variables {
			if vs.SectionName == section {
				vars = append(vars, core.Var{Name: vs.Name, Offset: vs.Offset, Size: uint32(len(vs.Value))})
			}
		}
	}
	slices.SortFunc(vars, func(a, b core.Var) int {
		if a.Offset != b.Offset {
			return int(a.Offset) - int(b.Offset)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return vars
}

// progArrays fills prog arrays' initial slots from their static .values
// initialisers, which name programs by function symbol.
func (l *loader) progArrays() error {
	progs := make(map[string]bool, len(l.obj.Progs))
	for _, p := range l.obj.Progs {
		progs[p.Name] = true
	}
	for _, m := range l.obj.Maps {
		if m.Type != core.MapProgArray {
			continue
		}
		for _, kv := range l.spec.Maps[m.Name].Contents {
			slot, ok := kv.Key.(uint32)
			name, ok2 := kv.Value.(string)
			if !ok || !ok2 {
				return loadErrorf(m.Pos, "map %s: initial slot %v = %v: want a slot number and a program name", m.Name, kv.Key, kv.Value)
			}
			if slot >= m.MaxEntries {
				return loadErrorf(m.Pos, "map %s: initial slot %d is past max_entries %d", m.Name, slot, m.MaxEntries)
			}
			if !progs[name] {
				return loadErrorf(m.Pos, "map %s: slot %d names %s, which is no program of the object (a subprogram cannot be a tail call target)", m.Name, slot, name)
			}
			if m.Progs == nil {
				m.Progs = make(map[uint32]string)
			}
			m.Progs[slot] = name
		}
	}
	return nil
}
