package core

import "slices"

// Stamp records what an object looked like when an engine built state from
// it (xlated programs, maps in guest memory, JITed images). Engines keep
// that state across runs of one object and must notice when the caller has
// changed the object in place since.
type Stamp struct {
	obj   *Object
	progs []*Program
	src   [][]Insn
	names []string
	types []ProgType
	maps  []*Map
	shape []mapShape
}

// mapShape is what of a map its guest layout depends on.
type mapShape struct {
	name                           string
	typ                            MapType
	keySize, valueSize, maxEntries uint32
	section                        string
}

func shapeOf(m *Map) mapShape {
	return mapShape{m.Name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries, m.Section}
}

// NewStamp records obj as it is now.
func NewStamp(obj *Object) Stamp {
	s := Stamp{obj: obj, progs: slices.Clone(obj.Progs), maps: slices.Clone(obj.Maps)}
	for _, p := range obj.Progs {
		s.src = append(s.src, slices.Clone(p.Insns))
		s.names = append(s.names, p.Name)
		s.types = append(s.types, p.Type)
	}
	for _, m := range obj.Maps {
		s.shape = append(s.shape, shapeOf(m))
	}
	return s
}

// Same reports whether obj is the stamped object, unchanged: the same
// programs with the same slots, names and types, and the same maps with
// the same shapes.
func (s *Stamp) Same(obj *Object) bool {
	if obj != s.obj || !slices.Equal(obj.Progs, s.progs) || !slices.Equal(obj.Maps, s.maps) {
		return false
	}
	for i, p := range obj.Progs {
		if !slices.Equal(p.Insns, s.src[i]) || p.Name != s.names[i] || p.Type != s.types[i] {
			return false
		}
	}
	for i, m := range obj.Maps {
		if shapeOf(m) != s.shape[i] {
			return false
		}
	}
	return true
}
