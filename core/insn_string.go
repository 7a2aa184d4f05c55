package core

import (
	"bufio"
	"io"
	"strconv"

	"jitsim/core/kabi"
)

// The pseudo-C printer. Its syntax is the kernel's print_bpf_insn
// (kernel/bpf/disasm.c), which bpftool's "prog dump xlated" and the verifier
// log print, so a listing reads like the kernel's. Where disasm.c prints
// nothing usable (tail calls, map references it hides as 0, malformed slots)
// the text follows llvm-objdump or jitsim's own assembler (core/asm), which
// parses everything printed here.

// Operator strings indexed by OpCode()>>4, as bpf_alu_string and
// bpf_jmp_string in disasm.c.
var (
	aluOpText = [16]string{
		Add >> 4: "+=", Sub >> 4: "-=", Mul >> 4: "*=", Div >> 4: "/=",
		Or >> 4: "|=", And >> 4: "&=", Lsh >> 4: "<<=", Rsh >> 4: ">>=",
		Mod >> 4: "%=", Xor >> 4: "^=", Mov >> 4: "=", Arsh >> 4: "s>>=",
	}
	jmpOpText = [16]string{
		JEQ >> 4: "==", JGT >> 4: ">", JGE >> 4: ">=", JSET >> 4: "&",
		JNE >> 4: "!=", JSGT >> 4: "s>", JSGE >> 4: "s>=", JLT >> 4: "<",
		JLE >> 4: "<=", JSLT >> 4: "s<", JSLE >> 4: "s<=",
	}
	// atomicOpText names the read-modify-write atomics by Imm>>4 (disasm.c
	// bpf_atomic_alu_string).
	atomicOpText = [16]string{AtomicAdd >> 4: "add", AtomicOr >> 4: "or", AtomicAnd >> 4: "and", AtomicXor >> 4: "xor"}
	sizeText     = [4]string{W >> 3: "u32", H >> 3: "u16", B >> 3: "u8", DW >> 3: "u64"}
	sizeTextSX   = [4]string{W >> 3: "s32", H >> 3: "s16", B >> 3: "s8"}
)

// JCOND is BPF_JCOND (JMP class, Src 0 = may_goto), Linux 6.9. Engines
// reject it; the printer and assembler know it so listings stay readable.
const JCOND = 0xe0

// ConformanceHelperNames are the helpers of the conformance suite's runtime
// (uBPF's test plugin), by id; see HelperSet.
var ConformanceHelperNames = [...]string{"gather_bytes", "memfrob", "no_op", "sqrti", "strcmp_ext", "unwind"}

// HelperName returns the name bpftool prints for helper id in set h:
// "bpf_map_lookup_elem" for kernel ids, "memfrob" for conformance ids, and
// "unknown" (as disasm.c's func_id_name) for ids the set lacks.
func (h HelperSet) HelperName(id int32) string {
	if h == HelpersConformance {
		if id >= 0 && int(id) < len(ConformanceHelperNames) {
			return ConformanceHelperNames[id]
		}
		return "unknown"
	}
	if id > 0 && int(id) < len(kabi.HelperNames) {
		return "bpf_" + kabi.HelperNames[id]
	}
	if name := kabi.InternalHelperName(id); name != "" {
		return name // called by xlate's rewrites only
	}
	return "unknown"
}

// HelperID is the inverse of HelperName.
func (h HelperSet) HelperID(name string) (int32, bool) {
	if h == HelpersConformance {
		for id, n := range ConformanceHelperNames {
			if n == name {
				return int32(id), true
			}
		}
		return 0, false
	}
	if len(name) <= 4 || name[:4] != "bpf_" {
		return 0, false
	}
	return kabi.HelperID(name)
}

// InsnFormat says how AppendInsn prints a slot.
type InsnFormat struct {
	// Label names a jump or call target slot; when it is nil or returns ""
	// the target prints relative, "pc+3", as bpftool prints it.
	Label func(slot int, call bool) string
	// Exact prints a slot whose text would hide a non-zero field (the
	// kernel's print_bpf_insn ignores reserved fields) as ".raw" bytes, so
	// parsing the text gives back the same slot.
	Exact bool
}

// String formats one slot on its own. An ld_imm64 needs its second slot and
// prints as .raw bytes here; Program.Disasm prints it whole.
func (i Insn) String() string {
	p := Program{Insns: []Insn{i}}
	return string(AppendInsn(nil, nil, &p, 0, InsnFormat{}))
}

// Disasm formats slot i as print_bpf_insn does, without the "(op)" prefix:
// "r0 = *(u32 *)(r1 +4)", "if r1 > 0x5 goto pc+3", "call pc+5" or "call
// NAME" when a symbol names the callee. Map references print as map[N] (N
// the index in Object.Maps); Object.Disasm prints their names.
func (p *Program) Disasm(i int) string { return string(AppendInsn(nil, nil, p, i, InsnFormat{})) }

// Disasm is Program.Disasm with o's map names and helper id space.
func (o *Object) Disasm(p *Program, i int) string {
	return string(AppendInsn(nil, o, p, i, InsnFormat{}))
}

// AppendInsn appends the text of slot i of p. obj (may be nil) gives map
// names and the helper id space. An ld_imm64 prints whole from its first
// slot; callers skip the second (WriteXlated and asm.Format do), which on
// its own prints as .raw bytes like any slot without a text form.
func AppendInsn(b []byte, obj *Object, p *Program, i int, f InsnFormat) []byte {
	if i < 0 || i >= len(p.Insns) {
		return append(b, "<no insn>"...)
	}
	pr := printer{obj: obj, p: p, f: f}
	ins := p.Insns[i]
	var next Insn
	hasNext := i+1 < len(p.Insns)
	if hasNext {
		next = p.Insns[i+1]
	}
	start := len(b)
	b, ok := pr.text(b, i, ins, next, hasNext)
	if !ok {
		b = appendRaw(b[:start], ins)
	}
	return b
}

// appendRaw writes a slot as the assembler's .raw directive: its 8 bytes in
// struct bpf_insn order, as a conformance "-- raw" line.
func appendRaw(b []byte, ins Insn) []byte {
	var buf [InsnSize]byte
	b = append(b, ".raw"...)
	for _, c := range ins.Encode(buf[:0]) {
		b = append(b, ' ', hexDigit[c>>4], hexDigit[c&15])
	}
	return b
}

const hexDigit = "0123456789abcdef"

type printer struct {
	obj *Object
	p   *Program
	f   InsnFormat
}

// text appends the pseudo-C of one slot. ok is false when the slot has no
// text form (unknown opcode, or, with Exact, a reserved field that is set).
func (pr *printer) text(b []byte, pc int, ins, next Insn, hasNext bool) (_ []byte, ok bool) {
	// clean is false when a field the text does not show is non-zero.
	clean := true
	reserved := func(fields ...int64) {
		for _, v := range fields {
			if v != 0 {
				clean = false
			}
		}
	}
	cls := ins.Class()
	op := ins.OpCode()
	switch cls {
	case ALU, ALU64:
		r := byte('r')
		if cls == ALU {
			r = 'w'
		}
		switch {
		case op == End:
			if ins.Imm != 16 && ins.Imm != 32 && ins.Imm != 64 {
				return b, false
			}
			reserved(int64(ins.Src), int64(ins.Off))
			b = appendReg(b, 'r', ins.Dst)
			switch {
			case cls == ALU64 && ins.Source() == K:
				b = append(b, " = bswap"...)
			case cls == ALU64:
				return b, false
			case ins.Source() == ToBE:
				b = append(b, " = be"...)
			default:
				b = append(b, " = le"...)
			}
			b = strconv.AppendInt(b, int64(ins.Imm), 10)
			b = append(b, ' ')
			b = appendReg(b, 'r', ins.Dst)
		case op == Neg:
			if ins.Source() != K {
				return b, false
			}
			reserved(int64(ins.Src), int64(ins.Off), int64(ins.Imm))
			b = appendReg(b, r, ins.Dst)
			b = append(b, " = -"...)
			b = appendReg(b, r, ins.Dst)
		case aluOpText[op>>4] == "":
			return b, false
		default:
			text := aluOpText[op>>4]
			movsx := ""
			switch {
			case ins.Off == 0:
			case ins.Off == 1 && (op == Div || op == Mod):
				text = "s" + text
			case op == Mov && ins.Source() == X && (ins.Off == 8 || ins.Off == 16 || ins.Off == 32):
				movsx = [...]string{"(s8)", "(s16)", "", "(s32)"}[ins.Off/8-1]
			default:
				clean = false
			}
			b = appendReg(b, r, ins.Dst)
			b = append(b, ' ')
			b = append(b, text...)
			b = append(b, ' ')
			if ins.Source() == X {
				reserved(int64(ins.Imm))
				b = append(b, movsx...)
				b = appendReg(b, r, ins.Src)
			} else {
				reserved(int64(ins.Src))
				b = strconv.AppendInt(b, int64(ins.Imm), 10)
			}
		}
	case LDX:
		var size string
		switch ins.Mode() {
		case MEM:
			size = sizeText[ins.Size()>>3]
		case MEMSX:
			size = sizeTextSX[ins.Size()>>3]
		}
		if size == "" {
			return b, false
		}
		reserved(int64(ins.Imm))
		b = appendReg(b, 'r', ins.Dst)
		b = append(b, " = "...)
		b = appendMem(b, size, ins.Src, ins.Off)
	case ST:
		if ins.Mode() != MEM {
			return b, false
		}
		reserved(int64(ins.Src))
		b = appendMem(b, sizeText[ins.Size()>>3], ins.Dst, ins.Off)
		b = append(b, " = "...)
		b = strconv.AppendInt(b, int64(ins.Imm), 10)
	case STX:
		size := sizeText[ins.Size()>>3]
		switch ins.Mode() {
		case MEM:
			reserved(int64(ins.Imm))
			b = appendMem(b, size, ins.Dst, ins.Off)
			b = append(b, " = "...)
			b = appendReg(b, 'r', ins.Src)
		case ATOMIC:
			if ins.Size() != W && ins.Size() != DW {
				return b, false
			}
			var ok bool
			if b, ok = appendAtomic(b, ins, size); !ok {
				return b, false
			}
		default:
			return b, false
		}
	case LD:
		switch ins.Mode() {
		case IMM:
			if ins.Size() != DW || !hasNext {
				return b, false
			}
			reserved(int64(ins.Off), int64(next.Op), int64(next.Dst), int64(next.Src), int64(next.Off))
			b = appendReg(b, 'r', ins.Dst)
			b = append(b, " = "...)
			switch ins.Src {
			case 0:
				b = append(b, "0x"...)
				b = strconv.AppendUint(b, Imm64(ins, next), 16)
				b = append(b, " ll"...)
			case PseudoMapFD:
				reserved(int64(next.Imm))
				b = pr.appendMap(b, ins.Imm)
			case PseudoMapValue:
				b = pr.appendMap(b, ins.Imm)
				b = append(b, "[0]+"...)
				b = strconv.AppendUint(b, uint64(uint32(next.Imm)), 10)
			default:
				return b, false
			}
		case ABS, IND:
			if ins.Size() == DW {
				return b, false
			}
			reserved(int64(ins.Dst), int64(ins.Off))
			b = append(b, "r0 = *("...)
			b = append(b, sizeText[ins.Size()>>3]...)
			b = append(b, " *)skb["...)
			if ins.Mode() == IND {
				b = appendReg(b, 'r', ins.Src)
				b = append(b, " + "...)
			} else {
				reserved(int64(ins.Src))
			}
			b = strconv.AppendInt(b, int64(ins.Imm), 10)
			b = append(b, ']')
		default:
			return b, false
		}
	case JMP, JMP32:
		var ok bool
		if b, ok = pr.appendJump(b, pc, ins, &clean); !ok {
			return b, false
		}
	}
	if !clean && pr.f.Exact {
		return b, false
	}
	return b, true
}

// appendAtomic prints STX|ATOMIC as disasm.c does; 32-bit forms print r
// registers there too (llvm-objdump prints w).
func appendAtomic(b []byte, ins Insn, size string) ([]byte, bool) {
	bits := ""
	if ins.Size() == DW {
		bits = "64"
	}
	switch imm := ins.Imm; imm {
	case AtomicAdd, AtomicOr, AtomicAnd, AtomicXor:
		b = append(b, "lock "...)
		b = appendMem(b, size, ins.Dst, ins.Off)
		b = append(b, ' ')
		b = append(b, aluOpText[imm>>4]...)
		b = append(b, ' ')
		b = appendReg(b, 'r', ins.Src)
	case AtomicAdd | Fetch, AtomicOr | Fetch, AtomicAnd | Fetch, AtomicXor | Fetch, AtomicXchg, AtomicCmpXchg:
		if imm == AtomicCmpXchg {
			b = append(b, "r0 = atomic"...)
			b = append(b, bits...)
			b = append(b, "_cmpxchg("...)
		} else {
			b = appendReg(b, 'r', ins.Src)
			b = append(b, " = atomic"...)
			b = append(b, bits...)
			if imm == AtomicXchg {
				b = append(b, "_xchg("...)
			} else {
				b = append(b, "_fetch_"...)
				b = append(b, atomicOpText[imm>>4]...)
				b = append(b, '(')
			}
		}
		b = appendCast(b, size)
		b = appendAddr(b, ins.Dst, ins.Off)
		if imm == AtomicCmpXchg {
			b = append(b, ", r0"...)
		}
		b = append(b, ", "...)
		b = appendReg(b, 'r', ins.Src)
		b = append(b, ')')
	default:
		return b, false
	}
	return b, true
}

// appendJump prints the JMP and JMP32 classes: jumps, calls, exit, and the
// kernel-internal tail call.
func (pr *printer) appendJump(b []byte, pc int, ins Insn, clean *bool) ([]byte, bool) {
	reserved := func(fields ...int64) {
		for _, v := range fields {
			if v != 0 {
				*clean = false
			}
		}
	}
	cls, op := ins.Class(), ins.OpCode()
	jmp := cls == JMP
	switch {
	case op == Call && jmp && ins.Source() == X:
		// callx: the conformance suite's assembler puts the register in dst.
		reserved(int64(ins.Src), int64(ins.Off), int64(ins.Imm))
		b = append(b, "callx "...)
		b = appendReg(b, 'r', ins.Dst)
	case op == Call && jmp:
		reserved(int64(ins.Dst), int64(ins.Off))
		b = append(b, "call "...)
		switch ins.Src {
		case CallHelper:
			h := HelpersKernel
			if pr.obj != nil {
				h = pr.obj.Helpers
			}
			b = append(b, h.HelperName(ins.Imm)...)
			b = append(b, '#')
			b = strconv.AppendInt(b, int64(ins.Imm), 10)
		case PseudoCall:
			b = pr.appendTarget(b, pc+1+int(ins.Imm), int64(ins.Imm), true)
		default:
			return b, false
		}
	case op == Exit && jmp && ins.Source() == K:
		reserved(int64(ins.Dst), int64(ins.Src), int64(ins.Off), int64(ins.Imm))
		b = append(b, "exit"...)
	case op == TailCall && jmp && ins.Source() == K:
		// The verifier's fixup keeps a poke index in Imm for direct tail
		// calls; the text does not show it.
		reserved(int64(ins.Dst), int64(ins.Src), int64(ins.Off), int64(ins.Imm))
		b = append(b, "tail_call"...)
	case op == JCOND && jmp && ins.Source() == K && ins.Src == 0:
		reserved(int64(ins.Dst), int64(ins.Imm))
		b = append(b, "may_goto "...)
		b = pr.appendTarget(b, pc+1+int(ins.Off), int64(ins.Off), false)
	case op == JA && ins.Source() == K:
		if jmp {
			reserved(int64(ins.Dst), int64(ins.Src), int64(ins.Imm))
			b = append(b, "goto "...)
			b = pr.appendTarget(b, pc+1+int(ins.Off), int64(ins.Off), false)
		} else {
			reserved(int64(ins.Dst), int64(ins.Src), int64(ins.Off))
			b = append(b, "gotol "...)
			b = pr.appendTarget(b, pc+1+int(ins.Imm), int64(ins.Imm), false)
		}
	case jmpOpText[op>>4] != "":
		r := byte('r')
		if !jmp {
			r = 'w'
		}
		b = append(b, "if "...)
		b = appendReg(b, r, ins.Dst)
		b = append(b, ' ')
		b = append(b, jmpOpText[op>>4]...)
		b = append(b, ' ')
		if ins.Source() == X {
			reserved(int64(ins.Imm))
			b = appendReg(b, r, ins.Src)
		} else {
			reserved(int64(ins.Src))
			b = append(b, "0x"...)
			b = strconv.AppendUint(b, uint64(uint32(ins.Imm)), 16)
		}
		b = append(b, " goto "...)
		b = pr.appendTarget(b, pc+1+int(ins.Off), int64(ins.Off), false)
	default:
		return b, false
	}
	return b, true
}

// appendTarget prints a jump or call target: the label the format gives, a
// symbol for calls, or "pc+N" as disasm.c does.
func (pr *printer) appendTarget(b []byte, target int, rel int64, call bool) []byte {
	if pr.f.Label != nil {
		if name := pr.f.Label(target, call); name != "" {
			return append(b, name...)
		}
	} else if call {
		for _, s := range pr.p.Symbols {
			if s.Insn == target {
				return append(b, s.Name...)
			}
		}
	}
	b = append(b, "pc"...)
	if rel >= 0 {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, rel, 10)
}

// appendMap prints the map an ld_imm64 names by index: its name when the
// object has it, else map[N].
func (pr *printer) appendMap(b []byte, idx int32) []byte {
	b = append(b, "map["...)
	if pr.obj != nil && idx >= 0 && int(idx) < len(pr.obj.Maps) && pr.obj.Maps[idx].Name != "" {
		b = append(b, pr.obj.Maps[idx].Name...)
	} else {
		b = strconv.AppendInt(b, int64(idx), 10)
	}
	return append(b, ']')
}

func appendReg(b []byte, r byte, reg Reg) []byte {
	b = append(b, r)
	return strconv.AppendUint(b, uint64(reg), 10)
}

// appendMem prints "*(u32 *)(r1 +4)": disasm.c's "%+d" puts the sign
// against the offset.
func appendMem(b []byte, size string, reg Reg, off int16) []byte {
	b = append(b, '*')
	b = appendCast(b, size)
	return appendAddr(b, reg, off)
}

func appendCast(b []byte, size string) []byte {
	b = append(b, '(')
	b = append(b, size...)
	return append(b, " *)"...)
}

func appendAddr(b []byte, reg Reg, off int16) []byte {
	b = append(b, '(')
	b = appendReg(b, 'r', reg)
	b = append(b, ' ')
	if off >= 0 {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, int64(off), 10)
	return append(b, ')')
}

// WriteXlated writes p as bpftool's "prog dump xlated" does: one line per
// instruction, "   0: (b7) r0 = 1", numbered by slot (an ld_imm64's second
// slot gets no line, so the numbers skip it). Function entries print as
// "name:" lines and source lines from Pos.Source as "; ..." lines, as
// bpftool prints BTF func and line info. With opcodes each instruction is
// followed by its raw bytes, as "bpftool ... opcodes". obj may be nil.
func WriteXlated(w io.Writer, obj *Object, p *Program, opcodes bool) error {
	bw := bufio.NewWriter(w)
	funcs := make(map[int][]string)
	for _, s := range p.Symbols {
		if s.Func {
			funcs[s.Insn] = append(funcs[s.Insn], s.Name)
		}
	}
	var line []byte
	lastSource := ""
	for i := 0; i < len(p.Insns); i++ {
		for _, name := range funcs[i] {
			bw.WriteString(name)
			bw.WriteString(":\n")
		}
		if src := p.OriginOf(i).Source; src != "" && src != lastSource {
			lastSource = src
			bw.WriteString("; ")
			bw.WriteString(lastSource)
			bw.WriteByte('\n')
		}
		ins := p.Insns[i]
		// bpftool's "% 4d: ": width 4 and always a blank before the number.
		line = append(line[:0], ' ', ' ', ' ')
		line = strconv.AppendInt(line, int64(i), 10)
		if len(line) > 4 {
			line = line[len(line)-max(4, len(line)-2):]
		}
		line = append(line, ": ("...)
		line = append(line, hexDigit[ins.Op>>4], hexDigit[ins.Op&15])
		line = append(line, ") "...)
		line = AppendInsn(line, obj, p, i, InsnFormat{})
		line = append(line, '\n')
		bw.Write(line)
		n := 1
		if ins.IsLdImm64() && i+1 < len(p.Insns) {
			n = 2
		}
		if opcodes {
			raw := EncodeInsns(p.Insns[i : i+n])
			bw.WriteString("      ")
			for _, c := range raw {
				bw.Write([]byte{' ', hexDigit[c>>4], hexDigit[c&15]})
			}
			bw.WriteByte('\n')
		}
		i += n - 1
	}
	for _, name := range funcs[len(p.Insns)] {
		bw.WriteString(name)
		bw.WriteString(":\n")
	}
	return bw.Flush()
}
