package load_test

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"jitsim/core"
)

var progTypeNames = map[core.ProgType]string{
	core.ProgTypeUnspec:       "unspec",
	core.ProgTypeSocketFilter: "socket_filter",
	core.ProgTypeSchedCLS:     "sched_cls",
	core.ProgTypeSchedAct:     "sched_act",
	core.ProgTypeXDP:          "xdp",
}

// describeProg renders what the example tables pin of a program: name,
// type, section, slot count and function entries.
func describeProg(p *core.Program) string {
	var b strings.Builder
	sec := ""
	if len(p.SlotPos) > 0 {
		sec = p.OriginOf(0).Section
	}
	fmt.Fprintf(&b, "%s %s sec %s slots %d funcs", p.Name, progTypeNames[p.Type], sec, len(p.Insns))
	for _, s := range p.Symbols {
		if s.Func {
			fmt.Fprintf(&b, " %s@%d", s.Name, s.Insn)
		}
	}
	return b.String()
}

// describeMap renders a map declaration with its initial state.
func describeMap(m *core.Map) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s key %d value %d max %d", m.Name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries)
	if m.Flags != 0 {
		fmt.Fprintf(&b, " flags %#x", m.Flags)
	}
	if len(m.Progs) > 0 {
		b.WriteString(" progs")
		for _, k := range slices.Sorted(mapsKeys(m.Progs)) {
			fmt.Fprintf(&b, " %d=%s", k, m.Progs[k])
		}
	}
	for _, v := range m.Vars {
		fmt.Fprintf(&b, " var %s@%d+%d", v.Name, v.Offset, v.Size)
	}
	for _, e := range m.Entries {
		fmt.Fprintf(&b, " elem %s=%s", hex.EncodeToString(e.Key), hex.EncodeToString(e.Value))
	}
	return b.String()
}

func mapsKeys(m map[uint32]string) func(func(uint32) bool) {
	return func(yield func(uint32) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
