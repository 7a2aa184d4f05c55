package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"jitsim/core"
	"jitsim/core/maps"
	"jitsim/core/mem"
)

// slotSpec is one -set MAP[KEY]=PROG.
type slotSpec struct {
	m    string
	key  uint32
	prog string
}

func parseSlot(s string) (slotSpec, error) {
	lhs, prog, ok := strings.Cut(s, "=")
	open := strings.IndexByte(lhs, '[')
	if !ok || open <= 0 || !strings.HasSuffix(lhs, "]") || prog == "" {
		return slotSpec{}, fmt.Errorf("want MAP[KEY]=PROG")
	}
	key, err := strconv.ParseUint(lhs[open+1:len(lhs)-1], 0, 32)
	if err != nil {
		return slotSpec{}, fmt.Errorf("slot %q is not a number", lhs[open+1:len(lhs)-1])
	}
	return slotSpec{m: lhs[:open], key: uint32(key), prog: prog}, nil
}

// fillSlots puts the programs in their prog array slots as the object's
// initial contents, after what the object fills itself (an ELF object's
// static .values), as a loader fills slots from user space before the
// first run. Every engine then starts from them, and xlate checks them
// (bpf_prog_map_compatible) as it checks the object's own.
func fillSlots(obj *core.Object, slots []slotSpec) error {
	for _, s := range slots {
		mi := -1
		var names []string
		for i, m := range obj.Maps {
			if m.Type == core.MapProgArray {
				names = append(names, m.Name)
				if m.Name == s.m {
					mi = i
				}
			}
		}
		if mi < 0 {
			have := "the object has none"
			if len(names) > 0 {
				have = "prog arrays: " + strings.Join(names, ", ")
			}
			return fmt.Errorf("%s[%d]: no prog_array %q (%s)", s.m, s.key, s.m, have)
		}
		m := *obj.Maps[mi]
		if s.key >= m.MaxEntries {
			return fmt.Errorf("%s[%d]: slot %d is past max_entries %d", s.m, s.key, s.key, m.MaxEntries)
		}
		found := false
		for _, p := range obj.Progs {
			found = found || p.Name == s.prog
		}
		if !found {
			return fmt.Errorf("%s[%d]: no program %q (programs: %s)", s.m, s.key, s.prog, progNames(obj))
		}
		progs := make(map[uint32]string, len(m.Progs)+1)
		for k, v := range m.Progs {
			progs[k] = v
		}
		progs[s.key] = s.prog
		m.Progs = progs
		obj.Maps[mi] = &m
	}
	return nil
}

func progNames(obj *core.Object) string {
	var n []string
	for _, p := range obj.Progs {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}

// globalJSON is one C global variable after a run.
type globalJSON struct {
	Name  string  `json:"name"`
	Map   string  `json:"map"`
	Size  uint32  `json:"size"`
	Value *uint64 `json:"value,omitempty"` // for 1, 2, 4 and 8-byte variables
	Hex   string  `json:"hex"`
}

func (g globalJSON) text() string {
	if g.Value != nil {
		return strconv.FormatUint(*g.Value, 10)
	}
	return g.Hex
}

// mapJSON is one map's contents after a run.
type mapJSON struct {
	Name    string      `json:"name"`
	Type    string      `json:"type"`
	Entries []entryJSON `json:"entries"`
}

type entryJSON struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	Prog  string `json:"prog,omitempty"` // prog arrays
}

type state struct {
	globals []globalJSON
	maps    []mapJSON
}

// snapshot reads the globals and maps of obj as engine e holds them after
// a run (maps.Holder); an engine without maps gives none.
func snapshot(e core.Engine, obj *core.Object) (state, error) {
	st := state{globals: []globalJSON{}, maps: []mapJSON{}}
	h, ok := e.(maps.Holder)
	if !ok || len(obj.Maps) == 0 {
		return st, nil
	}
	set, err := h.Maps(obj)
	if err != nil {
		return st, err
	}
	for i, def := range obj.Maps {
		m := set.Map(i)
		mj := mapJSON{Name: def.Name, Type: def.Type.String(), Entries: []entryJSON{}}
		for _, en := range m.Entries() {
			ej := entryJSON{Key: hex.EncodeToString(en.Key)}
			if def.Type == core.MapProgArray {
				ej.Prog = obj.Progs[binary.LittleEndian.Uint32(en.Value)].Name
			} else {
				ej.Value = hex.EncodeToString(en.Value)
			}
			mj.Entries = append(mj.Entries, ej)
		}
		st.maps = append(st.maps, mj)
		if def.Section == "" {
			continue
		}
		val := m.Value(maps.Key(0))
		for _, v := range def.Vars {
			if uint64(v.Offset)+uint64(v.Size) > uint64(len(val)) {
				continue
			}
			b := val[v.Offset : v.Offset+v.Size]
			g := globalJSON{Name: v.Name, Map: def.Name, Size: v.Size, Hex: hex.EncodeToString(b)}
			switch v.Size {
			case 1, 2, 4, 8:
				n := mem.LoadLE(b, int(v.Size))
				g.Value = &n
			}
			st.globals = append(st.globals, g)
		}
	}
	return st, nil
}

// global returns the value of C global name, and whether there is one.
func (st state) global(name string) (uint64, bool) {
	for _, g := range st.globals {
		if g.Name == name && g.Value != nil {
			return *g.Value, true
		}
	}
	return 0, false
}

// tailCallJSON is one successful tail call.
type tailCallJSON struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Slot        uint32 `json:"slot"`
	Direct      bool   `json:"direct"`
	CountBefore uint32 `json:"count_before"`
	CountAfter  uint32 `json:"count_after"`
	Depth       int    `json:"depth"`
}

func traceJSON(evs []core.TailCallEvent) []tailCallJSON {
	out := make([]tailCallJSON, len(evs))
	for i, e := range evs {
		out[i] = tailCallJSON{e.From, e.To, e.Slot, e.Direct, e.CountBefore, e.CountAfter, e.Depth}
	}
	return out
}

// traceRun is consecutive tail calls that differ only in their count
// and, by a constant step, their depth: one line of a trace.
type traceRun struct {
	first, last core.TailCallEvent
	n           int
}

func collapse(evs []core.TailCallEvent) []traceRun {
	var runs []traceRun
	for _, e := range evs {
		if k := len(runs) - 1; k >= 0 {
			r := &runs[k]
			l := r.last
			step := l.Depth - r.first.Depth
			if r.n > 1 {
				step /= r.n - 1
			} else {
				step = e.Depth - l.Depth
			}
			if e.From == l.From && e.To == l.To && e.Slot == l.Slot && e.Direct == l.Direct &&
				e.CountBefore == l.CountAfter && (step == 0 || step == 1) && e.Depth-l.Depth == step {
				r.last = e
				r.n++
				continue
			}
		}
		runs = append(runs, traceRun{first: e, last: e, n: 1})
	}
	return runs
}

// writeTrace prints the tail calls of a run that started in entry as a
// tree: each call indented by the call depth of the frame that made it
// (0: the entry program's own frame), repeated calls on one line.
func writeTrace(w io.Writer, entry string, evs []core.TailCallEvent) {
	fmt.Fprintf(w, "tail calls: %d\n%s\n", len(evs), entry)
	for _, r := range collapse(evs) {
		f := r.first
		kind := "indirect"
		if f.Direct {
			kind = "direct"
		}
		depth := strconv.Itoa(f.Depth)
		if r.last.Depth != f.Depth {
			depth += ".." + strconv.Itoa(r.last.Depth)
		}
		times := ""
		if r.n > 1 {
			times = fmt.Sprintf("  (%d calls)", r.n)
		}
		fmt.Fprintf(w, "%s└─ %s -> %s  slot %d, %s, depth %s, count %d -> %d%s\n",
			strings.Repeat("   ", f.Depth), f.From, f.To, f.Slot, kind, depth, f.CountBefore, r.last.CountAfter, times)
	}
}
