package x86

import (
	"encoding/hex"
	"testing"
)

// TestEncode pins every builder's bytes, worked out by hand from the
// kernel's EMIT sequence at the do_jit site the builder serves, and checks
// them against an independent decoder (x86asm), which must consume every
// byte and print the expected instruction.
func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		emit     func(*asm)
		hex, gnu string // bytes; x86asm.GNUSyntax at pc 0
	}{
		// push_callee_regs / pop_callee_regs, prologue
		{func(a *asm) { a.push(rbp) }, "55", "push %rbp"},
		{func(a *asm) { a.push(r13) }, "4155", "push %r13"},
		{func(a *asm) { a.pop(r15) }, "415f", "pop %r15"},
		{func(a *asm) { a.pop(rbx) }, "5b", "pop %rbx"},
		{func(a *asm) { a.movRegReg(rbp, rsp) }, "4889e5", "mov %rsp,%rbp"},
		{func(a *asm) { a.movRegReg(rax, rsp) }, "4889e0", "mov %rsp,%rax"},
		{func(a *asm) { a.leave() }, "c9", "leaveq"},
		{func(a *asm) { a.ret() }, "c3", "retq"},
		{func(a *asm) { a.int3() }, "cc", "int3"},
		{func(a *asm) { a.endbr64() }, "f30f1efa", "endbr64"},
		{func(a *asm) { a.lfence() }, "0faee8", "lfence"},
		// x86_nops[]
		{func(a *asm) { a.nops(1) }, "90", "nop"},
		{func(a *asm) { a.nops(2) }, "6690", "data16 nop"},
		{func(a *asm) { a.nops(3) }, "0f1f00", "nopl (%rax)"},
		{func(a *asm) { a.nops(4) }, "0f1f4000", "nopl (%rax)"},
		{func(a *asm) { a.nops(5) }, "0f1f440000", "nopl (%rax,%rax)"},
		{func(a *asm) { a.nops(6) }, "660f1f440000", "nopw (%rax,%rax)"},
		{func(a *asm) { a.nops(7) }, "0f1f8000000000", "nopl (%rax)"},
		{func(a *asm) { a.nops(8) }, "0f1f840000000000", "nopl (%rax,%rax)"},
		// moves: EMIT_mov, emit_mov_reg, emit_mov_imm32/64, emit_movsx_reg
		{func(a *asm) { a.movRegReg(r11, rdi) }, "4989fb", "mov %rdi,%r11"},
		{func(a *asm) { a.movRegReg(rax, r10) }, "4c89d0", "mov %r10,%rax"},
		{func(a *asm) { a.movRegReg32(rdi, r8) }, "4489c7", "mov %r8d,%edi"},
		{func(a *asm) { a.movRegReg32(rdx, rdx) }, "89d2", "mov %edx,%edx"},
		{func(a *asm) { a.movRegReg32(r14, r14) }, "4589f6", "mov %r14d,%r14d"},
		{func(a *asm) { a.movImm32(rax, 1) }, "b801000000", "mov $0x1,%eax"},
		{func(a *asm) { a.movImm32(r14, 0x12345678) }, "41be78563412", "mov $0x12345678,%r14d"},
		{func(a *asm) { a.movSxImm32(rax, -1) }, "48c7c0ffffffff", "mov $-0x1,%rax"},
		{func(a *asm) { a.movSxImm32(r11, 7) }, "49c7c307000000", "mov $0x7,%r11"},
		{func(a *asm) { a.movabs(r13, 0xffffa01000000000) }, "49bd00000000 10a0ffff", "mov $-0x5ff000000000,%r13"},
		{func(a *asm) { a.movabs(rax, 0x100000000) }, "48b80000000001000000", "mov $0x100000000,%rax"},
		{func(a *asm) { a.xorRegReg32(rax, rax) }, "31c0", "xor %eax,%eax"},
		{func(a *asm) { a.xorRegReg32(r8, r8) }, "4531c0", "xor %r8d,%r8d"},
		{func(a *asm) { a.movsxRegReg(true, 8, rax, rdi) }, "480fbec7", "movsbq %dil,%rax"},
		{func(a *asm) { a.movsxRegReg(true, 16, r13, rsi) }, "4c0fbfee", "movswq %si,%r13"},
		{func(a *asm) { a.movsxRegReg(true, 32, rdx, r8) }, "4963d0", "movsxd %r8d,%rdx"},
		{func(a *asm) { a.movsxRegReg(false, 8, rax, rdi) }, "400fbec7", "movsbl %dil,%eax"},
		{func(a *asm) { a.movsxRegReg(false, 8, rax, rbx) }, "400fbec3", "rex movsbl %bl,%eax"},
		{func(a *asm) { a.movsxRegReg(false, 16, rax, rbx) }, "0fbfc3", "movswl %bx,%eax"},
		{func(a *asm) { a.movsxRegReg(false, 16, r8, rax) }, "440fbfc0", "movswl %ax,%r8d"},
		{func(a *asm) { a.movzxwRegReg32(rax, rax) }, "0fb7c0", "movzwl %ax,%eax"},
		{func(a *asm) { a.movzxwRegReg32(r14, r14) }, "450fb7f6", "movzwl %r14w,%r14d"},
		// ALU: simple_alu_opcodes[], the 83/81 forms and the rax short forms
		{func(a *asm) { a.aluRegReg(true, opAdd, rax, rdi) }, "4801f8", "add %rdi,%rax"},
		{func(a *asm) { a.aluRegReg(false, opSub, r8, rsi) }, "4129f0", "sub %esi,%r8d"},
		{func(a *asm) { a.aluRegReg(true, opAnd, rbx, r15) }, "4c21fb", "and %r15,%rbx"},
		{func(a *asm) { a.aluRegReg(false, opOr, rcx, rdx) }, "09d1", "or %edx,%ecx"},
		{func(a *asm) { a.aluRegReg(true, opXor, r13, r13) }, "4d31ed", "xor %r13,%r13"},
		{func(a *asm) { a.aluImm8(true, opAdd, rdi, -8) }, "4883c7f8", "add $-0x8,%rdi"},
		{func(a *asm) { a.aluImm8(false, opAnd, r8, 15) }, "4183e00f", "and $0xf,%r8d"},
		{func(a *asm) { a.aluImm8(true, opAdd, rcx, 12) }, "4883c10c", "add $0xc,%rcx"},
		{func(a *asm) { a.aluImm32(true, opSub, rsp, 0x200) }, "4881ec00020000", "sub $0x200,%rsp"},
		{func(a *asm) { a.aluImm32(true, opAdd, rsp, 0x10) }, "4881c410000000", "add $0x10,%rsp"},
		{func(a *asm) { a.aluImm32(false, opXor, rbx, 0x1000) }, "81f300100000", "xor $0x1000,%ebx"},
		{func(a *asm) { a.aluEaxImm32(true, opOr, 0x1000) }, "480d00100000", "or $0x1000,%rax"},
		{func(a *asm) { a.aluEaxImm32(false, opAdd, 0x1000) }, "0500100000", "add $0x1000,%eax"},
		{func(a *asm) { a.aluEaxImm32(false, opSub, -0x1000) }, "2d00f0ffff", "sub $-0x1000,%eax"},
		{func(a *asm) { a.negReg(true, rax) }, "48f7d8", "neg %rax"},
		{func(a *asm) { a.negReg(false, r8) }, "41f7d8", "neg %r8d"},
		{func(a *asm) { a.imulImm8(true, rbx, 5) }, "486bdb05", "imul $0x5,%rbx,%rbx"},
		{func(a *asm) { a.imulImm32(false, r14, 1000) }, "4569f6e8030000", "imul $0x3e8,%r14d,%r14d"},
		{func(a *asm) { a.imulRegReg(true, rax, rdi) }, "480fafc7", "imul %rdi,%rax"},
		{func(a *asm) { a.imulRegReg(false, r13, rsi) }, "440fafee", "imul %esi,%r13d"},
		// shifts
		{func(a *asm) { a.shiftImm1(true, opShl, rax) }, "48d1e0", "shl %rax"},
		{func(a *asm) { a.shiftImm8(false, opSar, rcx, 3) }, "c1f903", "sar $0x3,%ecx"},
		{func(a *asm) { a.shiftImm8(true, opShr, r15, 63) }, "49c1ef3f", "shr $0x3f,%r15"},
		{func(a *asm) { a.shiftCL(true, opShl, r11) }, "49d3e3", "shl %cl,%r11"},
		{func(a *asm) { a.shiftCL(false, opSar, rax) }, "d3f8", "sar %cl,%eax"},
		{func(a *asm) { a.shiftx(true, opShl, rax, rsi) }, "c4e2c9f7c0", "shlxq %rsi,%rax,%rax"},
		{func(a *asm) { a.shiftx(false, opShr, r8, rdx) }, "c4426bf7c0", "shrxl %edx,%r8d,%r8d"},
		{func(a *asm) { a.shiftx(false, opSar, rbx, r10) }, "c4e22af7db", "sarxl %r10d,%ebx,%ebx"},
		// div/mod
		{func(a *asm) { a.divReg(true, r11) }, "49f7f3", "div %r11"},
		{func(a *asm) { a.divReg(false, rdi) }, "f7f7", "div %edi"},
		{func(a *asm) { a.idivReg(true, rsi) }, "48f7fe", "idiv %rsi"},
		{func(a *asm) { a.cdq(false) }, "99", "cltd"},
		{func(a *asm) { a.cdq(true) }, "4899", "cqto"},
		// byte swaps
		{func(a *asm) { a.rorw8(rax) }, "66c1c808", "ror $0x8,%ax"},
		{func(a *asm) { a.rorw8(r13) }, "6641c1cd08", "ror $0x8,%r13w"},
		{func(a *asm) { a.bswap(false, rax) }, "0fc8", "bswap %eax"},
		{func(a *asm) { a.bswap(false, r8) }, "410fc8", "bswap %r8d"},
		{func(a *asm) { a.bswap(true, r13) }, "490fcd", "bswap %r13"},
		// emit_ldx / emit_ldsx / emit_stx / ST
		{func(a *asm) { a.movzxLoad8(rax, rdi, 0) }, "480fb64700", "movzbq (%rdi),%rax"},
		{func(a *asm) { a.movzxLoad16(rbx, rbp, -2) }, "480fb75dfe", "movzwq -0x2(%rbp),%rbx"},
		{func(a *asm) { a.movLoad32(rax, rdi, 4) }, "8b4704", "mov 0x4(%rdi),%eax"},
		{func(a *asm) { a.movLoad32(r8, rsi, 0x100) }, "448b8600010000", "mov 0x100(%rsi),%r8d"},
		{func(a *asm) { a.movLoad64(rcx, rcx, 0x30) }, "488b4930", "mov 0x30(%rcx),%rcx"},
		{func(a *asm) { a.movLoad64(r14, rbp, -512) }, "4c8bb500feffff", "mov -0x200(%rbp),%r14"},
		{func(a *asm) { a.movsxLoad8(rax, rdi, 1) }, "480fbe4701", "movsbq 0x1(%rdi),%rax"},
		{func(a *asm) { a.movsxLoad16(rdx, r8, 2) }, "490fbf5002", "movswq 0x2(%r8),%rdx"},
		{func(a *asm) { a.movsxdLoad32(rax, rdi, 8) }, "48634708", "movsxd 0x8(%rdi),%rax"},
		{func(a *asm) { a.movStore8(rdi, rsi, 1) }, "40887701", "mov %sil,0x1(%rdi)"},
		{func(a *asm) { a.movStore8(rdi, rax, 1) }, "884701", "mov %al,0x1(%rdi)"},
		{func(a *asm) { a.movStore8(r8, rbx, 0) }, "41885800", "mov %bl,(%r8)"},
		{func(a *asm) { a.movStore16(rbp, rcx, -2) }, "66894dfe", "mov %cx,-0x2(%rbp)"},
		{func(a *asm) { a.movStore16(rdi, r14, 6) }, "6644897706", "mov %r14w,0x6(%rdi)"},
		{func(a *asm) { a.movStore32(rdi, r8, 0) }, "44894700", "mov %r8d,(%rdi)"},
		{func(a *asm) { a.movStore64(rbp, rdi, -8) }, "48897df8", "mov %rdi,-0x8(%rbp)"},
		{func(a *asm) { a.movStoreImm8(rdi, 0, 0x7f) }, "c647007f", "movb $0x7f,(%rdi)"},
		{func(a *asm) { a.movStoreImm16(r8, 2, -1) }, "6641c74002ffff", "movw $-0x1,0x2(%r8)"},
		{func(a *asm) { a.movStoreImm32(rbp, -4, 0x11223344) }, "c745fc44332211", "movl $0x11223344,-0x4(%rbp)"},
		{func(a *asm) { a.movStoreImm64(rdi, 0x200, -2) }, "48c78700020000feffffff", "movq $-0x2,0x200(%rdi)"},
		// emit_atomic
		{func(a *asm) { a.lockAlu(true, opAdd, rdi, rax, 0) }, "f048014700", "lock add %rax,(%rdi)"},
		{func(a *asm) { a.lockAlu(false, opAnd, r8, rcx, 4) }, "f041214804", "lock and %ecx,0x4(%r8)"},
		{func(a *asm) { a.lockAlu(false, opOr, rdi, rsi, -4) }, "f00977fc", "lock or %esi,-0x4(%rdi)"},
		{func(a *asm) { a.lockAlu(true, opXor, rbp, rbx, -8) }, "f048315df8", "lock xor %rbx,-0x8(%rbp)"},
		{func(a *asm) { a.lockXadd(false, rdi, rsi, 0) }, "f00fc17700", "lock xadd %esi,(%rdi)"},
		{func(a *asm) { a.lockXchg(true, rdi, r14, 8) }, "f04c877708", "lock xchg %r14,0x8(%rdi)"},
		{func(a *asm) { a.lockCmpxchg(true, rdi, r11, 0) }, "f04c0fb15f00", "lock cmpxchg %r11,(%rdi)"},
		// tail call forms
		{func(a *asm) { a.movLoad64Disp32(rax, rbp, -16) }, "488b85f0ffffff", "mov -0x10(%rbp),%rax"},
		{func(a *asm) { a.movLoad32Disp32(rax, rbp, -4) }, "8b85fcffffff", "mov -0x4(%rbp),%eax"},
		{func(a *asm) { a.movStore32Disp32(rbp, rax, -4) }, "8985fcffffff", "mov %eax,-0x4(%rbp)"},
		{func(a *asm) { a.cmpMem32RegDisp8(rsi, rdx, 0x24) }, "395624", "cmp %edx,0x24(%rsi)"},
		{func(a *asm) { a.cmpMem64Imm8(rax, 33) }, "48833821", "cmpq $0x21,(%rax)"},
		{func(a *asm) { a.addMem64Imm8(rax, 1) }, "48830001", "addq $0x1,(%rax)"},
		{func(a *asm) { a.movLoad64Index8(rcx, rsi, rdx, 0x110) }, "488b8cd610010000", "mov 0x110(%rsi,%rdx,8),%rcx"},
		// compares and branches
		{func(a *asm) { a.cmpRegReg(true, rdi, rsi) }, "4839f7", "cmp %rsi,%rdi"},
		{func(a *asm) { a.cmpRegReg(false, r8, rax) }, "4139c0", "cmp %eax,%r8d"},
		{func(a *asm) { a.testRegReg(true, rcx, rcx) }, "4885c9", "test %rcx,%rcx"},
		{func(a *asm) { a.testRegReg(false, rdi, r13) }, "4485ef", "test %r13d,%edi"},
		{func(a *asm) { a.testImm32(true, rax, 1) }, "48f7c001000000", "test $0x1,%rax"},
		{func(a *asm) { a.cmpImm8(false, rax, 33) }, "83f821", "cmp $0x21,%eax"},
		{func(a *asm) { a.cmpImm8(true, rax, 33) }, "4883f821", "cmp $0x21,%rax"},
		{func(a *asm) { a.cmpImm8(true, r15, -1) }, "4983ffff", "cmp $-0x1,%r15"},
		{func(a *asm) { a.cmpImm32(true, rdi, 0x1000) }, "4881ff00100000", "cmp $0x1000,%rdi"},
		{func(a *asm) { a.jccRel8(jae, 0x13) }, "7313", "jae 0x15"},
		{func(a *asm) { a.jccRel8(ja, 6) }, "7706", "ja 0x8"},
		{func(a *asm) { a.jccRel32(jg, 0x100) }, "0f8f00010000", "jg 0x106"},
		{func(a *asm) { a.jccRel32(jbe, -6) }, "0f86faffffff", "jbe 0x0"},
		{func(a *asm) { a.jmpRel8(-2) }, "ebfe", "jmp 0x0"},
		{func(a *asm) { a.jmpRel32(0x10) }, "e910000000", "jmpq 0x15"},
		{func(a *asm) { a.callRel32(0) }, "e800000000", "callq 0x5"},
		{func(a *asm) { a.callReg(r11) }, "41ffd3", "call *%r11"},
		{func(a *asm) { a.jmpReg(rcx) }, "ffe1", "jmp *%rcx"},
	} {
		t.Run(tc.gnu, func(t *testing.T) {
			a := newAsm()
			tc.emit(a)
			want := stripSpaces(tc.hex)
			if got := hex.EncodeToString(a.bytes()); got != want {
				t.Fatalf("bytes = %s, want %s", got, want)
			}
			text, n := decode(a.bytes(), 0, 0)
			if n != a.len() {
				t.Fatalf("decode %x: consumed %d of %d bytes (%q)", a.bytes(), n, a.len(), text)
			}
			if text != tc.gnu {
				t.Errorf("disasm = %q, want %q", text, tc.gnu)
			}
		})
	}
}

func stripSpaces(s string) string {
	b := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] != ' ' {
			b = append(b, s[i])
		}
	}
	return string(b)
}
