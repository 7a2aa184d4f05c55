package sim

import (
	"fmt"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
)

// A CPU exception in JITed code (what a backend bug would raise: x86 #DE
// from an unguarded div, an undefined instruction) stops the run with an
// error naming the BPF instruction whose code raised it, and the engine
// runs the next program normally. The code of insn 2 is overwritten with
// the faulting sequence, since correct backends never raise these.
func TestCPUException(t *testing.T) {
	src := "r0 = 1\nr1 = 2\nr2 = 3\nr0 += r2\nexit"
	obj, err := asm.Parse("t.s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := analysis.Check(obj); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arch string
		code []byte // at insn 2, the rest of its code nop-padded
		nop  []byte
		at   int    // offset of the raising instruction in code
		want string // %#x: its address
	}{
		{"x86_64", []byte{0x31, 0xc9, 0x48, 0xf7, 0xf1}, []byte{0x90}, 2, // xor ecx,ecx; div rcx
			"t.s:3:1 (insn 2): run: cpu #DE (divide error) at %#x"},
		{"x86_64", []byte{0x0f, 0x0b}, []byte{0x90}, 0, // ud2
			"t.s:3:1 (insn 2): run: cpu invalid instruction at %#x"},
		{"arm64", []byte{0, 0, 0, 0}, []byte{0x1f, 0x20, 0x03, 0xd5}, 0, // udf #0
			"t.s:3:1 (insn 2): run: cpu undefined instruction at %#x"},
	} {
		e, err := New(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		im, err := e.image(obj.Progs[0], obj.Progs[0], obj.Helpers, core.Fixed)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := im.img.InsnOffsets[2], im.img.InsnOffsets[3]
		if hi-lo < len(tc.code) {
			// mov r2, 3 is 5 bytes on x86 (mov esi, imm32), one word on arm64.
			t.Fatalf("%s: insn 2 has %d bytes of code, want at least %d", tc.arch, hi-lo, len(tc.code))
		}
		patch := append([]byte(nil), tc.code...)
		for len(patch) < hi-lo {
			patch = append(patch, tc.nop...)
		}
		copy(e.code.Data[im.off+lo:], patch)
		if err := e.u.RemoveCache(im.img.Base+uint64(lo), im.img.Base+uint64(hi)); err != nil {
			t.Fatal(err)
		}
		_, err = e.Run(obj, 0, core.Input{}, core.RunOptions{})
		want := fmt.Sprintf(tc.want, im.img.Base+uint64(lo+tc.at))
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s %x: %v, want %q", tc.arch, tc.code, err, want)
		}
		// The same engine runs another program.
		ok, err := asm.Parse("ok.s", []byte("r0 = 42\nexit"))
		if err == nil {
			err = analysis.Check(ok)
		}
		if err != nil {
			t.Fatal(err)
		}
		if res, err := e.Run(ok, 0, core.Input{}, core.RunOptions{}); err != nil || res.R0 != 42 {
			t.Errorf("%s after the exception: %v, %v", tc.arch, res, err)
		}
		e.Close()
	}
}
