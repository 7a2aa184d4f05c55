// Package load turns clang-built BPF ELF objects into core.Object. It reads
// them through github.com/cilium/ebpf (the only jitsim package that imports
// it): cilium's ELF reader applies the object's relocations, links each
// program's bpf-to-bpf callees after it and parses BTF maps, global data and
// line info; this package maps the result onto jitsim's IR, with a source
// position (section, C line and its text) for every instruction slot.
package load

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"jitsim/core"
)

// maxValueSize is KMALLOC_MAX_SIZE with 4 KiB pages (1 << (MAX_PAGE_ORDER +
// PAGE_SHIFT), MAX_PAGE_ORDER 10), the largest map value the kernel accepts.
const maxValueSize = 4 << 20

// IsELF reports whether data starts with the ELF magic.
func IsELF(data []byte) bool { return bytes.HasPrefix(data, []byte(elf.ELFMAG)) }

// progTypes maps the program types jitsim models to core's. Every other
// type loads as core.ProgTypeUnspec, with a note in Object.Notes.
var progTypes = map[ebpf.ProgramType]core.ProgType{
	ebpf.SocketFilter: core.ProgTypeSocketFilter,
	ebpf.SchedCLS:     core.ProgTypeSchedCLS,
	ebpf.SchedACT:     core.ProgTypeSchedAct,
	ebpf.XDP:          core.ProgTypeXDP,
}

// ELF loads the BPF object data (read from file, which names it in errors
// and positions). Programs come in ELF order (by section, then offset, as
// libbpf lists them); each holds its main function followed by the
// subprograms it calls, directly or not, in cilium/ebpf's link order
// (breadth-first, callees of one function by name), with pseudo-call
// immediates relative to the slot after the call, as the kernel wants them.
// Maps come in the order libbpf creates them: BTF maps (and legacy "maps"
// section maps) by their offset in the object, then one single-entry array
// per global data section (.rodata, .data, .bss, ...) in section order.
// ld_imm64 map references carry the map's index in Object.Maps
// (BPF_PSEUDO_MAP_FD; BPF_PSEUDO_MAP_VALUE with the offset in the second
// slot for globals), as the assembler produces them.
//
// Every error is a *core.Error with Op "load" naming the file, and where it
// applies the section, program, instruction slot and C line. A panic inside
// cilium/ebpf (or here) on a malformed object is recovered and reported as
// an error; FuzzELF treats one as a finding.
func ELF(file string, data []byte) (obj *core.Object, err error) {
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, loadErrorf(core.Pos{File: file, Insn: -1}, "malformed object: panic while loading: %v", r)
		}
	}()
	pos := core.Pos{File: file, Insn: -1}
	if !IsELF(data) {
		return nil, loadErrorf(pos, "not an ELF object (no \\x7fELF magic)")
	}
	// The identification bytes say what the rest means; checking them
	// first names the real problem instead of what misreading it causes.
	if len(data) > elf.EI_DATA && elf.Data(data[elf.EI_DATA]) == elf.ELFDATA2MSB {
		return nil, loadErrorf(pos, "big-endian ELF object (a BPF one would be clang -target bpfeb): jitsim models little-endian BPF: %w", core.ErrUnsupported)
	}
	if len(data) > elf.EI_CLASS && elf.Class(data[elf.EI_CLASS]) == elf.ELFCLASS32 {
		return nil, loadErrorf(pos, "32-bit ELF object: BPF objects are ELFCLASS64")
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, loadErrorf(pos, "reading ELF (truncated or corrupt?): %w", err)
	}
	if f.Machine != elf.EM_BPF && f.Machine != elf.EM_NONE {
		return nil, loadErrorf(pos, "ELF object for %s, not BPF (build it with clang -target bpf)", f.Machine)
	}
	if f.ByteOrder != binary.LittleEndian || f.Class != elf.ELFCLASS64 {
		return nil, loadErrorf(pos, "%s %s ELF object: BPF objects jitsim loads are little-endian ELFCLASS64", f.Class, f.Data)
	}
	// A .bss takes no room in the file, so its header may claim any size,
	// which cilium/ebpf would allocate. The kernel refuses such a map
	// anyway: array_map_alloc_check returns -E2BIG for a value larger than
	// KMALLOC_MAX_SIZE.
	for _, sec := range f.Sections {
		if isDataSection(sec.Name) && sec.Size > maxValueSize {
			return nil, loadErrorf(core.Pos{File: file, Section: sec.Name, Insn: -1},
				"section %s holds %d bytes: a global data map's value is at most %d (KMALLOC_MAX_SIZE; the kernel says E2BIG)", sec.Name, sec.Size, maxValueSize)
		}
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, loadErrorf(pos, "%w", err)
	}
	syms, err := readSymbols(f)
	if err != nil {
		return nil, loadErrorf(pos, "%w", err)
	}
	return convert(file, spec, syms)
}

// convert maps a parsed collection onto a core.Object.
func convert(file string, spec *ebpf.CollectionSpec, syms *symbols) (*core.Object, error) {
	l := &loader{file: file, spec: spec, syms: syms, obj: &core.Object{File: file, Helpers: core.HelpersKernel}}
	if err := l.maps(); err != nil {
		return nil, err
	}
	if err := l.progs(); err != nil {
		return nil, err
	}
	if err := l.progArrays(); err != nil {
		return nil, err
	}
	return l.obj, nil
}

// loader holds one object's conversion state.
type loader struct {
	file string
	spec *ebpf.CollectionSpec
	syms *symbols
	obj  *core.Object
	// mapIndex finds a map by the name cilium/ebpf references it with (the
	// symbol of a BTF map, the section of global data).
	mapIndex map[string]int
	// uapi is the CO-RE target: the object's own definitions of the types
	// whose layout is kernel ABI (built on first use).
	uapi    *btf.Spec
	uapiErr error
}

func loadErrorf(pos core.Pos, format string, args ...any) *core.Error {
	return core.Errorf(pos, "load", format, args...)
}

// symbols is what ELF order needs from the symbol table: where each
// function and map symbol sits, and the section order.
type symbols struct {
	// fn finds a function symbol: its section's index and name and its
	// offset there.
	fn map[string]symbolAt
	// obj finds a data object symbol (BTF and legacy maps).
	obj map[string]symbolAt
	// section finds a section's index by name.
	section map[string]int
}

type symbolAt struct {
	section int
	name    string // the section's name
	off     uint64
}

// readSymbols indexes f's symbol table. debug/elf has already checked the
// section headers; cilium/ebpf reads the same table again for its own use.
func readSymbols(f *elf.File) (*symbols, error) {
	s := &symbols{fn: map[string]symbolAt{}, obj: map[string]symbolAt{}, section: map[string]int{}}
	for i, sec := range f.Sections {
		if _, dup := s.section[sec.Name]; !dup {
			s.section[sec.Name] = i
		}
	}
	list, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("reading symbols: %w", err)
	}
	for _, sym := range list {
		i := int(sym.Section)
		if sym.Name == "" || i <= 0 || i >= len(f.Sections) {
			continue
		}
		at := symbolAt{section: i, name: f.Sections[i].Name, off: sym.Value}
		switch elf.ST_TYPE(sym.Info) {
		case elf.STT_FUNC:
			s.fn[sym.Name] = at
		case elf.STT_OBJECT, elf.STT_NOTYPE:
			if _, dup := s.obj[sym.Name]; !dup {
				s.obj[sym.Name] = at
			}
		}
	}
	return s, nil
}

// progs converts every program of the spec, in ELF order.
func (l *loader) progs() error {
	names := make([]string, 0, len(l.spec.Programs))
	for name := range l.spec.Programs {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		sa, sb := l.syms.fn[a], l.syms.fn[b]
		if sa.section != sb.section {
			return sa.section - sb.section
		}
		if sa.off != sb.off {
			if sa.off < sb.off {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		p, err := l.prog(l.spec.Programs[name])
		if err != nil {
			return err
		}
		l.obj.Progs = append(l.obj.Progs, p)
	}
	return nil
}

// prog converts one linked program.
func (l *loader) prog(ps *ebpf.ProgramSpec) (*core.Program, error) {
	// r1 is the kernel's context, as libbpf's loader hands the program to
	// the verifier.
	p := &core.Program{Name: ps.Name, Type: core.ProgTypeUnspec, KernelCtx: true}
	if t, ok := progTypes[ps.Type]; ok {
		p.Type = t
	} else {
		l.obj.Notes = append(l.obj.Notes, fmt.Sprintf("%s: program %s (section %q): type %s is not modelled, loaded as unspec",
			l.file, ps.Name, ps.SectionName, ps.Type))
	}
	insns := ps.Instructions

	// First pass: slot offsets of the functions and the section and C
	// line of every instruction (BTF line info marks the first instruction
	// of each line; those after it belong to the same line until the next
	// mark, as bpftool attributes them).
	n := 0
	entry := map[string]int{}
	// Slots share an Origin per distinct section and C line.
	type originKey struct{ section, source string }
	origins := map[originKey]int32{}
	origin := func(section, source string) int32 {
		k := originKey{section, source}
		o, ok := origins[k]
		if !ok {
			o = int32(len(p.Origins))
			origins[k] = o
			p.Origins = append(p.Origins, core.Origin{File: l.file, Section: section, Source: source})
		}
		return o
	}
	p.SlotPos = make([]core.SlotPos, 0, len(insns)+8)
	cur := core.SlotPos{Origin: origin(ps.SectionName, "")}
	section := ps.SectionName
	for _, ins := range insns {
		if sym := ins.Symbol(); sym != "" {
			if _, dup := entry[sym]; dup {
				return nil, l.progErrorf(p, n, "function %s linked twice", sym)
			}
			entry[sym] = n
			p.Symbols = append(p.Symbols, core.Symbol{Name: sym, Insn: n, Func: true})
			section = ps.SectionName
			if at, ok := l.syms.fn[sym]; ok {
				section = at.name
			}
			cur = core.SlotPos{Origin: origin(section, "")}
		}
		if li, ok := ins.Source().(*btf.Line); ok && li != nil {
			cur.Line = int32(li.LineNumber())
			cur.Col = int32(li.LineColumn())
			cur.Origin = origin(section, strings.TrimSpace(li.Line()))
		}
		for range int(ins.Width()) {
			p.SlotPos = append(p.SlotPos, cur)
		}
		n += int(ins.Width())
		if n > core.MaxInsnSlots {
			return nil, l.progErrorf(p, n-1, "program has more than %d instruction slots (BPF_COMPLEXITY_LIMIT_INSNS)", core.MaxInsnSlots)
		}
	}
	insns, err := l.applyCORE(p, insns)
	if err != nil {
		return nil, err
	}

	// Second pass: encode slots, resolving references.
	p.Insns = make([]core.Insn, 0, n)
	for _, ins := range insns {
		slot := len(p.Insns)
		lo, hi, err := l.encode(p, slot, ins, entry)
		if err != nil {
			return nil, err
		}
		p.Insns = append(p.Insns, lo)
		if ins.OpCode.IsDWordLoad() {
			p.Insns = append(p.Insns, hi)
		}
	}
	return p, nil
}

// progErrorf builds a load error at slot i of p, with what is known of its
// position so far.
func (l *loader) progErrorf(p *core.Program, i int, format string, args ...any) *core.Error {
	at := p.PosOf(i)
	if i < 0 || i >= len(p.SlotPos) {
		at.File = l.file
	}
	e := loadErrorf(at, format, args...)
	e.Prog = p.Name
	return e
}

// encode turns one cilium/ebpf instruction into its slot (and the second
// slot of an ld_imm64), undoing cilium's decoded forms: signed division,
// modulo and sign-extending moves go back to their off field, helper
// numbers are already Linux's (platform tag 0).
func (l *loader) encode(p *core.Program, slot int, ins asm.Instruction, entry map[string]int) (lo, hi core.Insn, err error) {
	errorf := func(format string, args ...any) (core.Insn, core.Insn, error) {
		return core.Insn{}, core.Insn{}, l.progErrorf(p, slot, format, args...)
	}
	lo = core.Insn{
		Op:  uint8(ins.OpCode),
		Dst: core.Reg(ins.Dst),
		Src: core.Reg(ins.Src),
		Off: ins.Offset,
		Imm: int32(ins.Constant),
	}
	if ins.OpCode.Class().IsALU() {
		switch ins.OpCode.ALUOp() {
		case asm.SDiv, asm.SMod:
			lo.Off = 1
		case asm.MovSX8:
			lo.Off = 8
		case asm.MovSX16:
			lo.Off = 16
		case asm.MovSX32:
			lo.Off = 32
		}
	}
	ref := ins.Reference()
	switch {
	case ins.OpCode.IsDWordLoad():
		lo.Imm = int32(uint32(ins.Constant))
		hi.Imm = int32(uint32(uint64(ins.Constant) >> 32))
		switch {
		case ins.IsLoadFromMap():
			return l.mapRef(p, slot, ins, lo, hi)
		case ins.IsLoadOfFunctionPointer():
			at, ok := entry[ref]
			if !ok {
				return errorf("ld_imm64 of function %q, which the object does not define", ref)
			}
			lo.Imm = int32(at - slot - 1)
			hi.Imm = 0
		case ref != "":
			return errorf("ld_imm64 of extern %q (a __ksym or __kconfig variable): %w", ref, core.ErrUnsupported)
		}
	case ins.IsKfuncCall():
		return errorf("call to kfunc %s: kfuncs are %w", ref, core.ErrUnsupported)
	case ins.IsFunctionCall():
		at, ok := entry[ref]
		if !ok {
			if ref == "" {
				return errorf("bpf-to-bpf call without a target symbol")
			}
			return errorf("call to %s, which the object does not define (an extern function?)", ref)
		}
		lo.Imm = int32(at - slot - 1)
	case ref != "":
		return errorf("instruction %v refers to %q, which jitsim cannot resolve", ins, ref)
	}
	return lo, hi, nil
}

// mapRef resolves an ld_imm64 of a map (PSEUDO_MAP_FD) or of a global's
// address (PSEUDO_MAP_VALUE, the offset in the second slot).
func (l *loader) mapRef(p *core.Program, slot int, ins asm.Instruction, lo, hi core.Insn) (core.Insn, core.Insn, error) {
	ref := ins.Reference()
	idx, ok := l.mapIndex[ref]
	if !ok {
		if ref == "" && ins.Src == asm.PseudoMapFD {
			return core.Insn{}, core.Insn{}, l.progErrorf(p, slot, "ld_imm64 with src 1 (BPF_PSEUDO_MAP_FD) and no relocation names no map")
		}
		if ref == "" {
			// cilium/ebpf leaves the reference of an extern __kconfig
			// variable empty: it points into the virtual .kconfig map.
			return core.Insn{}, core.Insn{}, l.progErrorf(p, slot, "ld_imm64 (src %d) of an extern variable jitsim cannot resolve (__kconfig): %w", ins.Src, core.ErrUnsupported)
		}
		return core.Insn{}, core.Insn{}, l.progErrorf(p, slot, "ld_imm64 refers to %q, which is no map of the object (an extern __kconfig variable?): %w", ref, core.ErrUnsupported)
	}
	lo.Imm = int32(idx)
	if ins.Src == asm.PseudoMapFD {
		if ins.Constant != 0 {
			return core.Insn{}, core.Insn{}, l.progErrorf(p, slot, "reference to map %s with offset %d", ref, ins.Constant)
		}
		hi.Imm = 0
	}
	return lo, hi, nil
}
