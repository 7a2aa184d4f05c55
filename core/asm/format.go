package asm

import (
	"encoding/binary"
	"slices"
	"strconv"

	"jitsim/core"
)

// Format writes obj as assembler text: directives for the helper set, maps
// and programs, then each program in pseudo-C with its symbols as labels.
// Jump and call targets without a symbol get local ".L<slot>" labels, which
// Parse does not record as symbols, and slots the pseudo-C cannot show
// exactly print as .raw; so Parse(Format(obj)) gives back the same
// instructions, symbols, maps and programs. A map without a name prints as
// "_map<index>".
func Format(obj *core.Object) string {
	var b []byte
	b = append(b, ".helpers "...)
	b = append(b, obj.Helpers.String()...)
	b = append(b, '\n')
	for i, m := range obj.Maps {
		b = appendMapDecl(b, i, m)
	}
	for _, p := range obj.Progs {
		b = appendProg(b, obj, p)
	}
	return string(b)
}

func mapName(i int, m *core.Map) string {
	if m.Name == "" {
		return "_map" + strconv.Itoa(i)
	}
	return m.Name
}

func appendMapDecl(b []byte, i int, m *core.Map) []byte {
	name := mapName(i, m)
	b = append(b, ".map "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, m.Type.String()...)
	b = append(b, " key="...)
	b = strconv.AppendUint(b, uint64(m.KeySize), 10)
	b = append(b, " value="...)
	b = strconv.AppendUint(b, uint64(m.ValueSize), 10)
	b = append(b, " max="...)
	b = strconv.AppendUint(b, uint64(m.MaxEntries), 10)
	if m.Flags != 0 {
		b = append(b, " flags="...)
		b = strconv.AppendUint(b, uint64(m.Flags), 10)
	}
	if m.Section != "" {
		b = append(b, " section="...)
		b = append(b, m.Section...)
	}
	b = append(b, '\n')
	for _, e := range m.Entries {
		b = append(b, ".elem "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = appendBytes(b, e.Key)
		b = append(b, ' ')
		b = appendBytes(b, e.Value)
		b = append(b, '\n')
	}
	keys := make([]uint32, 0, len(m.Progs))
	for k := range m.Progs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ".slot "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(k), 10)
		b = append(b, ' ')
		b = append(b, m.Progs[k]...)
		b = append(b, '\n')
	}
	return b
}

// appendBytes prints a key or value: up to 8 bytes as a little-endian
// number, longer ones as [hex bytes].
func appendBytes(b []byte, v []byte) []byte {
	if len(v) > 0 && len(v) <= 8 {
		var le [8]byte
		copy(le[:], v)
		b = append(b, "0x"...)
		return strconv.AppendUint(b, binary.LittleEndian.Uint64(le[:]), 16)
	}
	b = append(b, '[')
	for i, c := range v {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
	}
	return append(b, ']')
}

func progTypeName(t core.ProgType) string {
	for _, pt := range progTypes {
		if pt.typ == t {
			return pt.name
		}
	}
	return strconv.FormatUint(uint64(t), 10)
}

func appendProg(b []byte, obj *core.Object, p *core.Program) []byte {
	n := len(p.Insns)
	syms := make(map[int][]core.Symbol)
	for _, s := range p.Symbols {
		syms[s.Insn] = append(syms[s.Insn], s)
	}
	// second marks the second slots of ld_imm64s printed as one line: no
	// label can stand there. An ld_imm64 with a symbol on its second slot
	// (only .raw input makes one) prints as two .raw lines instead.
	second := make([]bool, n+1)
	split := make(map[int]bool)
	for i := 0; i < n; i++ {
		if p.Insns[i].IsLdImm64() && i+1 < n {
			if len(syms[i+1]) > 0 {
				split[i] = true
			} else {
				second[i+1] = true
			}
			i++
		}
	}
	labelable := func(t int) bool { return t >= 0 && t <= n && !second[t] }
	// local marks targets that need an invented .L label: no symbol, or (for
	// a call) no function symbol, which a call would turn the label into.
	local := make(map[int]bool)
	for i := 0; i < n; i++ {
		ins := p.Insns[i]
		switch {
		case ins.IsJump():
			if t := ins.JumpTarget(i); labelable(t) && len(syms[t]) == 0 {
				local[t] = true
			}
		case ins.IsPseudoCall():
			if t := ins.CallTarget(i); labelable(t) && funcSym(syms[t]) == "" {
				local[t] = true
			}
		}
		if ins.IsLdImm64() {
			i++
		}
	}
	f := core.InsnFormat{
		Exact: true,
		Label: func(t int, call bool) string {
			switch {
			case !labelable(t):
				return ""
			case call && funcSym(syms[t]) != "":
				return funcSym(syms[t])
			case !call && len(syms[t]) > 0:
				return syms[t][0].Name
			}
			return ".L" + strconv.Itoa(t)
		},
	}
	b = append(b, "\n.prog "...)
	b = append(b, p.Name...)
	if p.Type != core.ProgTypeUnspec {
		b = append(b, ' ')
		b = append(b, progTypeName(p.Type)...)
	}
	b = append(b, '\n')
	labels := func(b []byte, i int) []byte {
		for _, s := range syms[i] {
			if s.Func {
				b = append(b, ".func "...)
				b = append(b, s.Name...)
			} else {
				b = append(b, s.Name...)
				b = append(b, ':')
			}
			b = append(b, '\n')
		}
		if local[i] {
			b = append(b, ".L"...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, ":\n"...)
		}
		return b
	}
	for i := 0; i < n; i++ {
		b = labels(b, i)
		b = append(b, '\t')
		start := len(b)
		if split[i] {
			// A one-slot program: its ld_imm64 has no second slot, so it prints raw.
			b = core.AppendInsn(b, obj, &core.Program{Insns: p.Insns[i : i+1]}, 0, f)
		} else {
			b = core.AppendInsn(b, obj, p, i, f)
		}
		raw := string(b[start:min(start+4, len(b))]) == ".raw"
		b = append(b, '\n')
		if p.Insns[i].IsLdImm64() && i+1 < n && !raw {
			i++
		}
	}
	return labels(b, n)
}

func funcSym(s []core.Symbol) string {
	for _, sym := range s {
		if sym.Func {
			return sym.Name
		}
	}
	return ""
}
