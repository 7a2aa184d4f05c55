package arm64

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"

	"jitsim/core/jit"
)

// Line is one instruction of a listing, for "jitsim dump" (the same shape
// as the x86 backend's).
type Line struct {
	Off  int    // offset in Image.Code
	Word uint32 // the instruction word
	// Text is GNU syntax as golang.org/x/arch/arm64/arm64asm prints it, with
	// PC-relative targets shown as image offsets.
	Text string
	Func int // index in Image.Funcs
	// Insn is the BPF slot whose code this is; -1 in a prologue. The
	// epilogue and PLT count to the function's last slot, as the kernel's
	// line info does.
	Insn int
}

func (l Line) String() string { return fmt.Sprintf("%5x:  %08x  %s", l.Off, l.Word, l.Text) }

// Dump lists the code of every function of img, in image order. Data the
// image holds between functions (PLT targets, hole fill) is not listed.
func Dump(img *jit.Image) []Line {
	var lines []Line
	slot := 0
	for fi, f := range img.Funcs {
		for off := f.Start; off+4 <= f.End && off+4 <= len(img.Code); off += 4 {
			w := binary.LittleEndian.Uint32(img.Code[off:])
			insn := -1
			if off >= f.BodyStart {
				for slot+2 < len(img.InsnOffsets) && img.InsnOffsets[slot+1] <= off {
					slot++
				}
				insn = slot
			}
			lines = append(lines, Line{Off: off, Word: w, Text: Disasm(w, off), Func: fi, Insn: insn})
		}
	}
	return lines
}

// DumpText renders Dump with a label per function and a comment per BPF
// slot, bpftool style.
func DumpText(img *jit.Image) string {
	var sb strings.Builder
	last := -2
	for _, l := range Dump(img) {
		if l.Off == img.Funcs[l.Func].Start {
			fmt.Fprintf(&sb, "%s:\n", img.Funcs[l.Func].Name)
			last = -2
		}
		if l.Insn != last {
			if l.Insn >= 0 {
				fmt.Fprintf(&sb, "; insn %d\n", l.Insn)
			}
			last = l.Insn
		}
		sb.WriteString(l.String())
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Disasm renders one instruction word in GNU syntax as arm64asm prints it,
// with PC-relative targets rewritten to image offsets (the word is at off)
// and names for the hints and LSE atomics arm64asm does not decode.
func Disasm(w uint32, off int) string {
	if s, ok := disasmExtra(w); ok {
		return s
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], w)
	inst, err := arm64asm.Decode(b[:])
	if err != nil {
		return fmt.Sprintf(".inst 0x%08x", w)
	}
	s := strings.TrimSpace(arm64asm.GNUSyntax(inst))
	if i := strings.Index(s, ".+0x"); i >= 0 {
		rel, err := strconv.ParseUint(s[i+4:], 16, 64)
		if err == nil {
			if t := int64(off) + int64(rel); t >= 0 {
				s = s[:i] + fmt.Sprintf("0x%x", t)
			} else {
				s = s[:i] + fmt.Sprintf("-0x%x", -t)
			}
		}
	}
	return s
}

var hintNames = map[uint32]string{
	paciasp: "paciasp",
	autiasp: "autiasp",
	btiC:    "bti c",
	btiJ:    "bti j",
	btiJC:   "bti jc",
}

// disasmExtra names what arm64asm (an ARMv8.0 decoder) leaves as "hint #n"
// or cannot decode: pointer authentication and BTI hints, the ARMv8.1 LSE
// atomics (LD<op>, ST<op>, SWP, CAS) in the spelling of GNU objdump.
func disasmExtra(w uint32) (string, bool) {
	if s, ok := hintNames[w]; ok {
		return s, true
	}
	size := w >> 30
	if size < 2 {
		return "", false // the JIT uses 32- and 64-bit atomics only
	}
	r := func(n uint32) string {
		if n == 31 {
			if size == 3 {
				return "xzr"
			}
			return "wzr"
		}
		if size == 3 {
			return "x" + strconv.Itoa(int(n))
		}
		return "w" + strconv.Itoa(int(n))
	}
	base := func(n uint32) string {
		if n == 31 {
			return "[sp]"
		}
		return "[x" + strconv.Itoa(int(n)) + "]"
	}
	rs, rn, rt := w>>16&31, w>>5&31, w&31
	order := func(a, l bool) string {
		switch {
		case a && l:
			return "al"
		case a:
			return "a"
		case l:
			return "l"
		}
		return ""
	}
	switch {
	case w&0x3f200c00 == 0x38200000: // LD<op>, SWP (atomic memory operations)
		a, l := w&(1<<23) != 0, w&(1<<22) != 0
		o3, opc := w>>15&1, w>>12&7
		if o3 == 1 {
			if opc != 0 {
				return "", false
			}
			return fmt.Sprintf("swp%s %s, %s, %s", order(a, l), r(rs), r(rt), base(rn)), true
		}
		op := [...]string{"add", "clr", "eor", "set", "smax", "smin", "umax", "umin"}[opc]
		if rt == 31 && !a {
			return fmt.Sprintf("st%s%s %s, %s", op, order(false, l), r(rs), base(rn)), true
		}
		return fmt.Sprintf("ld%s%s %s, %s, %s", op, order(a, l), r(rs), r(rt), base(rn)), true
	case w&0x3fa07c00 == 0x08a07c00: // CAS
		return fmt.Sprintf("cas%s %s, %s, %s", order(w&(1<<22) != 0, w&(1<<15) != 0), r(rs), r(rt), base(rn)), true
	}
	return "", false
}
