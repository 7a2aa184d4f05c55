package x86

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"jitsim/core/jit"
)

// Line is one disassembled machine instruction of an Image, for
// "jitsim dump" and listing tests.
type Line struct {
	Off   int    // offset in Image.Code
	Bytes []byte // the instruction's bytes (a sub-slice of Image.Code)
	// Text is the GNU (AT&T) syntax of golang.org/x/arch/x86/x86asm, with
	// relative branch targets shown as image offsets.
	Text string
	Func int // index in Image.Funcs
	// Insn is the BPF slot whose code this is; -1 in a prologue.
	Insn int
}

func (l Line) String() string {
	return fmt.Sprintf("%5x:  %-24s %s", l.Off, fmt.Sprintf("% x", l.Bytes), l.Text)
}

var endbr64 = []byte{0xF3, 0x0F, 0x1E, 0xFA}

// decode disassembles the instruction at code[off:], where code[0] is at
// guest address base. Branch targets inside code print as offsets into
// code ("0x4e"), others as guest addresses (helpers, other functions when
// code is one function). x86asm does not know ENDBR64 (it decodes F3 alone
// as "rep"), so that one is recognised here. Undecodable bytes come back as
// a one-byte "(bad)".
func decode(code []byte, off int, base uint64) (string, int) {
	b := code[off:]
	if bytes.HasPrefix(b, endbr64) {
		return "endbr64", len(endbr64)
	}
	inst, err := x86asm.Decode(b, 64)
	if err != nil || inst.Len == 0 {
		return "(bad)", 1
	}
	limit := uint64(len(code))
	if base == 0 {
		// GNUSyntax prints targets as ".+rel" at pc 0; with no address
		// to show, every target prints as an offset.
		base, limit = pcBias, pcBias
	}
	name := func(addr uint64) (string, uint64) {
		if addr-base < limit {
			return fmt.Sprintf("%#x", addr-base), addr
		}
		return "", 0
	}
	return x86asm.GNUSyntax(inst, base+uint64(off), name), inst.Len
}

// pcBias stands in for a zero base address.
const pcBias = 1 << 40

// Dump disassembles a whole image, function by function.
func Dump(img *jit.Image) []Line {
	var lines []Line
	slot := 0
	for fi, f := range img.Funcs {
		for off := f.Start; off < f.End; {
			text, n := decode(img.Code, off, img.Base)
			insn := -1
			if off >= f.BodyStart {
				for slot+1 < len(img.InsnOffsets) && img.InsnOffsets[slot+1] <= off {
					slot++
				}
				insn = slot
			}
			lines = append(lines, Line{Off: off, Bytes: img.Code[off : off+n], Text: text, Func: fi, Insn: insn})
			off += n
		}
	}
	return lines
}

// DumpText renders Dump as bpftool-like text: a header per function, the
// BPF slot number before the first machine instruction of each slot.
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
