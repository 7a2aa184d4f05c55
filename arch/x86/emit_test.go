package x86

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/mem"
)

// slotCode compiles src as one function and returns the code of slot k:
// its bytes and its disassembly (branch targets as image offsets; the
// 12-byte prologue puts slot 0 at 0xc).
func slotCode(t *testing.T, b Backend, src string, k int, opts jit.Options) (string, []string) {
	t.Helper()
	p := program(t, src, fn{depth: 16})
	p.Funcs[0].StackDepth = 0
	opts.Base = mem.X86CodeBase
	if opts.HelperAddr == nil {
		opts.HelperAddr = kernelHelpers
	}
	img, err := b.Compile(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range Dump(img) {
		if l.Insn == k {
			lines = append(lines, l.Text)
		}
	}
	return hex.EncodeToString(img.Code[img.InsnOffsets[k]:img.InsnOffsets[k+1]]), lines
}

// TestEmit pins the code of each do_jit case: the bytes worked out by hand
// from the kernel's sequence for that case, and what x86asm reads in them.
func TestEmit(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		bmi2      bool
		hex       string
		gnu       []string
	}{
		// ALU and ALU64
		{"add64 reg", "r0 += r1\nexit", false, "4801f8", []string{"add %rdi,%rax"}},
		{"sub32 reg", "w1 -= w2\nexit", false, "29f7", []string{"sub %esi,%edi"}},
		{"add64 imm8", "r0 += 1\nexit", false, "4883c001", []string{"add $0x1,%rax"}},
		{"add64 imm32 to rax: short form", "r0 += 0x1000\nexit", false, "480500100000", []string{"add $0x1000,%rax"}},
		{"add64 imm32", "r1 += 0x1000\nexit", false, "4881c700100000", []string{"add $0x1000,%rdi"}},
		{"xor32 imm to r9", "w9 ^= -2\nexit", false, "4183f7fe", []string{"xor $-0x2,%r15d"}},
		{"mov32 imm -1 zero-extends", "w0 = -1\nexit", false, "b8ffffffff", []string{"mov $-0x1,%eax"}},
		{"mov64 imm -1 sign-extends", "r0 = -1\nexit", false, "48c7c0ffffffff", []string{"mov $-0x1,%rax"}},
		{"mov64 imm 0 is xor", "r0 = 0\nexit", false, "31c0", []string{"xor %eax,%eax"}},
		{"mov64 imm 0 to r8", "r8 = 0\nexit", false, "4531f6", []string{"xor %r14d,%r14d"}},
		{"mov64 to itself emits nothing", "r0 = r0\nexit", false, "", nil},
		{"mov32 to itself zero-extends", "w0 = w0\nexit", false, "89c0", []string{"mov %eax,%eax"}},
		{"mov64 reg", "r7 = r1\nexit", false, "4989fd", []string{"mov %rdi,%r13"}},
		{"lddw u32", "r1 = 0xffffffff ll\nexit", false, "bfffffffff", []string{"mov $-0x1,%edi"}},
		{"lddw s32", "r1 = -2 ll\nexit", false, "48c7c7feffffff", []string{"mov $-0x2,%rdi"}},
		{"lddw 0", "r1 = 0 ll\nexit", false, "31ff", []string{"xor %edi,%edi"}},
		{"lddw imm64", "r1 = 0x100000000 ll\nexit", false, "48bf0000000001000000", []string{"mov $0x100000000,%rdi"}},
		{"movsx64 8", "r0 = (s8)r1\nexit", false, "480fbec7", []string{"movsbq %dil,%rax"}},
		{"movsx32 16", "w0 = (s16)w1\nexit", false, "0fbfc7", []string{"movswl %di,%eax"}},
		{"movsx64 32", "r2 = (s32)r5\nexit", false, "4963f0", []string{"movsxd %r8d,%rsi"}},
		{"neg64", "r0 = -r0\nexit", false, "48f7d8", []string{"neg %rax"}},
		{"mul64 reg", "r0 *= r1\nexit", false, "480fafc7", []string{"imul %rdi,%rax"}},
		{"mul32 imm8", "w6 *= 5\nexit", false, "6bdb05", []string{"imul $0x5,%ebx,%ebx"}},
		{"mul64 imm32", "r6 *= 1000\nexit", false, "4869dbe8030000", []string{"imul $0x3e8,%rbx,%rbx"}},
		// shifts
		{"lsh64 by 1", "r0 <<= 1\nexit", false, "48d1e0", []string{"shl %rax"}},
		{"rsh32 imm", "w1 >>= 3\nexit", false, "c1ef03", []string{"shr $0x3,%edi"}},
		{"arsh64 imm", "r1 s>>= 63\nexit", false, "48c1ff3f", []string{"sar $0x3f,%rdi"}},
		{"lsh64 reg saves rcx", "r0 <<= r1\nexit", false, "514889f948d3e059",
			[]string{"push %rcx", "mov %rdi,%rcx", "shl %cl,%rax", "pop %rcx"}},
		{"rsh64 reg into rcx goes through r11", "r4 >>= r1\nexit", false, "4989cb4889f949d3eb4c89d9",
			[]string{"mov %rcx,%r11", "mov %rdi,%rcx", "shr %cl,%r11", "mov %r11,%rcx"}},
		{"arsh32 by r4 needs no move", "w0 s>>= w4\nexit", false, "d3f8", []string{"sar %cl,%eax"}},
		{"lsh64 reg with BMI2", "r0 <<= r1\nexit", true, "c4e2c1f7c0", []string{"shlxq %rdi,%rax,%rax"}},
		{"arsh32 by r4 with BMI2 still uses cl", "w0 s>>= w4\nexit", true, "d3f8", []string{"sar %cl,%eax"}},
		// byte swaps
		{"be16", "r0 = be16 r0\nexit", false, "66c1c8080fb7c0", []string{"ror $0x8,%ax", "movzwl %ax,%eax"}},
		{"be32", "r1 = be32 r1\nexit", false, "0fcf", []string{"bswap %edi"}},
		{"be64", "r7 = be64 r7\nexit", false, "490fcd", []string{"bswap %r13"}},
		{"bswap16", "r0 = bswap16 r0\nexit", false, "66c1c8080fb7c0", []string{"ror $0x8,%ax", "movzwl %ax,%eax"}},
		{"le16", "r0 = le16 r0\nexit", false, "0fb7c0", []string{"movzwl %ax,%eax"}},
		{"le32", "r8 = le32 r8\nexit", false, "4589f6", []string{"mov %r14d,%r14d"}},
		{"le64 is a no-op", "r0 = le64 r0\nexit", false, "", nil},
		// div/mod: the verifier's guards, then the JIT's rdx:rax dance
		{"div64 reg", "r0 /= r1\nexit", false, "4885ff75" + "04" + "31c0eb07" + "5231d248f7f75a",
			[]string{"test %rdi,%rdi", "jne 0x15", "xor %eax,%eax", "jmp 0x1c", "push %rdx", "xor %edx,%edx", "div %rdi", "pop %rdx"}},
		{"div64 by r0 into r1", "r1 /= r0\nexit", false, "4885c07504" + "31ffeb12" + "50524989c34889f831d249f7f34889c75a58",
			[]string{"test %rax,%rax", "jne 0x15", "xor %edi,%edi", "jmp 0x27", "push %rax", "push %rdx", "mov %rax,%r11",
				"mov %rdi,%rax", "xor %edx,%edx", "div %r11", "mov %rax,%rdi", "pop %rdx", "pop %rax"}},
		{"mod64 reg", "r0 %= r1\nexit", false, "4885ff740a" + "5231d248f7f74889d05a",
			[]string{"test %rdi,%rdi", "je 0x1b", "push %rdx", "xor %edx,%edx", "div %rdi", "mov %rdx,%rax", "pop %rdx"}},
		{"mod32 reg zero-extends the kept dst", "w0 %= w1\nexit", false, "85ff740a" + "5231d2f7f789d05a" + "eb02" + "89c0",
			[]string{"test %edi,%edi", "je 0x1a", "push %rdx", "xor %edx,%edx", "div %edi", "mov %edx,%eax", "pop %rdx",
				"jmp 0x1c", "mov %eax,%eax"}},
		{"div64 imm into r3", "r3 /= 3\nexit", false, "5049c7c3030000004889d031d249f7f34889c258",
			[]string{"push %rax", "mov $0x3,%r11", "mov %rdx,%rax", "xor %edx,%edx", "div %r11", "mov %rax,%rdx", "pop %rax"}},
		{"div64 by constant 0 is 0", "r0 /= 0\nexit", false, "31c0", []string{"xor %eax,%eax"}},
		{"mod64 by constant 0 keeps dst", "r0 %= 0\nexit", false, "", nil},
		{"mod32 by constant 0 truncates dst", "w0 %= 0\nexit", false, "89c0", []string{"mov %eax,%eax"}},
		{"sdiv64 by -1 is neg", "r0 s/= -1\nexit", false, "48f7d8", []string{"neg %rax"}},
		{"smod32 by -1 is 0", "w0 s%= -1\nexit", false, "31c0", []string{"xor %eax,%eax"}},
		{"sdiv64 imm", "r0 s/= 3\nexit", false, "5249c7c303000000489949f7fb5a",
			[]string{"push %rdx", "mov $0x3,%r11", "cqto", "idiv %r11", "pop %rdx"}},
		{"sdiv64 reg", "r0 s/= r1\nexit", false,
			"4989fa" + "4983c201" + "4983fa01" + "770c" + "4d85d2" + "7402" + "31c0" + "48f7d8" + "eb07" + "52489948f7ff5a",
			[]string{"mov %rdi,%r10", "add $0x1,%r10", "cmp $0x1,%r10", "ja 0x25", "test %r10,%r10", "je 0x20",
				"xor %eax,%eax", "neg %rax", "jmp 0x2c", "push %rdx", "cqto", "idiv %rdi", "pop %rdx"}},
		{"smod64 reg", "r0 s%= r1\nexit", false,
			"4989fa" + "4983c201" + "4983fa01" + "770a" + "4983fa01" + "740e" + "31c0" + "eb0a" + "52489948f7ff4889d05a",
			[]string{"mov %rdi,%r10", "add $0x1,%r10", "cmp $0x1,%r10", "ja 0x23", "cmp $0x1,%r10", "je 0x2d",
				"xor %eax,%eax", "jmp 0x2d", "push %rdx", "cqto", "idiv %rdi", "mov %rdx,%rax", "pop %rdx"}},
		{"smod32 reg", "w0 s%= w1\nexit", false,
			"4989fa" + "4183c201" + "4183fa01" + "770a" + "4183fa01" + "740d" + "31c0" + "eb07" + "5299f7ff89d05a" + "eb02" + "89c0",
			[]string{"mov %rdi,%r10", "add $0x1,%r10d", "cmp $0x1,%r10d", "ja 0x23", "cmp $0x1,%r10d", "je 0x2c",
				"xor %eax,%eax", "jmp 0x2a", "push %rdx", "cltd", "idiv %edi", "mov %edx,%eax", "pop %rdx", "jmp 0x2e", "mov %eax,%eax"}},
		// loads and stores
		{"ldxb", "r0 = *(u8 *)(r1 +0)\nexit", false, "480fb64700", []string{"movzbq (%rdi),%rax"}},
		{"ldxsh", "r0 = *(s16 *)(r10 -2)\nexit", false, "480fbf45fe", []string{"movswq -0x2(%rbp),%rax"}},
		{"ldxsw", "r2 = *(s32 *)(r1 +4)\nexit", false, "48637704", []string{"movsxd 0x4(%rdi),%rsi"}},
		{"ldxdw disp32", "r9 = *(u64 *)(r10 -512)\nexit", false, "4c8bbd00feffff", []string{"mov -0x200(%rbp),%r15"}},
		{"stxb of r1 needs REX for dil", "*(u8 *)(r10 -1) = r1\nexit", false, "40887dff", []string{"mov %dil,-0x1(%rbp)"}},
		{"stdw imm", "*(u64 *)(r10 -8) = 0x7f\nexit", false, "48c745f87f000000", []string{"movq $0x7f,-0x8(%rbp)"}},
		{"sth imm disp32", "*(u16 *)(r1 +0x200) = -1\nexit", false, "66c78700020000ffff", []string{"movw $-0x1,0x200(%rdi)"}},
		// atomics
		{"lock add64", "lock add [%r10-8], %r1\nexit", false, "f048017df8", []string{"lock add %rdi,-0x8(%rbp)"}},
		{"xchg32", "lock xchg32 [%r10-8], %r1\nexit", false, "f0877df8", []string{"lock xchg %edi,-0x8(%rbp)"}},
		{"fetch add64 is xadd", "lock fetch add [%r10-8], %r1\nexit", false, "f0480fc17df8", []string{"lock xadd %rdi,-0x8(%rbp)"}},
		{"cmpxchg64", "lock cmpxchg [%r10-8], %r1\nexit", false, "f0480fb17df8", []string{"lock cmpxchg %rdi,-0x8(%rbp)"}},
		{"cmpxchg32 zero-extends r0", "lock cmpxchg32 [%r10-8], %r1\nexit", false, "f00fb17df889c0", []string{"lock cmpxchg %edi,-0x8(%rbp)", "mov %eax,%eax"}},
		{"fetch or64 is a cmpxchg loop", "lock fetch or [%r10-8], %r3\nexit", false,
			"4989c2" + "488b45f8" + "4989c3" + "4909d3" + "f04c0fb15df8" + "75ee" + "4889c2" + "4c89d0",
			[]string{"mov %rax,%r10", "mov -0x8(%rbp),%rax", "mov %rax,%r11", "or %rdx,%r11",
				"lock cmpxchg %r11,-0x8(%rbp)", "jne 0xf", "mov %rax,%rdx", "mov %r10,%rax"}},
		{"fetch and32 of r0 works on the saved copy", "lock fetch and32 [%r10-4], %r0\nexit", false,
			"4989c2" + "8b45fc" + "4189c3" + "4521d3" + "f0440fb15dfc" + "75ef" + "4189c2" + "4c89d0",
			[]string{"mov %rax,%r10", "mov -0x4(%rbp),%eax", "mov %eax,%r11d", "and %r10d,%r11d",
				"lock cmpxchg %r11d,-0x4(%rbp)", "jne 0xf", "mov %eax,%r10d", "mov %r10,%rax"}},
		// jumps
		{"jeq imm 0 is test", "if r1 == 0 goto +0\nexit", false, "4885ff7400", []string{"test %rdi,%rdi", "je 0x11"}},
		{"jgt32 imm8", "if w1 > 5 goto +0\nexit", false, "83ff057700", []string{"cmp $0x5,%edi", "ja 0x11"}},
		{"jset imm", "if r1 & 0x10 goto +0\nexit", false, "48f7c7100000007500", []string{"test $0x10,%rdi", "jne 0x15"}},
		{"jsgt reg", "if r1 s> r2 goto +0\nexit", false, "4839f77f00", []string{"cmp %rsi,%rdi", "jg 0x11"}},
		{"jset32 reg", "if w1 & w2 goto +0\nexit", false, "85f77500", []string{"test %esi,%edi", "jne 0x10"}},
		{"jle imm32", "if r1 <= 0x1000 goto +0\nexit", false, "4881ff001000007600", []string{"cmp $0x1000,%rdi", "jbe 0x15"}},
		{"ja to the next insn is elided", "goto +0\nexit", false, "", nil},
		{"ja -1 loops in place", "goto -1\nexit", false, "ebfe", []string{"jmp 0xc"}},
		{"gotol -1 loops in place", "gotol -1\nexit", false, "ebfe", []string{"jmp 0xc"}},
		{"second exit jumps to the epilogue", "if r1 == 0 goto +1\nexit\nexit", false, "4885ff7402", []string{"test %rdi,%rdi", "je 0x13"}},
		// calls
		{"helper call", "call 1\nexit", false, "e8ffffffc0", []string{"callq 0xffffffff81000010"}},
		{"callx", "call %r2\nexit", false, "4989f349c1e30449c7c200000081" + "4d01d3" + "41ffd3",
			[]string{"mov %rsi,%r11", "shl $0x4,%r11", "mov $-0x7f000000,%r10", "add %r10,%r11", "call *%r11"}},
		{"nospec", ".raw c2 00 00 00 00 00 00 00\nexit", false, "0faee8", []string{"lfence"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, gnu := slotCode(t, Backend{BMI2: tc.bmi2}, tc.src, 0, jit.Options{})
			if h != tc.hex {
				t.Errorf("bytes = %s\nwant    %s", h, tc.hex)
			}
			if !slices.Equal(gnu, tc.gnu) {
				t.Errorf("disasm:\n\t%s\nwant:\n\t%s", strings.Join(gnu, "\n\t"), strings.Join(tc.gnu, "\n\t"))
			}
		})
	}
}

// TestEmitErrors: what the JIT cannot or must not compile comes back as a
// *core.Error naming the slot, never a panic.
func TestEmitErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		insns []core.Insn
		want  string
		is    error
	}{
		{"unknown opcode", []core.Insn{{Op: 0xff}, {Op: core.JMP | core.Exit}}, "(insn 0): jit x86_64: op 0xff: not supported", core.ErrUnsupported},
		{"ld_abs", []core.Insn{{Op: core.LD | core.ABS | core.W}, {Op: core.JMP | core.Exit}}, "(insn 0): jit x86_64: op 0x20", core.ErrUnsupported},
		{"kfunc call", []core.Insn{{Op: core.JMP | core.Call, Src: core.PseudoKfunc, Imm: 7}, {Op: core.JMP | core.Exit}}, "(insn 0): jit x86_64: call with src 2", core.ErrUnsupported},
		{"bad register", []core.Insn{{Op: core.ALU64 | core.Mov | core.X, Dst: 11}, {Op: core.JMP | core.Exit}}, "(insn 0): jit x86_64: op 0xbf: bad destination register r11", nil},
		{"bad source register", []core.Insn{{Op: core.LDX | core.MEM | core.W, Src: 12}, {Op: core.JMP | core.Exit}}, "bad source register r12", nil},
		{"jump out of the function", []core.Insn{{Op: core.JMP | core.JA, Off: 5}, {Op: core.JMP | core.Exit}}, "(insn 0): jit x86_64: jump to slot 6 leaves function", nil},
		{"jump into ld_imm64", []core.Insn{{Op: core.JMP | core.JA, Off: 1}, {Op: core.LD | core.IMM | core.DW}, {}, {Op: core.JMP | core.Exit}}, "the middle of an ld_imm64", nil},
		{"truncated ld_imm64", []core.Insn{{Op: core.JMP | core.Exit}, {Op: core.LD | core.IMM | core.DW}}, "(insn 1): jit x86_64: ld_imm64 without its second slot", nil},
		{"direct tail call without poke", []core.Insn{{Op: core.JMP | core.TailCall, Imm: 2}, {Op: core.JMP | core.Exit}}, "poke descriptor 2, program has 0", nil},
		{"call into no function", []core.Insn{{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: 0}, {Op: core.JMP | core.Exit}}, "call to slot 1, which starts no function", nil},
		{"movsx with a bad offset", []core.Insn{{Op: core.ALU64 | core.Mov | core.X, Off: 7}, {Op: core.JMP | core.Exit}}, "mov with offset 7", core.ErrUnsupported},
		{"sdiv with a bad offset", []core.Insn{{Op: core.ALU64 | core.Div | core.K, Off: 2, Imm: 3}, {Op: core.JMP | core.Exit}}, "offset 2 is neither 0", nil},
		{"byte swap of 8 bits", []core.Insn{{Op: core.ALU | core.End | core.ToBE, Imm: 8}, {Op: core.JMP | core.Exit}}, "byte swap of 8 bits", nil},
		{"atomic on a byte", []core.Insn{{Op: core.STX | core.ATOMIC | core.B}, {Op: core.JMP | core.Exit}}, "op 0xd3: not supported", core.ErrUnsupported},
		{"load-acquire", []core.Insn{{Op: core.STX | core.ATOMIC | core.DW, Imm: core.LoadAcq}, {Op: core.JMP | core.Exit}}, "atomic operation 0x100", core.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &core.Program{Name: "p", Insns: tc.insns, Funcs: []core.Func{{Name: "p", End: len(tc.insns)}}}
			_, err := Backend{}.Compile(p, jit.Options{Base: mem.X86CodeBase, HelperAddr: kernelHelpers})
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Op != opName || ce.Prog != "p" {
				t.Fatalf("err = %v (%T), want a *core.Error of op %q", err, err, opName)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

// emit_call's -ERANGE: a helper farther than rel32 reaches from the image.
func TestCallOutOfRange(t *testing.T) {
	p := program(t, "call 1\nexit", fn{})
	_, err := Backend{}.Compile(p, jit.Options{Base: mem.X86CodeBase, HelperAddr: func(int32) uint64 { return 0x7fff00000000 }})
	if err == nil || !strings.Contains(err.Error(), "(insn 0): jit x86_64: call target 0x7fff00000000 is out of rel32 range") {
		t.Errorf("err = %v", err)
	}
	_, err = Backend{}.Compile(p, jit.Options{Base: mem.X86CodeBase})
	if err == nil || !strings.Contains(err.Error(), "no helper addresses") {
		t.Errorf("err = %v", err)
	}
	// callx needs trap stubs at a constant stride.
	p = program(t, "call %r1\nexit", fn{})
	_, err = Backend{}.Compile(p, jit.Options{Base: mem.X86CodeBase, HelperAddr: func(id int32) uint64 { return mem.X86HelperBase + uint64(id*id)*16 }})
	if err == nil || !strings.Contains(err.Error(), "callx: helper 2 is at") {
		t.Errorf("err = %v", err)
	}
}
