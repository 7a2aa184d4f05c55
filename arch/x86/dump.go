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

// decode disassembles the instruction at code[off:], placed at image
// offset off so that branch targets print as offsets. x86asm does not know
// ENDBR64 (it decodes F3 alone as "rep"), so that one is recognised here.
// Undecodable bytes come back as a one-byte "(bad)".
func decode(code []byte, off int) (string, int) {
	b := code[off:]
	if bytes.HasPrefix(b, endbr64) {
		return "endbr64", len(endbr64)
	}
	inst, err := x86asm.Decode(b, 64)
	if err != nil || inst.Len == 0 {
		return "(bad)", 1
	}
	return x86asm.GNUSyntax(inst, pcBias+uint64(off), offsetName), inst.Len
}

// pcBias moves the image away from address 0, where GNUSyntax prints branch
// targets as ".+rel"; offsetName then names every biased address by its
// image offset, so targets print as "0x4e", not as a distance.
const pcBias = 1 << 40

func offsetName(addr uint64) (string, uint64) {
	if addr < pcBias {
		return "", 0
	}
	return fmt.Sprintf("%#x", addr-pcBias), addr
}

// Dump disassembles a whole image, function by function.
func Dump(img *jit.Image) []Line {
	var lines []Line
	slot := 0
	for fi, f := range img.Funcs {
		for off := f.Start; off < f.End; {
			text, n := decode(img.Code[:f.End], off)
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
