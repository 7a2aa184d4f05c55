package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"jitsim/core/mem"
)

// inOrder checks that each of want appears in out, in order.
func inOrder(t *testing.T, what, out string, want []string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("%s: no %q (in order) in:\n%s", what, w, out)
		}
		rest = rest[i+len(w):]
	}
}

// TestDumpJitedX86: each BPF instruction as the xlated listing prints it,
// above the code that implements it; the prologue first. Offsets are the
// kernel's for the seed's entry without IBT: nop5, xor rax,rax, push rbp,
// mov rbp,rsp (X86_TAIL_CALL_OFFSET 12), the 14 bytes of
// emit_prologue_tail_call, push rbx (r6), then r6 = r1 at 0x1b.
func TestDumpJitedX86(t *testing.T) {
	code, out, errOut := jitsim(t, "dump", "-arch", "x86_64", seedProg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	inOrder(t, "x86_64", out, []string{
		fmt.Sprintf("# entry: x86_64, tcc fixed; 162 bytes at %#x, tail calls enter at +0xc\n", uint64(mem.X86CodeBase)),
		"entry:\n\t   0:\tnopl (%rax,%rax)\n\t   5:\txor %rax,%rax\n\t   8:\tpush %rbp\n\t   9:\tmov %rsp,%rbp\n",
		"\t   c:\tcmp $0x21,%rax\t# tail calls enter here\n",
		"\t  1a:\tpush %rbx\n   0: (bf) r6 = r1\n\t  1b:\tmov %rdi,%rbx\n   1: (18) r1 = map[count][0]+0\n\t  1e:\tmov $",
		"   7: (85) call subprog_tail\n\t  34:\tmov -0x10(%rbp),%rax\n\t  3b:\tcallq ",
		"\t# subprog_tail\n",
		"  11: (95) exit\n\t  54:\tpop %rbx\n\t  55:\tleaveq\n\t  56:\tretq\nsubprog_tail:\n\t   0:\tnopl (%rax,%rax)\n\t   5:\tnopl (%rax)\n",
		"  18: (85) call bpf_tail_call#12\t# direct: jmp_table[0]\n\t  26:\tmov -0x10(%rbp),%rax\n\t  2d:\tcmpq $0x21,(%rax)\n",
		"\t  33:\tjmpq 0x46\t# bypass of the direct tail call to jmp_table[0] (a jmp while the slot is empty)\n",
		"\t  41:\tnopl (%rax,%rax)\t# direct tail call to jmp_table[0] (a jmp to its program once filled)\n  19: (95) exit\n\t  46:\tpop %r13\n",
	})
	if strings.Contains(out, "\t\t") {
		t.Errorf("raw bytes without -opcodes:\n%s", out)
	}
}

// TestDumpJitedOpcodes: -opcodes puts each instruction's bytes under it,
// as bpftool does.
func TestDumpJitedOpcodes(t *testing.T) {
	code, out, errOut := jitsim(t, "dump", "-arch", "x86_64", "-ibt", "-opcodes", seedProg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	inOrder(t, "opcodes", out, []string{
		"entry:\n\t   0:\tendbr64\n\t\tf3 0f 1e fa\n\t   4:\tnopl (%rax,%rax)\n\t\t0f 1f 44 00 00\n\t   9:\txor %rax,%rax\n\t\t48 31 c0\n",
		"\t  14:\tcmp $0x21,%rax\n\t\t48 83 f8 21\n\t  18:\tja 0x20\n\t\t77 06\n",
	})
}

// TestDumpJitedArm64: the same listing from the arm64 JIT, no BTI or PAC:
// PROLOGUE_OFFSET 6, "mov x9, lr" the kernel's A64_MOV (ADD #0).
func TestDumpJitedArm64(t *testing.T) {
	code, out, errOut := jitsim(t, "dump", "-arch", "arm64", "-prog", "entry", seedProg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	inOrder(t, "arm64", out, []string{
		fmt.Sprintf("# entry: arm64, tcc fixed, lse; 320 bytes at %#x, tail calls enter at +0x18\n", uint64(mem.Arm64CodeBase)),
		"entry:\n\t   0:\tadd x9, x30, #0x0\n\t   4:\tnop\n\t   8:\tstp x29, x30, [sp,#-16]!\n\t   c:\tmov x29, sp\n" +
			"\t  10:\tstp xzr, x26, [sp,#-16]!\n\t  14:\tmov x26, sp\n\t  18:\tstp x19, xzr, [sp,#-16]!\t# tail calls enter here\n" +
			"   0: (bf) r6 = r1\n\t  1c:\tadd x19, x0, #0x0\n",
		"   7: (85) call subprog_tail\n\t  3c:\tbl 0x90\t# subprog_tail\n\t  40:\tadd x7, x0, #0x0\n",
		"  11: (95) exit\n\t  54:\tldp x19, xzr, [sp],#16\n\t  58:\tldp xzr, x26, [sp],#16\n\t  5c:\tldp x29, x30, [sp],#16\n\t  60:\tadd x0, x7, #0x0\n\t  64:\tret\n",
		"subprog_tail:\n\t   0:\tadd x9, x30, #0x0\n",
		"  18: (85) call bpf_tail_call#12\t# direct: jmp_table[0]\n\t  34:\tmov w10, #0x24\n",
	})
}

// TestDumpJitedLegacyArm64: under legacy, the main prologue pushes every
// callee-saved pair and zeroes x26 last, and -lse=false swaps the CPU.
func TestDumpJitedLegacyArm64(t *testing.T) {
	code, out, errOut := jitsim(t, "dump", "-arch", "arm64", "-tcc", "legacy", "-lse=false", "-prog", "entry", seedProg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	inOrder(t, "arm64 legacy", out, []string{
		"# entry: arm64, tcc legacy, ll/sc;",
		"tail calls enter at +0x28\n",
		"\t  10:\tstp x19, x20, [sp,#-16]!\n\t  14:\tstp x21, x22, [sp,#-16]!\n\t  18:\tstp x25, x26, [sp,#-16]!\n\t  1c:\tstp x27, x28, [sp,#-16]!\n" +
			"\t  20:\tmov x25, sp\n\t  24:\tmov x26, #0x0\n\t  28:\tsub x27, x25, #0x0\t# tail calls enter here\n",
	})
}

// TestDumpJitedELF: C source lines from BTF line info above their code, as
// "bpftool prog dump jited linum" shows them; the selftest object fills
// slot 0 with entry at load, so the direct tail call site is patched to
// jump to entry + X86_TAIL_CALL_OFFSET and its bypass is a nop5.
func TestDumpJitedELF(t *testing.T) {
	code, out, errOut := jitsim(t, "dump", "-arch", "x86_64", "-prog", "entry", "../../examples/tailcall/tailcall_bpf2bpf_hierarchy1.o")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	inOrder(t, "ELF", out, []string{
		"; int entry(struct __sk_buff *skb)\n   0: (bf) r6 = r1\n\t",
		"; count++;\n   1: (18) r1 = map[.bss][0]+0\n\t",
		"; return ret;\n  12: (61) r0 = *(u32 *)(r10 -4)\n\t",
		"subprog_tail:\n",
		"; asm volatile(",
		"\tnopl (%rax,%rax)\t# bypass of the direct tail call to jmp_table[0]",
		fmt.Sprintf("\tjmpq %#x\t# direct tail call to jmp_table[0]", uint64(mem.X86CodeBase)+12),
		"; return 0;\n  21: (95) exit\n",
	})
}

// TestDumpJitedEmptySlots: a slot that emits no code (x86 "r1 = r1") is
// listed in its place, above the code of the slot after it.
func TestDumpJitedEmptySlots(t *testing.T) {
	prog := writeFile(t, "p.s", "r0 = 1\nr1 = r1\nexit\n")
	code, out, errOut := jitsim(t, "dump", "-arch", "x86_64", prog)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	inOrder(t, "empty slot", out, []string{
		"   0: (b7) r0 = 1\n\t   c:\tmov $0x1,%eax\t# tail calls enter here\n   1: (bf) r1 = r1\n   2: (95) exit\n\t  11:\tleaveq\n\t  12:\tretq\n",
	})
}

// TestDumpJitedAll: without -prog, every program of an object with a prog
// array, each where the engine placed it (one code region, 64-byte
// aligned one after the other).
func TestDumpJitedAll(t *testing.T) {
	code, out, errOut := jitsim(t, "dump", "-arch", "x86_64", "../../conformance/testdata/tailcall/seed_demo.data")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var heads []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "# ") {
			heads = append(heads, l)
		}
	}
	if len(heads) != 3 || !strings.HasPrefix(heads[0], "# entry: ") || !strings.HasPrefix(heads[1], "# classifier_01: ") || !strings.HasPrefix(heads[2], "# classifier_23: ") {
		t.Fatalf("headers %q", heads)
	}
	if !strings.Contains(heads[0], fmt.Sprintf("at %#x,", uint64(mem.X86CodeBase))) {
		t.Errorf("entry is not at the code base: %s", heads[0])
	}
	// The second image starts at the first's size rounded up to 64.
	var n0 int
	fmt.Sscanf(heads[0][strings.Index(heads[0], "; ")+2:], "%d bytes", &n0)
	f := strings.Fields(heads[1][strings.Index(heads[1], " at ")+4:])
	a1, _ := strconv.ParseUint(strings.TrimSuffix(f[0], ","), 0, 64)
	if want := uint64(mem.X86CodeBase) + uint64((n0+63)&^63); n0 == 0 || a1 != want {
		t.Errorf("classifier_01 at %#x, want %#x (entry: %d bytes)", a1, want, n0)
	}
}

func TestDumpJitedUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-arch", "arm64", "-ibt"}, "jitsim dump: -ibt is an x86_64 option"},
		{[]string{"-arch", "x86_64", "-bti"}, "jitsim dump: -bti is an arm64 option"},
		{[]string{"-arch", "mips"}, `jitsim dump: -arch "mips": want x86_64 or arm64`},
		{[]string{"-tcc", "legacy"}, "jitsim dump: -tcc applies to -stage jited"},
		{[]string{"-stage", "jited", "-tcc", "sometimes"}, `jitsim dump: -tcc "sometimes": want fixed or legacy`},
	} {
		code, _, errOut := jitsim(t, append(append([]string{"dump"}, tc.args...), seedProg)...)
		if code != 2 || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
