package sim_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/mem"
	"jitsim/sim"
)

// hierarchy1 is the selftest tailcall_bpf2bpf_hierarchy_1: entry counts and
// calls subprog_tail twice, which tail-calls slot 0 = entry (direct).
const hierarchy1 = `
.helpers kernel
.map jmp_table prog_array key=4 value=4 max=1
.slot jmp_table 0 entry
.map count array key=4 value=4 max=1 section=.bss
.prog entry tc
	r6 = r1
	r1 = map[count][0]+0
	r2 = *(u32 *)(r1 +0)
	w2 += 1
	*(u32 *)(r1 +0) = r2
	r1 = r6
	call subprog_tail
	r1 = r6
	call subprog_tail
	r0 = 1
	exit
subprog_tail:
	r2 = map[jmp_table] ll
	r3 = 0
	call bpf_tail_call
	r0 = 0
	exit
`

// TestJITIsWhatRuns: JIT returns the image a run executes: on a fresh
// engine at the code region's base, bpf_func pointing at it, the direct
// tail call site patched to the slot's program (entry + the tail call
// offset) and its bypass a nop5; a Run after it runs those bytes (r0 1 and
// the selftest's count 34), and JIT again finds the same image.
func TestJITIsWhatRuns(t *testing.T) {
	for _, tc := range []struct {
		arch       string
		base       uint64
		tailCallAt int // X86_TAIL_CALL_OFFSET 12; arm64 PROLOGUE_OFFSET 6 * 4
	}{{"x86_64", mem.X86CodeBase, 12}, {"arm64", mem.Arm64CodeBase, 24}} {
		t.Run(tc.arch, func(t *testing.T) {
			e, err := sim.New(tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			obj := load(t, hierarchy1)
			js, err := e.JIT(obj, 0, core.Fixed)
			if err != nil {
				t.Fatal(err)
			}
			if len(js) != 1 || js[0].Index != 0 || js[0].Prog.Name != "entry" {
				t.Fatalf("JIT = %+v", js)
			}
			img := js[0].Image
			if img.Base != tc.base || img.TailCallOffset != tc.tailCallAt || len(img.Funcs) != 2 {
				t.Fatalf("base %#x, tail call offset %d, %d funcs", img.Base, img.TailCallOffset, len(img.Funcs))
			}
			set, err := e.Maps(obj)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.BpfFunc(0); got != img.Base {
				t.Errorf("bpf_func = %#x, want the image's base %#x", got, img.Base)
			}
			if tc.arch == "x86_64" {
				if len(img.Pokes) != 1 {
					t.Fatalf("pokes %+v", img.Pokes)
				}
				pk := img.Pokes[0]
				site := img.Code[pk.TailCallSite:]
				rel := int32(binary.LittleEndian.Uint32(site[1:]))
				target := img.Base + uint64(pk.TailCallSite) + 5 + uint64(int64(rel))
				if site[0] != 0xe9 || target != img.Base+12 {
					t.Errorf("tail call site % x jumps to %#x, want jmp to entry+12 = %#x", site[:5], target, img.Base+12)
				}
				if nop5 := []byte{0x0f, 0x1f, 0x44, 0x00, 0x00}; !bytes.Equal(img.Code[pk.BypassSite:pk.BypassSite+5], nop5) {
					t.Errorf("bypass % x, want the nop5", img.Code[pk.BypassSite:pk.BypassSite+5])
				}
			}
			res, err := e.Run(obj, 0, core.Input{Ctx: make([]byte, 128)}, core.RunOptions{Scheme: core.Fixed})
			if err != nil {
				t.Fatal(err)
			}
			count, _ := set.Lookup("count")
			if v, _ := count.Uint(); res.R0 != 1 || v != 34 || len(res.TailCalls) != 33 {
				t.Errorf("r0 %d, count %d, %d tail calls; want 1, 34, 33", res.R0, v, len(res.TailCalls))
			}
			again, err := e.JIT(obj, 0, core.Fixed)
			if err != nil {
				t.Fatal(err)
			}
			if a := again[0].Image; a.Base != img.Base || !bytes.Equal(a.Code, img.Code) {
				t.Errorf("JIT after the run: base %#x, code changed %v", a.Base, !bytes.Equal(a.Code, img.Code))
			}
		})
	}
}

// TestJITErrors: what JIT refuses, it refuses as Run does.
func TestJITErrors(t *testing.T) {
	e, err := sim.New("x86_64")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	obj := load(t, "r0 = 0\nexit")
	if _, err := e.JIT(obj, 1, core.Fixed); err == nil || !strings.HasSuffix(err.Error(), "jit: no program 1 (the object has 1)") {
		t.Errorf("program 1: %v", err)
	}
	if _, err := e.JIT(obj, 0, core.Scheme(7)); err == nil || !strings.Contains(err.Error(), "unknown tail call count scheme 7") {
		t.Errorf("scheme 7: %v", err)
	}
	e.Close()
	if _, err := e.JIT(obj, 0, core.Fixed); err == nil || !strings.Contains(err.Error(), "engine is closed") {
		t.Errorf("closed engine: %v", err)
	}
}

// TestRunTo: a stop at a loop's body the n-th time finds the loop counter
// at n-1 in its register (r1: rdi on x86-64, x0 on arm64); a stop past the
// end of the run says how the run ended; the engine runs normally after.
func TestRunTo(t *testing.T) {
	src := "r0 = 0\nr1 = 0\nloop:\nr0 += r1\nr1 += 1\nif r1 < 10 goto loop\nexit"
	for _, arch := range []string{"x86_64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			e, err := sim.New(arch)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			obj := load(t, src)
			js, err := e.JIT(obj, 0, core.Fixed)
			if err != nil {
				t.Fatal(err)
			}
			img := js[0].Image
			body := img.Base + uint64(img.InsnOffsets[2]) // r0 += r1
			s, err := e.RunTo(obj, 0, core.Input{}, core.RunOptions{}, sim.Stop{Addr: body, Hit: 4})
			if err != nil {
				t.Fatal(err)
			}
			// Before the 4th r0 += r1: r1 = 3, r0 = 0+1+2. x86 r10 is rbp;
			// arm64 sets x25 only in programs that use r10.
			if s.BPF[core.R1] != 3 || s.BPF[core.R0] != 3 || (arch == "x86_64" && s.BPF[core.R10] != mem.StackTop) {
				t.Errorf("r0 %d, r1 %d, r10 %#x; want 3, 3, %#x", s.BPF[core.R0], s.BPF[core.R1], s.BPF[core.R10], uint64(mem.StackTop))
			}
			pc := "rip"
			if arch == "arm64" {
				pc = "pc"
			}
			if s.Regs[pc] != body {
				t.Errorf("pc %#x, want %#x", s.Regs[pc], body)
			}
			_, err = e.RunTo(obj, 0, core.Input{}, core.RunOptions{}, sim.Stop{Addr: body, Hit: 11})
			if err == nil || !strings.Contains(err.Error(), "the run ended (r0 = 0x2d, 0 tail calls) before reaching") {
				t.Errorf("hit 11 of 10: %v", err)
			}
			res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{})
			if err != nil || res.R0 != 45 || res.Insns != 2+3*10+1 {
				t.Errorf("run after: %+v, %v", res, err)
			}
		})
	}
}

// TestPokeFollowsReset: a run without KeepMaps starts from the initial
// slots, and its direct tail call sites must say the same: a slot filled
// through the Set before such a run is empty again when it runs (r0 1, as
// the interpreter gives), and filled again when the run keeps the maps.
func TestPokeFollowsReset(t *testing.T) {
	obj := load(t, pokeProgs)
	e, err := sim.New("x86_64")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	set, err := e.Maps(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keep bool
		want uint64
	}{{false, 1}, {true, 2}} {
		if err := set.SetSlot(0, 0, 1); err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{Scheme: core.Fixed, KeepMaps: tc.keep})
		if err != nil || res.R0 != tc.want {
			t.Errorf("KeepMaps %v: %+v, %v; want r0 %d", tc.keep, res, err, tc.want)
		}
	}
}
