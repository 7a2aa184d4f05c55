package load_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/load"
)

const examplesDir = "../../examples"

func readObject(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustLoad(t testing.TB, path string) *core.Object {
	t.Helper()
	obj, err := load.ELF(path, readObject(t, path))
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return obj
}

// sourceLine returns the 1-based number of the line of the C file src that
// is exactly text (leading blanks ignored): the oracle for BTF line info.
func sourceLine(t *testing.T, src, text string) int {
	t.Helper()
	lines := strings.Split(string(readObject(t, src)), "\n")
	n := 0
	for i, l := range lines {
		if strings.TrimSpace(l) == text {
			if n != 0 {
				t.Fatalf("%s: %q on lines %d and %d", src, text, n, i+1)
			}
			n = i + 1
		}
	}
	if n == 0 {
		t.Fatalf("%s: no line %q", src, text)
	}
	return n
}

// examples pins every checked-in example object: its programs in ELF order
// (type, section, slot count, function entries in link order) and its maps
// in creation order (declaration, prog array slots from .values, global
// variables with offset and size, initial contents). Programs, maps and
// globals are what the C sources declare; slot counts are clang's (the
// function symbols' sizes, which TestFunctionBytes checks slot by slot).
var examples = []struct {
	file        string
	progs, maps []string
}{
	{"real/counter.o",
		[]string{
			"count_by_proto socket_filter sec socket slots 32 funcs count_by_proto@0",
		},
		[]string{
			"counts hash key 4 value 16 max 64",
			".bss array key 4 value 8 max 1 var dropped_updates@0+8 elem 00000000=0000000000000000",
		}},
	{"real/parse.o",
		[]string{
			"parse sched_cls sec tc slots 149 funcs parse@0 tcp_mss@105",
		},
		[]string{
			"syn_count array key 4 value 8 max 3",
			".bss array key 4 value 8 max 1 var parsed@0+8 elem 00000000=0000000000000000",
		}},
	{"real/xdp_drop.o",
		[]string{
			"xdp_drop_port xdp sec xdp slots 57 funcs xdp_drop_port@0",
		},
		[]string{
			"blocked hash key 2 value 8 max 256",
			".rodata array key 4 value 2 max 1 flags 0x80 var default_port@0+2 elem 00000000=901f",
			".data array key 4 value 4 max 1 var enabled@0+4 elem 00000000=01000000",
			".bss array key 4 value 8 max 1 var dropped_total@0+8 elem 00000000=0000000000000000",
		}},
	{"seed/demo.o",
		[]string{
			"classifier_01 sched_cls sec tc slots 25 funcs classifier_01@0 subprog_tail_01@8",
			"classifier_23 sched_cls sec tc slots 25 funcs classifier_23@0 subprog_tail_23@8",
			"entry sched_cls sec tc slots 16 funcs entry@0 subprog_tailcall@8",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 4",
			".bss array key 4 value 8 max 1 var count0@0+4 var count1@4+4 elem 00000000=0000000000000000",
		}},
	{"tailcall/tailcall1.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 2 funcs classifier_0@0",
			"classifier_1 sched_cls sec tc slots 2 funcs classifier_1@0",
			"classifier_2 sched_cls sec tc slots 2 funcs classifier_2@0",
			"entry sched_cls sec tc slots 53 funcs entry@0",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 3 progs 0=classifier_0 1=classifier_1 2=classifier_2",
		}},
	{"tailcall/tailcall2.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 9 funcs classifier_0@0",
			"classifier_1 sched_cls sec tc slots 9 funcs classifier_1@0",
			"classifier_2 sched_cls sec tc slots 2 funcs classifier_2@0",
			"classifier_3 sched_cls sec tc slots 9 funcs classifier_3@0",
			"classifier_4 sched_cls sec tc slots 9 funcs classifier_4@0",
			"entry sched_cls sec tc slots 17 funcs entry@0",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 5 progs 0=classifier_0 1=classifier_1 2=classifier_2 3=classifier_3 4=classifier_4",
		}},
	{"tailcall/tailcall3.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 14 funcs classifier_0@0",
			"entry sched_cls sec tc slots 9 funcs entry@0",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 1 progs 0=classifier_0",
			".bss array key 4 value 4 max 1 var count@0+4 elem 00000000=00000000",
		}},
	{"tailcall/tailcall4.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 2 funcs classifier_0@0",
			"classifier_1 sched_cls sec tc slots 2 funcs classifier_1@0",
			"classifier_2 sched_cls sec tc slots 2 funcs classifier_2@0",
			"entry sched_cls sec tc slots 8 funcs entry@0",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 3 progs 0=classifier_0 1=classifier_1 2=classifier_2",
			".bss array key 4 value 4 max 1 var selector@0+4 elem 00000000=00000000",
		}},
	{"tailcall/tailcall5.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 2 funcs classifier_0@0",
			"classifier_1 sched_cls sec tc slots 2 funcs classifier_1@0",
			"classifier_2 sched_cls sec tc slots 2 funcs classifier_2@0",
			"entry sched_cls sec tc slots 15 funcs entry@0",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 3 progs 0=classifier_0 1=classifier_1 2=classifier_2",
			".bss array key 4 value 4 max 1 var selector@0+4 elem 00000000=00000000",
		}},
	{"tailcall/tailcall6.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 13 funcs classifier_0@0",
			"entry sched_cls sec tc slots 8 funcs entry@0",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 1 progs 0=classifier_0",
			".bss array key 4 value 8 max 1 var count@0+4 var which@4+4 elem 00000000=0000000000000000",
		}},
	{"tailcall/tailcall_bpf2bpf1.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 2 funcs classifier_0@0",
			"classifier_1 sched_cls sec tc slots 2 funcs classifier_1@0",
			"entry sched_cls sec tc slots 20 funcs entry@0 subprog_tail@10",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 2 progs 0=classifier_0 1=classifier_1",
		}},
	{"tailcall/tailcall_bpf2bpf2.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 25 funcs classifier_0@0 subprog_tail@8",
			"entry sched_cls sec tc slots 9 funcs entry@0",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 1 progs 0=classifier_0",
			".bss array key 4 value 4 max 1 var count@0+4 elem 00000000=00000000",
		}},
	{"tailcall/tailcall_bpf2bpf3.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 56 funcs classifier_0@0 subprog_tail2@23",
			"classifier_1 sched_cls sec tc slots 24 funcs classifier_1@0",
			"entry sched_cls sec tc slots 46 funcs entry@0 subprog_tail@23",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 2 progs 0=classifier_0 1=classifier_1",
		}},
	{"tailcall/tailcall_bpf2bpf4.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 12 funcs classifier_0@0 subprog_tail_1@2",
			"classifier_1 sched_cls sec tc slots 23 funcs classifier_1@0 subprog_tail_2@2",
			"classifier_2 sched_cls sec tc slots 28 funcs classifier_2@0 subprog_tail_2@7",
			"entry sched_cls sec tc slots 11 funcs entry@0 subprog_tail@2",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 3 progs 0=classifier_0 1=classifier_1 2=classifier_2",
			"nop_table array key 4 value 4 max 1",
			".bss array key 4 value 8 max 1 var count@0+4 var noise@4+4 elem 00000000=0000000000000000",
		}},
	{"tailcall/tailcall_bpf2bpf6.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 6 funcs classifier_0@0",
			"entry sched_cls sec tc slots 16 funcs entry@0 subprog_tail@5",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 1 progs 0=classifier_0",
			".bss array key 4 value 4 max 1 var done@0+4 elem 00000000=00000000",
		}},
	{"tailcall/tailcall_bpf2bpf_hierarchy1.o",
		[]string{
			"entry sched_cls sec tc slots 22 funcs entry@0 subprog_tail@14",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 1 progs 0=entry",
			".bss array key 4 value 4 max 1 var count@0+4 elem 00000000=00000000",
		}},
	{"tailcall/tailcall_bpf2bpf_hierarchy2.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 16 funcs classifier_0@0 subprog_tail0@8",
			"classifier_1 sched_cls sec tc slots 16 funcs classifier_1@0 subprog_tail1@8",
			"tailcall_bpf2bpf_hierarchy_2 sched_cls sec tc slots 29 funcs tailcall_bpf2bpf_hierarchy_2@0 subprog_tail0@13 subprog_tail1@21",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 2 progs 0=classifier_0 1=classifier_1",
			".bss array key 4 value 8 max 1 var count0@0+4 var count1@4+4 elem 00000000=0000000000000000",
		}},
	{"tailcall/tailcall_bpf2bpf_hierarchy3.o",
		[]string{
			"classifier_0 sched_cls sec tc slots 23 funcs classifier_0@0 subprog_tail@16",
			"tailcall_bpf2bpf_hierarchy_3 sched_cls sec tc slots 9 funcs tailcall_bpf2bpf_hierarchy_3@0",
		},
		[]string{
			"jmp_table0 prog_array key 4 value 4 max 1 progs 0=classifier_0",
			"jmp_table1 prog_array key 4 value 4 max 1 progs 0=classifier_0",
			".bss array key 4 value 4 max 1 var count@0+4 elem 00000000=00000000",
		}},
	{"tailcall/tailcall_jit.o",
		[]string{
			"main sched_cls sec tc slots 8 funcs main@0 sub@3",
		},
		[]string{
			"jmp_table prog_array key 4 value 4 max 1 progs 0=main",
		}},
}

func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*", "*.o"))
	if err != nil || len(files) != len(examples) {
		t.Fatalf("%d example objects, %d in the table (%v)", len(files), len(examples), err)
	}
	for _, ex := range examples {
		t.Run(ex.file, func(t *testing.T) {
			obj := mustLoad(t, filepath.Join(examplesDir, ex.file))
			var progs, maps []string
			for _, p := range obj.Progs {
				progs = append(progs, describeProg(p))
			}
			for _, m := range obj.Maps {
				maps = append(maps, describeMap(m))
			}
			if !slices.Equal(progs, ex.progs) {
				t.Errorf("programs:\n%s\nwant:\n%s", strings.Join(progs, "\n"), strings.Join(ex.progs, "\n"))
			}
			if !slices.Equal(maps, ex.maps) {
				t.Errorf("maps:\n%s\nwant:\n%s", strings.Join(maps, "\n"), strings.Join(ex.maps, "\n"))
			}
			if obj.Helpers != core.HelpersKernel || len(obj.Notes) != 0 {
				t.Errorf("helpers %v, notes %q", obj.Helpers, obj.Notes)
			}
			if err := analysis.Check(obj); err != nil {
				t.Errorf("analysis rejects clang's output: %v", err)
			}
		})
	}
}

// TestFunctionBytes checks every loaded program against the object's own
// bytes, read with debug/elf: each function entry of a program starts the
// exact slots of that function's symbol, and the functions fill the
// program. Slots the loader must rewrite are checked for what they become:
// an ld_imm64 of a map or global gets src 1 or 2 and a map index, a
// pseudo call an immediate that lands on a function entry.
func TestFunctionBytes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*", "*.o"))
	more, _ := filepath.Glob("testdata/*.o")
	for _, file := range append(files, more...) {
		obj, err := load.ELF(file, readObject(t, file))
		if err != nil || file == "testdata/core_ok.o" {
			continue // bad input, and CO-RE rewrites: other tests pin them
		}
		f, err := elf.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		syms, _ := f.Symbols()
		funcs := map[string]elf.Symbol{}
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
				funcs[s.Name] = s
			}
		}
		for _, p := range obj.Progs {
			entries := map[int]bool{}
			for _, s := range p.Symbols {
				entries[s.Insn] = true
			}
			end := len(p.Insns)
			for k := len(p.Symbols) - 1; k >= 0; k-- {
				s := p.Symbols[k]
				sym, ok := funcs[s.Name]
				if !ok {
					t.Fatalf("%s: %s: no function symbol %s", file, p.Name, s.Name)
				}
				code, err := f.Sections[sym.Section].Data()
				if err != nil {
					t.Fatal(err)
				}
				want := code[sym.Value : sym.Value+sym.Size]
				got := core.EncodeInsns(p.Insns[s.Insn:end])
				if len(got) != len(want) {
					t.Fatalf("%s: %s: function %s has %d slots, its symbol %d", file, p.Name, s.Name, len(got)/8, len(want)/8)
				}
				for i := 0; i < len(want); i += 8 {
					slot := s.Insn + i/8
					ins := p.Insns[slot]
					g, w := got[i:i+8], want[i:i+8]
					switch {
					case ins.IsLdImm64() && (ins.Src == core.PseudoMapFD || ins.Src == core.PseudoMapValue):
						if g[0] != w[0] || w[1]>>4 != 0 || g[1]&15 != w[1]&15 || int(ins.Imm) >= len(obj.Maps) {
							t.Errorf("%s: %s slot %d: map reference % x from % x", file, p.Name, slot, g, w)
						}
						i += 8 // the second slot holds the offset the loader computed
					case ins.IsPseudoCall():
						if !bytes.Equal(g[:4], w[:4]) || !entries[ins.CallTarget(slot)] {
							t.Errorf("%s: %s slot %d: call % x lands on %d, not a function entry", file, p.Name, slot, g, ins.CallTarget(slot))
						}
					case !bytes.Equal(g, w):
						t.Errorf("%s: %s slot %d: % x, the object has % x", file, p.Name, slot, g, w)
					}
				}
				end = s.Insn
			}
			if end != 0 {
				t.Errorf("%s: %s: slots 0-%d belong to no function", file, p.Name, end)
			}
		}
		f.Close()
	}
}

// TestDemo pins the seed's demo exactly: entry linked with its subprogram,
// pseudo-call immediates relative to the next slot, the map and global
// references as indices into Object.Maps, and positions down to the C line.
func TestDemo(t *testing.T) {
	const file = examplesDir + "/seed/demo.o"
	obj := mustLoad(t, file)
	if len(obj.Progs) != 3 || len(obj.Maps) != 2 || obj.Maps[0].Name != "jmp_table" || obj.Maps[1].Name != ".bss" {
		t.Fatalf("programs %d, maps %d", len(obj.Progs), len(obj.Maps))
	}
	entry := obj.Progs[2]
	mov := func(dst, src core.Reg) core.Insn {
		return core.Insn{Op: core.ALU64 | core.X | core.Mov, Dst: dst, Src: src}
	}
	movK := func(dst core.Reg, imm int32) core.Insn {
		return core.Insn{Op: core.ALU64 | core.K | core.Mov, Dst: dst, Imm: imm}
	}
	exit := core.Insn{Op: core.JMP | core.Exit}
	want := []core.Insn{
		mov(core.R6, core.R1),
		movK(core.R2, 0),
		{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: 5}, // slot 8 - (2+1)
		mov(core.R1, core.R6),
		movK(core.R2, 2),
		{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: 2}, // slot 8 - (5+1)
		movK(core.R0, 0),
		exit,
		// subprog_tailcall
		mov(core.R3, core.R2),
		movK(core.R2, 0),
		{Op: core.STX | core.MEM | core.W, Dst: core.R10, Src: core.R2, Off: -4},
		{Op: core.LD | core.IMM | core.DW, Dst: core.R2, Src: core.PseudoMapFD, Imm: 0}, // jmp_table
		{},
		{Op: core.JMP | core.Call, Imm: 12}, // bpf_tail_call
		{Op: core.LDX | core.MEM | core.W, Dst: core.R1, Src: core.R10, Off: -4},
		exit,
	}
	if !slices.Equal(entry.Insns, want) {
		t.Errorf("entry:\n%v\nwant:\n%v", entry.Insns, want)
	}
	// count0++ and count1++: the .bss map (index 1) at offsets 0 and 4.
	for i, off := range []int32{0, 4} {
		lo, hi := obj.Progs[i].Insns[0], obj.Progs[i].Insns[1]
		if lo.Src != core.PseudoMapValue || lo.Imm != 1 || hi.Imm != off {
			t.Errorf("%s: global access %v %v, want map 1 offset %d", obj.Progs[i].Name, lo, hi, off)
		}
	}

	src := examplesDir + "/seed/demo.c"
	callLine := sourceLine(t, src, "bpf_tail_call(skb, &jmp_table, index);")
	for slot := 11; slot <= 13; slot++ {
		pos := entry.PosOf(slot)
		want := core.Pos{File: file, Section: ".text", Line: callLine, Col: 5, Source: "bpf_tail_call(skb, &jmp_table, index);", Insn: slot}
		if pos != want {
			t.Errorf("slot %d: %+v, want %+v", slot, pos, want)
		}
	}
	if pos := entry.PosOf(0); pos.Section != "tc" || pos.Line != sourceLine(t, src, "int entry(struct __sk_buff *skb)") {
		t.Errorf("slot 0: %+v", pos)
	}
	if got := entry.PosOf(13).String(); got != file+":.text:71:5 (insn 13)" {
		t.Errorf("position prints as %q", got)
	}
	// One Origin per distinct section and C line, shared by its slots.
	if o := entry.SlotPos[11].Origin; entry.SlotPos[12].Origin != o || entry.SlotPos[13].Origin != o {
		t.Errorf("slots 11-13 of one C line have origins %+v", entry.SlotPos[11:14])
	}
	seen := map[core.Origin]bool{}
	for _, o := range entry.Origins {
		if seen[o] {
			t.Errorf("origin %+v twice in %+v", o, entry.Origins)
		}
		seen[o] = true
	}
}

// TestDemoListing checks the bpftool-style listing of entry, with the C
// source lines quoted as "bpftool prog dump xlated linum" does.
func TestDemoListing(t *testing.T) {
	obj := mustLoad(t, examplesDir+"/seed/demo.o")
	var b strings.Builder
	if err := core.WriteXlated(&b, obj, obj.Progs[2], false); err != nil {
		t.Fatal(err)
	}
	want := `entry:
; int entry(struct __sk_buff *skb)
   0: (bf) r6 = r1
; subprog_tailcall(skb, 0);
   1: (b7) r2 = 0
   2: (85) call subprog_tailcall
; subprog_tailcall(skb, 2);
   3: (bf) r1 = r6
   4: (b7) r2 = 2
   5: (85) call subprog_tailcall
; return 0;
   6: (b7) r0 = 0
   7: (95) exit
subprog_tailcall:
; int subprog_tailcall(struct __sk_buff *skb, int index)
   8: (bf) r3 = r2
   9: (b7) r2 = 0
; volatile int retval = 0;
  10: (63) *(u32 *)(r10 -4) = r2
; bpf_tail_call(skb, &jmp_table, index);
  11: (18) r2 = map[jmp_table]
  13: (85) call bpf_tail_call#12
; return retval;
  14: (61) r1 = *(u32 *)(r10 -4)
  15: (95) exit
`
	if b.String() != want {
		t.Errorf("listing:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestCORE: relocations against a uapi struct are applied (the local
// flavour has mark at 0 and len at 4; struct __sk_buff has len at 0 and
// mark at 8).
func TestCORE(t *testing.T) {
	obj := mustLoad(t, "testdata/core_ok.o")
	p := obj.Progs[0]
	if len(p.Insns) != 11 {
		t.Fatalf("%d slots", len(p.Insns))
	}
	ldx := func(dst core.Reg, off int16) core.Insn {
		return core.Insn{Op: core.LDX | core.MEM | core.W, Dst: dst, Src: core.R1, Off: off}
	}
	if p.Insns[7] != ldx(core.R2, 0) || p.Insns[8] != ldx(core.R0, 8) {
		t.Errorf("relocated loads: %v, %v", p.Insns[7], p.Insns[8])
	}
	// bpf_core_field_exists(s->mark) becomes the constant 1.
	if p.Insns[5] != (core.Insn{Op: core.ALU64 | core.K | core.Mov, Dst: core.R2, Imm: 1}) {
		t.Errorf("field_exists: %v", p.Insns[5])
	}
	if err := analysis.Check(obj); err != nil {
		t.Error(err)
	}
}

// TestUnmodelledProgType: a kprobe loads as unspec, with a note.
func TestUnmodelledProgType(t *testing.T) {
	obj := mustLoad(t, "testdata/kprobe.o")
	want := `testdata/kprobe.o: program probe (section "kprobe/do_nanosleep"): type Kprobe is not modelled, loaded as unspec`
	if len(obj.Progs) != 1 || obj.Progs[0].Type != core.ProgTypeUnspec || !slices.Equal(obj.Notes, []string{want}) {
		t.Fatalf("programs %d, notes %q", len(obj.Progs), obj.Notes)
	}
	if err := analysis.Check(obj); err != nil {
		t.Error(err)
	}
}

// patch returns a copy of data with b written at off.
func patch(data []byte, off int, b ...byte) []byte {
	c := slices.Clone(data)
	copy(c[off:], b)
	return c
}

func TestBadObjects(t *testing.T) {
	demo := readObject(t, examplesDir+"/seed/demo.o")
	f, err := elf.NewFile(bytes.NewReader(demo))
	if err != nil {
		t.Fatal(err)
	}
	btfSec := f.Section(".BTF")
	mapsSec := f.Section(".maps")
	// sh_size of .bss: e_shoff at 0x28, e_shentsize at 0x3a, sh_size at
	// 0x20 in an Elf64_Shdr.
	bss := slices.IndexFunc(f.Sections, func(s *elf.Section) bool { return s.Name == ".bss" })
	bssSize := int(binary.LittleEndian.Uint64(demo[0x28:])) + bss*int(binary.LittleEndian.Uint16(demo[0x3a:])) + 0x20
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       string   // fragment of the message
		pos        core.Pos // expected position (File is the test's file)
		prog       string
	}{
		{"empty", "x.o", nil, "not an ELF object", core.Pos{Insn: -1}, ""},
		{"text", "x.o", []byte("r0 = 0\nexit\n"), "not an ELF object", core.Pos{Insn: -1}, ""},
		{"header only", "x.o", demo[:64], "reading ELF", core.Pos{Insn: -1}, ""},
		{"truncated", "x.o", demo[:len(demo)/2], "reading ELF", core.Pos{Insn: -1}, ""},
		{"x86-64", "x.o", patch(demo, 18, byte(elf.EM_X86_64), 0), "ELF object for EM_X86_64, not BPF", core.Pos{Insn: -1}, ""},
		{"big-endian", "x.o", patch(demo, elf.EI_DATA, byte(elf.ELFDATA2MSB)), "big-endian ELF object", core.Pos{Insn: -1}, ""},
		{"32-bit", "x.o", patch(demo, elf.EI_CLASS, byte(elf.ELFCLASS32)), "32-bit ELF object", core.Pos{Insn: -1}, ""},
		{"huge .bss", "x.o", patch(demo, bssSize, 0, 0, 0, 0xf0), "section .bss holds 4026531840 bytes: a global data map's value is at most 4194304",
			core.Pos{Section: ".bss", Insn: -1}, ""},
		{"corrupt BTF", "x.o", patch(demo, int(btfSec.Offset), 0xde, 0xad, 0xbe, 0xef), "load BTF", core.Pos{Insn: -1}, ""},
		{"map section cut", "x.o", patch(demo, int(mapsSec.Offset), 1), "load BTF maps", core.Pos{Insn: -1}, ""},
		{"ring buffer map", "testdata/bad_maptype.o", nil, "map events: type RingBuf is not supported (jitsim models array, hash and prog_array)",
			core.Pos{Section: ".maps", Insn: -1}, ""},
		{"kfunc", "testdata/bad_kfunc.c", nil, "call to kfunc bpf_rcu_read_lock: kfuncs are not supported",
			core.Pos{Section: "tc", Line: 12, Col: 2, Source: "bpf_rcu_read_lock();", Insn: 0}, "locked"},
		{"CO-RE", "testdata/core_bad.c", nil, `cannot resolve CORERelocation(byte_off, Struct:"task_struct"[0:1], local_id=`,
			core.Pos{Section: "tc", Line: 17, Col: 2, Source: "return t->tgid;", Insn: 1}, "task_pid"},
		{"kconfig", "testdata/bad_kconfig.c", nil, "of an extern variable jitsim cannot resolve (__kconfig)",
			core.Pos{Section: "tc", Line: 12, Col: 9, Source: "return LINUX_KERNEL_VERSION > 0x60000;", Insn: 0}, "version"},
		{"tail call to a subprogram", "testdata/bad_slot.o", nil, "map jmp_table: slot 1 names helper, which is no program of the object",
			core.Pos{Section: ".maps", Insn: -1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, data := tc.file, tc.data
			if strings.HasSuffix(file, ".c") {
				if want := sourceLine(t, file, tc.pos.Source); want != tc.pos.Line {
					t.Fatalf("the table says line %d, %s has it on %d", tc.pos.Line, file, want)
				}
				file = strings.TrimSuffix(file, ".c") + ".o"
			}
			if data == nil && file != "x.o" {
				data = readObject(t, file)
			}
			obj, err := load.ELF(file, data)
			if obj != nil || err == nil {
				t.Fatalf("object %v, error %v", obj, err)
			}
			e, ok := errors.AsType[*core.Error](err)
			if !ok {
				t.Fatalf("%T %v is no *core.Error", err, err)
			}
			want := tc.pos
			want.File = file
			if e.Op != "load" || e.Pos != want || e.Prog != tc.prog || !strings.Contains(e.Error(), tc.want) {
				t.Errorf("%s (pos %+v prog %q)\nwant %q at %+v in %q", e, e.Pos, e.Prog, tc.want, want, tc.prog)
			}
		})
	}
}

// TestUnmodelledHelper: the object loads; the verifier-lite rejects the
// helper call at its slot, and the error quotes the C line's position.
func TestUnmodelledHelper(t *testing.T) {
	const file = "testdata/bad_helper.o"
	obj := mustLoad(t, file)
	err := analysis.Check(obj)
	e, ok := errors.AsType[*core.Error](err)
	if !ok {
		t.Fatalf("%v", err)
	}
	line := sourceLine(t, "testdata/bad_helper.c", "return bpf_get_smp_processor_id();")
	want := core.Pos{File: file, Section: "tc", Line: line, Col: 10, Source: "return bpf_get_smp_processor_id();", Insn: 4}
	if e.Pos != want || e.Prog != "cpu" || !strings.Contains(e.Error(), "bpf_get_smp_processor_id is a kernel helper jitsim does not model") {
		t.Errorf("%v (pos %+v)", e, e.Pos)
	}
}
