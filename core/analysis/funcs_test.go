package analysis_test

import (
	"slices"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
)

func assemble(t testing.TB, src string) *core.Object {
	t.Helper()
	obj, err := asm.Parse("t.s", []byte(src))
	if err != nil {
		t.Fatalf("assembling:\n%s\n%v", src, err)
	}
	return obj
}

// saved builds a CalleeSaved array from register numbers.
func saved(regs ...core.Reg) (cs [4]bool) {
	for _, r := range regs {
		cs[r-core.R6] = true
	}
	return cs
}

// f builds an expected core.Func. flags: "tc" HasTailCall, "reach"
// TailCallReachable.
func f(name string, start, end, depth int, cs [4]bool, flags ...string) core.Func {
	fn := core.Func{Name: name, Start: start, End: end, StackDepth: depth, CalleeSaved: cs}
	for _, fl := range flags {
		switch fl {
		case "tc":
			fn.HasTailCall = true
		case "reach":
			fn.TailCallReachable = true
		}
	}
	return fn
}

const progArray = ".map jmp prog_array key=4 value=4 max=4\n"

// TestFuncs pins the facts the JITs read, for programs whose expected
// values follow from the kernel's rules (each row says which).
func TestFuncs(t *testing.T) {
	none := [4]bool{}
	for _, tc := range []struct {
		name, src string
		want      []core.Func
	}{
		{"main only, no stack", "r0 = 0\nexit", []core.Func{f("main", 0, 2, 0, none)}},
		{"a 1-byte store at r10-3 makes 8 (grow_stack_state rounds to 8)",
			"*(u8 *)(r10 -3) = 1\nr0 = 0\nexit", []core.Func{f("main", 0, 3, 8, none)}},
		{"r10-derived pointer plus a constant",
			"r1 = r10\nr1 += -16\n*(u64 *)(r1 +0) = 0\nr0 = 0\nexit", []core.Func{f("main", 0, 5, 16, none)}},
		{"a helper's key argument counts from the pointer (check_helper_mem_access)",
			".map m hash key=4 value=8 max=4\nr1 = map[m] ll\nr2 = r10\nr2 += -20\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 7, 24, none)}},
		{"conformance stack.data: an offset through a constant register",
			"mov %r1, 51\nstdw [%r10-16], 0xab\nstdw [%r10-8], 0xcd\nand %r1, 1\nlsh %r1, 3\nmov %r2, %r10\nadd %r2, %r1\nldxdw %r0, [%r2-16]\nexit",
			[]core.Func{f("main", 0, 9, 16, none)}},
		{"a callee's store through its caller's pointer counts in the caller's frame",
			"r1 = r10\nr1 += -24\ncall g\nr0 = 0\nexit\ng:\n*(u64 *)(r1 +8) = 0\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 5, 16, none), f("g", 5, 8, 0, none)}},
		{"the pointer passed on twice: main's -40, +8 in g, +4 in h reaches -28",
			"r1 = r10\nr1 += -40\ncall g\nexit\ng:\nr2 = r1\nr2 += 8\ncall h\nexit\nh:\n*(u32 *)(r2 +4) = 0\nexit",
			[]core.Func{f("main", 0, 4, 32, none), f("g", 4, 8, 0, none), f("h", 8, 10, 0, none)}},
		{"a spilled stack pointer, reloaded and used",
			"r1 = r10\nr1 += -32\n*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\n*(u32 *)(r2 +0) = 1\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 7, 32, none)}},
		{"an unbounded index into the stack: the whole 512 bytes",
			"r2 = *(u64 *)(r1 +0)\nr3 = r10\nr3 += r2\n*(u8 *)(r3 -1) = 0\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 6, 512, none)}},
		{"a non-negative index keeps the base offset as the lowest byte",
			"r2 = *(u8 *)(r1 +0)\nr3 = r10\nr3 += -64\nr3 += r2\n*(u8 *)(r3 +0) = 0\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 7, 64, none)}},
		{"a pointer stepped up in a loop keeps its start as the lower bound",
			"r1 = r10\nr1 += -64\nloop:\n*(u64 *)(r1 +0) = 0\nr1 += 8\nif r1 != r10 goto loop\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 7, 64, none)}},
		{"a pointer stepped down in a loop is widened away (conservative: the kernel says 64)",
			"r1 = r10\nr2 = r10\nr2 += -64\nloop:\nr1 += -8\n*(u64 *)(r1 +0) = 0\nif r1 != r2 goto loop\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 8, 512, none)}},
		{"a branch on constants is decided, as is_branch_taken does: the store never runs",
			"r1 = 1\nif r1 == 0 goto far\nr0 = 0\nexit\nfar:\n*(u64 *)(r10 -400) = 0\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 7, 0, none)}},
		{"callee-saved registers per function (detect_reg_usage: dst or src)",
			"r6 = 1\nr9 = r6\ncall g\nr0 = 0\nexit\ng:\nr7 = 2\nr0 = r7\nexit",
			[]core.Func{f("main", 0, 5, 0, saved(core.R6, core.R9)), f("g", 5, 8, 0, saved(core.R7))}},
		{"LD_ABS reads the context from r6 (bpf_gen_ld_abs names it)",
			".prog p socket_filter\nr0 = *(u8 *)skb[0]\nexit",
			[]core.Func{f("p", 0, 2, 0, saved(core.R6))}},

		// tail_call_reachable (check_subprogs, check_max_stack_depth_subprog).
		{"main-only tail call: check_subprogs marks main, so the JIT sets up the count",
			progArray + "r2 = map[jmp] ll\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 6, 0, none, "tc", "reach")}},
		{"main calls a subprogram that tail-calls (tailcall_bpf2bpf_1)",
			progArray + "call sub\nr0 = 0\nexit\nsub:\nr2 = map[jmp] ll\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 3, 0, none, "reach"), f("sub", 3, 9, 0, none, "tc", "reach")}},
		{"hierarchy_1: the tail-calling subprogram called twice",
			progArray + "call sub\ncall sub\nexit\nsub:\nr2 = map[jmp] ll\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 3, 0, none, "reach"), f("sub", 3, 9, 0, none, "tc", "reach")}},
		{"nested: main -> a -> b, b tail-calls: every caller on the stack is marked",
			progArray + "call a\nexit\na:\ncall b\nexit\nb:\nr2 = map[jmp] ll\nr3 = 0\ncall bpf_tail_call\nexit",
			[]core.Func{f("main", 0, 2, 0, none, "reach"), f("a", 2, 4, 0, none, "reach"), f("b", 4, 9, 0, none, "tc", "reach")}},
		{"a leaf walked before the first tail caller stays unmarked",
			progArray + "call l\ncall t\nexit\nl:\nr0 = 1\nexit\nt:\nr2 = map[jmp] ll\ncall bpf_tail_call\nexit",
			[]core.Func{f("main", 0, 3, 0, none, "reach"), f("l", 3, 5, 0, none), f("t", 5, 9, 0, none, "tc", "reach")}},
		{"the walk's flag is sticky: b calls nothing that tail-calls yet is marked; its leaf is not",
			progArray + "call t\ncall b\nexit\nt:\nr2 = map[jmp] ll\ncall bpf_tail_call\nexit\nb:\ncall l\nexit\nl:\nexit",
			[]core.Func{f("main", 0, 3, 0, none, "reach"), f("t", 3, 7, 0, none, "tc", "reach"),
				f("b", 7, 9, 0, none, "reach"), f("l", 9, 10, 0, none)}},
		{"the flag set deep in the walk: a's later callees with calls are marked, leaves are not",
			progArray + "call a\nexit\na:\ncall l1\ncall t\ncall l2\ncall b\nexit\nl1:\nexit\nt:\nr2 = map[jmp] ll\ncall bpf_tail_call\nexit\nl2:\nexit\nb:\ncall l3\nexit\nl3:\nexit",
			[]core.Func{f("main", 0, 2, 0, none, "reach"), f("a", 2, 7, 0, none, "reach"), f("l1", 7, 8, 0, none),
				f("t", 8, 12, 0, none, "tc", "reach"), f("l2", 12, 13, 0, none), f("b", 13, 15, 0, none, "reach"), f("l3", 15, 16, 0, none)}},
		{"main tail-calls and calls a plain subprogram: the subprogram is not marked",
			progArray + "call s\nr2 = map[jmp] ll\ncall bpf_tail_call\nexit\ns:\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 5, 0, none, "tc", "reach"), f("s", 5, 7, 0, none)}},
		{"xlated JMP|TAIL_CALL counts as a tail call",
			"call s\nexit\ns:\ntail_call\nr0 = 0\nexit",
			[]core.Func{f("main", 0, 2, 0, none, "reach"), f("s", 2, 5, 0, none, "tc", "reach")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := assemble(t, tc.src)
			if err := analysis.Check(obj); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := obj.Progs[0].Funcs; !slices.Equal(got, tc.want) {
				t.Errorf("Funcs\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func ins(op uint8, dst, src core.Reg, off int16, imm int32) core.Insn {
	return core.Insn{Op: op, Dst: dst, Src: src, Off: off, Imm: imm}
}

var (
	exit = ins(core.JMP|core.Exit, 0, 0, 0, 0)
	mov0 = ins(core.ALU64|core.Mov|core.K, 0, 0, 0, 0)
)

func call(rel int32) core.Insn { return ins(core.JMP|core.Call, 0, core.PseudoCall, 0, rel) }

// TestFuncNames: symbols name functions; without one the main function
// takes the program's name and a subprogram "func_N".
func TestFuncNames(t *testing.T) {
	insns := []core.Insn{call(1), exit, mov0, exit}
	for _, tc := range []struct {
		name string
		syms []core.Symbol
		want []string
	}{
		{"no symbols", nil, []string{"prog", "func_1"}},
		{"labels", []core.Symbol{{Name: "entry", Insn: 0}, {Name: "lbl", Insn: 2}}, []string{"entry", "lbl"}},
		{"a function symbol wins over a label", []core.Symbol{{Name: "lbl", Insn: 2}, {Name: "fn", Insn: 2, Func: true}, {Name: "late", Insn: 2}}, []string{"prog", "fn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &core.Program{Name: "prog", Insns: insns, Symbols: tc.syms}
			if err := analysis.Check(&core.Object{Progs: []*core.Program{p}}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fn := range p.Funcs {
				got = append(got, fn.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("names = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPseudoFunc: an ld_imm64 function reference (a callback) starts a
// function, as add_subprog_and_kfunc does for bpf_pseudo_func.
func TestPseudoFunc(t *testing.T) {
	ld := core.LdImm64(core.R2, core.PseudoFunc, 3) // slot 0: 0+1+3 = 4
	p := &core.Program{Name: "p", Insns: []core.Insn{ld[0], ld[1], mov0, exit, mov0, exit}}
	if err := analysis.Check(&core.Object{Progs: []*core.Program{p}}); err != nil {
		t.Fatal(err)
	}
	want := []core.Func{f("p", 0, 4, 0, [4]bool{}), f("func_1", 4, 6, 0, [4]bool{})}
	if !slices.Equal(p.Funcs, want) {
		t.Errorf("Funcs\n got  %+v\n want %+v", p.Funcs, want)
	}
}

// TestStackEdges pins what happens to pointers the analysis cannot follow
// exactly: the result may exceed the kernel's (never fall below the truth)
// and no error is invented.
func TestStackEdges(t *testing.T) {
	const skbProg = ".prog p sched_cls\n"
	for _, tc := range []struct {
		name, src string
		want      []int // StackDepth per function
	}{
		{"a stack pointer stored through the context escapes: 512",
			"r2 = r10\nr2 += -8\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit", []int{512}},
		{"a map key is only read: the pointer spilled next to it survives the call",
			".map h hash key=4 value=8 max=4\nr1 = r10\nr1 += -48\n*(u64 *)(r10 -8) = r1\nr1 = map[h] ll\nr2 = r10\nr2 += -16\ncall bpf_map_lookup_elem\nr7 = *(u64 *)(r10 -8)\n*(u8 *)(r7 +0) = 0\nr0 = 0\nexit",
			[]int{48}},
		{"bpf_skb_load_bytes writes [r10-16, r10-8): the spill at r10-8 survives",
			skbProg + "r6 = r1\nr1 = r10\nr1 += -48\n*(u64 *)(r10 -8) = r1\nr1 = r6\nr2 = 0\nr3 = r10\nr3 += -16\nr4 = 8\ncall bpf_skb_load_bytes\nr7 = *(u64 *)(r10 -8)\n*(u8 *)(r7 +0) = 0\nr0 = 0\nexit",
			[]int{48}},
		{"16 bytes from r10-16 may overwrite the spilled pointer: it escapes, 512",
			skbProg + "r6 = r1\nr1 = r10\nr1 += -48\n*(u64 *)(r10 -8) = r1\nr1 = r6\nr2 = 0\nr3 = r10\nr3 += -16\nr4 = 16\ncall bpf_skb_load_bytes\nr0 = 0\nexit",
			[]int{512}},
		{"half a spilled pointer overwritten: the rest survives in memory, 512",
			"r1 = r10\nr1 += -32\n*(u64 *)(r10 -8) = r1\n*(u32 *)(r10 -8) = 0\nr0 = 0\nexit", []int{512}},
		{"a spilled pointer overwritten whole is gone",
			"r1 = r10\nr1 += -32\n*(u64 *)(r10 -8) = r1\n*(u64 *)(r10 -8) = 0\nr0 = 0\nexit", []int{8}},
		{"a callee returning its argument: the caller's dereference is unbounded",
			"r1 = r10\nr1 += -16\ncall id\n*(u64 *)(r0 +0) = 0\nexit\nid:\nr0 = r1\nexit", []int{512, 0}},
		{"a callee storing its argument pointer away: the caller's frame is unbounded",
			"r1 = r10\nr1 += -16\ncall g\nexit\ng:\n*(u64 *)(r2 +0) = r1\nexit", []int{512, 0}},
		{"a callee masking its argument treats it as a scalar index",
			"r1 = 3\ncall g\nexit\ng:\nr1 &= 15\nr2 = r10\nr2 += -16\nr2 += r1\n*(u8 *)(r2 +0) = 0\nexit", []int{0, 16}},
		{"an atomic add on a stack slot",
			"*(u64 *)(r10 -24) = 0\nr1 = 1\nlock *(u64 *)(r10 -24) += r1\nr0 = 0\nexit", []int{24}},
		{"memfrob writes n bytes from its pointer",
			".helpers conformance\nr1 = r10\nr1 += -64\nr2 = 64\ncall memfrob\nr0 = 0\nexit", []int{64}},
		{"callx: a stack pointer in an argument counts, unchecked",
			".helpers conformance\nr1 = r10\nr1 += -40\nr5 = r10\nr2 = 2\ncallx r2\nr0 = 0\nexit", []int{40}},
		{"a pointer that is a stack pointer on one path only still counts",
			"r2 = r1\nif r1 == 0 goto x\nr2 = r10\nr2 += -72\nx:\n*(u8 *)(r2 +0) = 0\nr0 = 0\nexit", []int{72}},
		{"two paths with two offsets: the lower one",
			"r2 = r10\nr2 += -8\nif r1 == 0 goto x\nr2 += -96\nx:\n*(u8 *)(r2 +0) = 0\nr0 = 0\nexit", []int{104}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := assemble(t, tc.src)
			if err := analysis.Check(obj); err != nil {
				t.Fatalf("Check: %v", err)
			}
			var got []int
			for _, fn := range obj.Progs[0].Funcs {
				got = append(got, fn.StackDepth)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("stack depths = %v, want %v", got, tc.want)
			}
		})
	}
}
