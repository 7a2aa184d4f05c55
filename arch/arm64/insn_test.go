package arm64

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"
)

// TestEncode pins every builder: the word must be what llvm-mc 14
// (-triple=aarch64 -mattr=+lse,+bti,+pauth) assembles for the instruction in
// the comment column, and its disassembly what golang.org/x/arch/arm64asm
// prints in GNU syntax (branch targets as offsets, the word sitting at
// 0x1000). arm64asm is an ARMv8.0 decoder: for the LSE atomics and the
// PAC/BTI hints the text is GNU objdump's spelling, produced by Disasm's
// fallback.
func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uint32
		want uint32
		gnu  string
	}{
		{"b(2)", b(2), 0x14000002, "b 0x1008"},
		{"b(-1)", b(-1), 0x17ffffff, "b 0xffc"},
		{"bl(-16)", bl(-16), 0x97fffff0, "bl 0xfc0"},
		{"bCond(condCS, 5)", bCond(condCS, 5), 0x540000a2, "b.cs 0x1014"},
		{"bCond(condEQ, -3)", bCond(condEQ, -3), 0x54ffffa0, "b.eq 0xff4"},
		{"bCond(condNE, 1)", bCond(condNE, 1), 0x54000021, "b.ne 0x1004"},
		{"bCond(condCC, 2)", bCond(condCC, 2), 0x54000043, "b.cc 0x1008"},
		{"bCond(condHI, 3)", bCond(condHI, 3), 0x54000068, "b.hi 0x100c"},
		{"bCond(condLS, 4)", bCond(condLS, 4), 0x54000089, "b.ls 0x1010"},
		{"bCond(condGE, 5)", bCond(condGE, 5), 0x540000aa, "b.ge 0x1014"},
		{"bCond(condLT, 6)", bCond(condLT, 6), 0x540000cb, "b.lt 0x1018"},
		{"bCond(condGT, 7)", bCond(condGT, 7), 0x540000ec, "b.gt 0x101c"},
		{"bCond(condLE, 8)", bCond(condLE, 8), 0x5400010d, "b.le 0x1020"},
		{"cbz(true, x11, 3)", cbz(true, x11, 3), 0xb400006b, "cbz x11, 0x100c"},
		{"cbnz(false, x12, -3)", cbnz(false, x12, -3), 0x35ffffac, "cbnz w12, 0xff4"},
		{"cbnz(true, x12, 4)", cbnz(true, x12, 4), 0xb500008c, "cbnz x12, 0x1010"},
		{"br(x10)", br(x10), 0xd61f0140, "br x10"},
		{"blr(x10)", blr(x10), 0xd63f0140, "blr x10"},
		{"ret(lr)", ret(lr), 0xd65f03c0, "ret"},
		{"strImm(size8, x10, x1, 3)", strImm(size8, x10, x1, 3), 0x39000c2a, "strb w10, [x1,#3]"},
		{"strImm(size16, x10, sp, 6)", strImm(size16, x10, sp, 6), 0x79000fea, "strh w10, [sp,#6]"},
		{"strImm(size32, x1, x0, 8)", strImm(size32, x1, x0, 8), 0xb9000801, "str w1, [x0,#8]"},
		{"strImm(size64, x2, sp, 0x7ff8)", strImm(size64, x2, sp, 0x7ff8), 0xf93fffe2, "str x2, [sp,#32760]"},
		{"ldrImm(size8, x7, x1, 4095)", ldrImm(size8, x7, x1, 4095), 0x397ffc27, "ldrb w7, [x1,#4095]"},
		{"ldrImm(size16, x7, x1, 2)", ldrImm(size16, x7, x1, 2), 0x79400427, "ldrh w7, [x1,#2]"},
		{"ldrImm(size32, x10, x1, 0x24)", ldrImm(size32, x10, x1, 0x24), 0xb940242a, "ldr w10, [x1,#36]"},
		{"ldrImm(size64, x12, x26, 0)", ldrImm(size64, x12, x26, 0), 0xf940034c, "ldr x12, [x26]"},
		{"ldrsImm(size8, x7, x1, 1)", ldrsImm(size8, x7, x1, 1), 0x39800427, "ldrsb x7, [x1,#1]"},
		{"ldrsImm(size16, x7, sp, 0x1ffe)", ldrsImm(size16, x7, sp, 0x1ffe), 0x79bfffe7, "ldrsh x7, [sp,#8190]"},
		{"ldrsImm(size32, x7, x1, 4)", ldrsImm(size32, x7, x1, 4), 0xb9800427, "ldrsw x7, [x1,#4]"},
		{"strReg(size8, x1, x0, x10)", strReg(size8, x1, x0, x10), 0x382a6801, "strb w1, [x0,x10]"},
		{"strReg(size16, x1, x0, x10)", strReg(size16, x1, x0, x10), 0x782a6801, "strh w1, [x0,x10]"},
		{"strReg(size32, x10, x0, x11)", strReg(size32, x10, x0, x11), 0xb82b680a, "str w10, [x0,x11]"},
		{"strReg(size64, x1, x0, x10)", strReg(size64, x1, x0, x10), 0xf82a6801, "str x1, [x0,x10]"},
		{"ldrReg(size8, x7, x1, x10)", ldrReg(size8, x7, x1, x10), 0x386a6827, "ldrb w7, [x1,x10]"},
		{"ldrReg(size16, x7, x1, x10)", ldrReg(size16, x7, x1, x10), 0x786a6827, "ldrh w7, [x1,x10]"},
		{"ldrReg(size32, x10, x1, x10)", ldrReg(size32, x10, x1, x10), 0xb86a682a, "ldr w10, [x1,x10]"},
		{"ldrReg(size64, x11, x10, x11)", ldrReg(size64, x11, x10, x11), 0xf86b694b, "ldr x11, [x10,x11]"},
		{"ldrsReg(size8, x7, x1, x10)", ldrsReg(size8, x7, x1, x10), 0x38aa6827, "ldrsb x7, [x1,x10]"},
		{"ldrsReg(size16, x7, x1, x10)", ldrsReg(size16, x7, x1, x10), 0x78aa6827, "ldrsh x7, [x1,x10]"},
		{"ldrsReg(size32, x7, x1, x10)", ldrsReg(size32, x7, x1, x10), 0xb8aa6827, "ldrsw x7, [x1,x10]"},
		{"ldrLit64(x10, 8)", ldrLit64(x10, 8), 0x5800004a, "ldr x10, 0x1008"},
		{"push(fp, lr)", push(fp, lr), 0xa9bf7bfd, "stp x29, x30, [sp,#-16]!"},
		{"push(zr, x26)", push(zr, x26), 0xa9bf6bff, "stp xzr, x26, [sp,#-16]!"},
		{"push(x26, x26)", push(x26, x26), 0xa9bf6bfa, "stp x26, x26, [sp,#-16]!"},
		{"push(x19, zr)", push(x19, zr), 0xa9bf7ff3, "stp x19, xzr, [sp,#-16]!"},
		{"pop(zr, x26)", pop(zr, x26), 0xa8c16bff, "ldp xzr, x26, [sp],#16"},
		{"pop(fp, lr)", pop(fp, lr), 0xa8c17bfd, "ldp x29, x30, [sp],#16"},
		{"stpPre(x19, x20, x1, -512)", stpPre(x19, x20, x1, -512), 0xa9a05033, "stp x19, x20, [x1,#-512]!"},
		{"ldpPost(x19, x20, x1, 504)", ldpPost(x19, x20, x1, 504), 0xa8dfd033, "ldp x19, x20, [x1],#504"},
		{"ldxr(true, x11, x0)", ldxr(true, x11, x0), 0xc85f7c0b, "ldxr x11, [x0]"},
		{"ldxr(false, x1, x10)", ldxr(false, x1, x10), 0x885f7d41, "ldxr w1, [x10]"},
		{"stxr(true, x11, x0, x12)", stxr(true, x11, x0, x12), 0xc80c7c0b, "stxr w12, x11, [x0]"},
		{"stxr(false, x11, x10, x12)", stxr(false, x11, x10, x12), 0x880c7d4b, "stxr w12, w11, [x10]"},
		{"stlxr(true, x11, x0, x12)", stlxr(true, x11, x0, x12), 0xc80cfc0b, "stlxr w12, x11, [x0]"},
		{"stlxr(false, x1, x10, x12)", stlxr(false, x1, x10, x12), 0x880cfd41, "stlxr w12, w1, [x10]"},
		{"stadd(true, x0, x1)", stadd(true, x0, x1), 0xf821001f, "stadd x1, [x0]"},
		{"stclr(false, x10, x11)", stclr(false, x10, x11), 0xb82b115f, "stclr w11, [x10]"},
		{"steor(true, x0, x1)", steor(true, x0, x1), 0xf821201f, "steor x1, [x0]"},
		{"stset(false, x0, x1)", stset(false, x0, x1), 0xb821301f, "stset w1, [x0]"},
		{"ldaddal(true, x1, x0, x1)", ldaddal(true, x1, x0, x1), 0xf8e10001, "ldaddal x1, x1, [x0]"},
		{"ldclral(false, x1, x0, x11)", ldclral(false, x1, x0, x11), 0xb8eb1001, "ldclral w11, w1, [x0]"},
		{"ldeoral(true, x2, x10, x2)", ldeoral(true, x2, x10, x2), 0xf8e22142, "ldeoral x2, x2, [x10]"},
		{"ldsetal(false, x1, x0, x1)", ldsetal(false, x1, x0, x1), 0xb8e13001, "ldsetal w1, w1, [x0]"},
		{"swpal(true, x1, x0, x1)", swpal(true, x1, x0, x1), 0xf8e18001, "swpal x1, x1, [x0]"},
		{"casal(true, x1, x0, x7)", casal(true, x1, x0, x7), 0xc8e7fc01, "casal x7, x1, [x0]"},
		{"casal(false, x1, x10, x7)", casal(false, x1, x10, x7), 0x88e7fd41, "casal w7, w1, [x10]"},
		{"addImm(true, x26, x26, 1)", addImm(true, x26, x26, 1), 0x9100075a, "add x26, x26, #0x1"},
		{"addImm(true, x10, x10, 32)", addImm(true, x10, x10, 32), 0x9100814a, "add x10, x10, #0x20"},
		{"addImm(false, x7, x7, 0x1000)", addImm(false, x7, x7, 0x1000), 0x114004e7, "add w7, w7, #0x1, lsl #12"},
		{"addImm(true, x7, x7, 0xfff000)", addImm(true, x7, x7, 0xfff000), 0x917ffce7, "add x7, x7, #0xfff, lsl #12"},
		{"addImm(true, sp, sp, 0x210)", addImm(true, sp, sp, 0x210), 0x910843ff, "add sp, sp, #0x210"},
		{"subImm(true, sp, sp, 16)", subImm(true, sp, sp, 16), 0xd10043ff, "sub sp, sp, #0x10"},
		{"subImm(false, x7, x7, 1)", subImm(false, x7, x7, 1), 0x510004e7, "sub w7, w7, #0x1"},
		{"addsImm(true, zr, x7, 5)", addsImm(true, zr, x7, 5), 0xb10014ff, "cmn x7, #0x5"},
		{"subsImm(false, x1, x1, 1)", subsImm(false, x1, x1, 1), 0x71000421, "subs w1, w1, #0x1"},
		{"cmpImm(true, x9, 1)", cmpImm(true, x9, 1), 0xf100053f, "cmp x9, #0x1"},
		{"cmpImm(false, x2, 0)", cmpImm(false, x2, 0), 0x7100005f, "cmp w2, #0x0"},
		{"cmnImm(false, x7, 5)", cmnImm(false, x7, 5), 0x310014ff, "cmn w7, #0x5"},
		{"mov(true, fp, sp)", mov(true, fp, sp), 0x910003fd, "mov x29, sp"},
		{"mov(true, x26, sp)", mov(true, x26, sp), 0x910003fa, "mov x26, sp"},
		{"mov(true, x7, x0)", mov(true, x7, x0), 0x91000007, "add x7, x0, #0x0"},
		{"mov(false, x2, x2)", mov(false, x2, x2), 0x11000042, "add w2, w2, #0x0"},
		{"mov(true, x9, lr)", mov(true, x9, lr), 0x910003c9, "add x9, x30, #0x0"},
		{"movz(true, x26, 0, 0)", movz(true, x26, 0, 0), 0xd280001a, "mov x26, #0x0"},
		{"movz(false, x10, 0x24, 0)", movz(false, x10, 0x24, 0), 0x5280048a, "mov w10, #0x24"},
		{"movz(true, x7, 0xbeef, 48)", movz(true, x7, 0xbeef, 48), 0xd2f7dde7, "mov x7, #0xbeef000000000000"},
		{"movk(true, x10, 0x8000, 32)", movk(true, x10, 0x8000, 32), 0xf2d0000a, "movk x10, #0x8000, lsl #32"},
		{"movk(false, x7, 0x1234, 16)", movk(false, x7, 0x1234, 16), 0x72a24687, "movk w7, #0x1234, lsl #16"},
		{"movn(true, x10, 0x1234, 0)", movn(true, x10, 0x1234, 0), 0x9282468a, "mov x10, #0xffffffffffffedcb"},
		{"movn(false, x7, 0, 16)", movn(false, x7, 0, 16), 0x12a00007, "movn w7, #0x0, lsl #16"},
		{"add(true, x10, x1, x10)", add(true, x10, x1, x10), 0x8b0a002a, "add x10, x1, x10"},
		{"sub(false, x7, x7, x1)", sub(false, x7, x7, x1), 0x4b0100e7, "sub w7, w7, w1"},
		{"subs(true, x1, x2, x3)", subs(true, x1, x2, x3), 0xeb030041, "subs x1, x2, x3"},
		{"neg(true, x7, x7)", neg(true, x7, x7), 0xcb0703e7, "neg x7, x7"},
		{"cmp(false, x2, x10)", cmp(false, x2, x10), 0x6b0a005f, "cmp w2, w10"},
		{"cmp(true, x12, x10)", cmp(true, x12, x10), 0xeb0a019f, "cmp x12, x10"},
		{"and(true, x11, x11, x1)", and(true, x11, x11, x1), 0x8a01016b, "and x11, x11, x1"},
		{"orr(false, x11, x1, x9)", orr(false, x11, x1, x9), 0x2a09002b, "orr w11, w1, w9"},
		{"eor(false, x7, x7, x7)", eor(false, x7, x7, x7), 0x4a0700e7, "eor w7, w7, w7"},
		{"ands(true, x1, x2, x3)", ands(true, x1, x2, x3), 0xea030041, "ands x1, x2, x3"},
		{"tst(true, x7, x1)", tst(true, x7, x1), 0xea0100ff, "tst x7, x1"},
		{"mvn(true, x11, x1)", mvn(true, x11, x1), 0xaa2103eb, "mvn x11, x1"},
		{"andImm(true, x7, x7, 0xff)", andImm(true, x7, x7, 0xff), 0x92401ce7, "and x7, x7, #0xff"},
		{"andImm(true, x7, x7, -256)", andImm(true, x7, x7, -256), 0x9278dce7, "and x7, x7, #0xffffffffffffff00"},
		{"andImm(false, x7, x7, 0x7ffffffe)", andImm(false, x7, x7, 0x7ffffffe), 0x121f74e7, "and w7, w7, #0x7ffffffe"},
		{"orrImm(false, x7, x7, 0x0f0f0f0f)", orrImm(false, x7, x7, 0x0f0f0f0f), 0x3200cce7, "orr w7, w7, #0xf0f0f0f"},
		{"orrImm(true, x1, x1, 0x10)", orrImm(true, x1, x1, 0x10), 0xb27c0021, "orr x1, x1, #0x10"},
		{"eorImm(false, x0, x0, 0x55555555)", eorImm(false, x0, x0, 0x55555555), 0x5200f000, "eor w0, w0, #0x55555555"},
		{"eorImm(true, x0, x0, -2147483648)", eorImm(true, x0, x0, -2147483648), 0xd2618000, "eor x0, x0, #0xffffffff80000000"},
		{"tstImm(true, x7, 1)", tstImm(true, x7, 1), 0xf24000ff, "tst x7, #0x1"},
		{"tstImm(false, x7, -2)", tstImm(false, x7, -2), 0x721f78ff, "tst w7, #0xfffffffe"},
		{"lslImm(true, x11, x2, 3)", lslImm(true, x11, x2, 3), 0xd37df04b, "lsl x11, x2, #3"},
		{"lslImm(false, x7, x7, 31)", lslImm(false, x7, x7, 31), 0x530100e7, "lsl w7, w7, #31"},
		{"lslImm(true, x7, x7, 0)", lslImm(true, x7, x7, 0), 0xd340fce7, "lsr x7, x7, #0"},
		{"lsrImm(true, x7, x7, 63)", lsrImm(true, x7, x7, 63), 0xd37ffce7, "lsr x7, x7, #63"},
		{"lsrImm(false, x7, x7, 0)", lsrImm(false, x7, x7, 0), 0x53007ce7, "lsr w7, w7, #0"},
		{"asrImm(false, x7, x7, 1)", asrImm(false, x7, x7, 1), 0x13017ce7, "asr w7, w7, #1"},
		{"asrImm(true, x7, x7, 32)", asrImm(true, x7, x7, 32), 0x9360fce7, "asr x7, x7, #32"},
		{"uxth(false, x7, x7)", uxth(false, x7, x7), 0x53003ce7, "uxth w7, w7"},
		{"uxth(true, x7, x7)", uxth(true, x7, x7), 0xd3403ce7, "ubfx x7, x7, #0, #16"},
		{"uxtw(false, x7, x7)", uxtw(false, x7, x7), 0x53007ce7, "lsr w7, w7, #0"},
		{"uxtw(true, x7, x7)", uxtw(true, x7, x7), 0xd3407ce7, "ubfx x7, x7, #0, #32"},
		{"sxtb(true, x7, x1)", sxtb(true, x7, x1), 0x93401c27, "sxtb x7, w1"},
		{"sxtb(false, x7, x1)", sxtb(false, x7, x1), 0x13001c27, "sxtb w7, w1"},
		{"sxth(true, x7, x1)", sxth(true, x7, x1), 0x93403c27, "sxth x7, w1"},
		{"sxtw(true, x7, x1)", sxtw(true, x7, x1), 0x93407c27, "sxtw x7, w1"},
		{"sxtw(false, x7, x1)", sxtw(false, x7, x1), 0x13007c27, "asr w7, w1, #0"},
		{"sbfm(true, x1, x2, 3, 10)", sbfm(true, x1, x2, 3, 10), 0x93432841, "sbfx x1, x2, #3, #8"},
		{"ubfm(false, x1, x2, 3, 10)", ubfm(false, x1, x2, 3, 10), 0x53032841, "ubfx w1, w2, #3, #8"},
		{"rev16(false, x7, x7)", rev16(false, x7, x7), 0x5ac004e7, "rev16 w7, w7"},
		{"rev16(true, x7, x7)", rev16(true, x7, x7), 0xdac004e7, "rev16 x7, x7"},
		{"rev32(false, x7, x7)", rev32(false, x7, x7), 0x5ac008e7, "rev w7, w7"},
		{"rev32(true, x7, x7)", rev32(true, x7, x7), 0xdac008e7, "rev32 x7, x7"},
		{"rev64(x7, x7)", rev64(x7, x7), 0xdac00ce7, "rev x7, x7"},
		{"udiv(true, x7, x7, x1)", udiv(true, x7, x7, x1), 0x9ac108e7, "udiv x7, x7, x1"},
		{"udiv(false, x10, x7, x11)", udiv(false, x10, x7, x11), 0x1acb08ea, "udiv w10, w7, w11"},
		{"sdiv(false, x7, x7, x1)", sdiv(false, x7, x7, x1), 0x1ac10ce7, "sdiv w7, w7, w1"},
		{"sdiv(true, x10, x7, x1)", sdiv(true, x10, x7, x1), 0x9ac10cea, "sdiv x10, x7, x1"},
		{"lslv(true, x7, x7, x1)", lslv(true, x7, x7, x1), 0x9ac120e7, "lsl x7, x7, x1"},
		{"lsrv(false, x7, x7, x1)", lsrv(false, x7, x7, x1), 0x1ac124e7, "lsr w7, w7, w1"},
		{"asrv(true, x7, x7, x1)", asrv(true, x7, x7, x1), 0x9ac128e7, "asr x7, x7, x1"},
		{"madd(true, x10, x10, x2, x11)", madd(true, x10, x10, x2, x11), 0x9b0b284a, "madd x10, x2, x11, x10"},
		{"msub(true, x7, x7, x10, x1)", msub(true, x7, x7, x10, x1), 0x9b019d47, "msub x7, x10, x1, x7"},
		{"msub(false, x7, x7, x10, x11)", msub(false, x7, x7, x10, x11), 0x1b0b9d47, "msub w7, w10, w11, w7"},
		{"mul(false, x7, x7, x10)", mul(false, x7, x7, x10), 0x1b0a7ce7, "mul w7, w7, w10"},
		{"mul(true, x7, x7, x10)", mul(true, x7, x7, x10), 0x9b0a7ce7, "mul x7, x7, x10"},
		{"nop", nop, 0xd503201f, "nop"},
		{"paciasp", paciasp, 0xd503233f, "paciasp"},
		{"autiasp", autiasp, 0xd50323bf, "autiasp"},
		{"btiC", btiC, 0xd503245f, "bti c"},
		{"btiJ", btiJ, 0xd503249f, "bti j"},
		{"btiJC", btiJC, 0xd50324df, "bti jc"},
		{"dmbISH", dmbISH, 0xd5033bbf, "dmb ish"},
		{"breakFault", breakFault, 0xd4202000, "brk #0x100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("word = %08x, want %08x", tc.got, tc.want)
			}
			if got := Disasm(tc.got, 0x1000); got != tc.gnu {
				t.Errorf("disasm = %q, want %q", got, tc.gnu)
			}
		})
	}
}

// TestEncodeRejects: operands the kernel's encoders refuse give
// AARCH64_BREAK_FAULT, which validate_code then finds.
func TestEncodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uint32
	}{
		{"b past imm26", b(1 << 25)},
		{"b.cond past imm19", bCond(condEQ, 1<<18)},
		{"b.cond before imm19", bCond(condEQ, -(1<<18)-1)},
		{"cbz past imm19", cbz(true, x11, 1<<18)},
		{"ldr w misaligned", ldrImm(size32, x7, x1, 2)},
		{"ldr x negative", ldrImm(size64, x7, x1, -8)},
		{"ldrb past imm12", ldrImm(size8, x7, x1, 4096)},
		{"str x past imm12", strImm(size64, x7, x1, 0x8000)},
		{"ldrs of 64 bits", ldrsImm(size64, x7, x1, 0)},
		{"ldrs reg of 64 bits", ldrsReg(size64, x7, x1, x2)},
		{"stp past imm7", stpPre(x19, x20, sp, -520)},
		{"ldp misaligned", ldpPost(x19, x20, sp, 12)},
		{"ldr literal misaligned", ldrLit64(x10, 6)},
		{"add imm13", addImm(true, x7, x7, 0x1001)},
		{"add negative", addImm(true, x7, x7, -1)},
		{"sub 24 bits", subImm(true, x7, x7, 0x1000001)},
		{"movz w lsl 32", movz(false, x7, 0, 32)},
		{"movk imm17", movk(true, x7, 0x10000, 0)},
		{"movn lsl 8", movn(true, x7, 1, 8)},
		{"lsl x 64", lslImm(true, x7, x7, 64)},
		{"lsl x -1", lslImm(true, x7, x7, -1)},
		{"lsr w 32", lsrImm(false, x7, x7, 32)},
		{"asr x 64", asrImm(true, x7, x7, 64)},
		{"ubfm w immr 32", ubfm(false, x7, x7, 32, 0)},
		{"and w 0", andImm(false, x7, x7, 0)},
		{"and w all ones", andImm(false, x7, x7, -1)},
		{"and x all ones", andImm(true, x7, x7, -1)},
		{"orr x sign-extended 0x55555555 repeats only in 32 bits", orrImm(true, x7, x7, 0x55555555)},
		{"eor w no pattern", eorImm(false, x7, x7, 0x12345678)},
		{"tst x no pattern", tstImm(true, x7, 0x5)},
	} {
		if tc.got != breakFault {
			t.Errorf("%s: word %08x, want AARCH64_BREAK_FAULT %08x", tc.name, tc.got, breakFault)
		}
	}
}

// decodeBitMasks is DecodeBitMasks() of the Arm ARM (shared/functions/
// integer), written from the pseudocode: the independent oracle for the
// logical immediate encoder.
func decodeBitMasks(n, immr, imms uint32, regSize uint) (uint64, bool) {
	length := bits.Len32(n<<6|(^imms&0x3f)) - 1
	if length < 1 {
		return 0, false
	}
	esize := uint(1) << length
	if esize > regSize {
		return 0, false
	}
	levels := uint32(esize - 1)
	if imms&levels == levels {
		return 0, false // all ones in an element is reserved
	}
	s, r := uint(imms&levels), uint(immr&levels)
	elem := uint64(1)<<(s+1) - 1
	if esize < 64 {
		elem &= uint64(1)<<esize - 1
	}
	// Rotate right by r within the element, then replicate.
	if r != 0 {
		elem = (elem>>r | elem<<(esize-r))
		if esize < 64 {
			elem &= uint64(1)<<esize - 1
		}
	}
	v := uint64(0)
	for i := uint(0); i < regSize; i += esize {
		v |= elem << i
	}
	return v, true
}

// TestBitmaskImmediates runs the encoder over every logical immediate the
// architecture has: 5334 for 64-bit and 1302 for 32-bit registers (the
// counts Luke Nelson and Xi Wang checked the kernel's encoder against with
// llvm-mc when they fixed its 32-bit cases in May 2020). Each must encode
// to the fields it came from, and arm64asm must print it back.
func TestBitmaskImmediates(t *testing.T) {
	for _, regSize := range []uint{32, 64} {
		is64 := regSize == 64
		seen := map[uint64]bool{}
		for n := uint32(0); n <= 1; n++ {
			if n == 1 && !is64 {
				continue
			}
			for immr := uint32(0); immr < uint32(regSize); immr++ {
				for imms := uint32(0); imms < 64; imms++ {
					v, ok := decodeBitMasks(n, immr, imms, regSize)
					if !ok {
						continue
					}
					// Only the canonical field values: immr below the
					// element size.
					esize := uint32(1) << (bits.Len32(n<<6|(^imms&0x3f)) - 1)
					if immr >= esize {
						continue
					}
					seen[v] = true
					gn, gr, gs, ok := encodeBitmaskImm(v, is64)
					if !ok || gn != n || gr != immr || gs != imms {
						t.Fatalf("%d-bit %#x: got N=%d immr=%d imms=%d ok=%v, want N=%d immr=%d imms=%d",
							regSize, v, gn, gr, gs, ok, n, immr, imms)
					}
				}
			}
		}
		want := map[uint]int{32: 1302, 64: 5334}[regSize]
		if len(seen) != want {
			t.Fatalf("%d-bit: %d logical immediates, want %d", regSize, len(seen), want)
		}
		for v := range seen {
			w := logicImmWord(is64, v)
			var buf [4]byte
			binary.LittleEndian.PutUint32(buf[:], w)
			inst, err := arm64asm.Decode(buf[:])
			if err != nil {
				t.Fatalf("decode %08x: %v", w, err)
			}
			if got, wantSuffix := arm64asm.GNUSyntax(inst), fmt.Sprintf("#%#x", v); !strings.HasSuffix(got, wantSuffix) {
				t.Fatalf("%d-bit %#x: %08x disassembles as %q", regSize, v, w, got)
			}
		}
	}
}

// logicImmWord builds "and x1, x2, #v" (w1, w2 for 32-bit) from the raw
// 64-bit pattern, bypassing logicImm's int32 sign extension.
func logicImmWord(is64 bool, v uint64) uint32 {
	n, immr, imms, _ := encodeBitmaskImm(v, is64)
	return sfBit(is64) | 0x12000000 | n<<22 | immr<<16 | imms<<10 | 2<<5 | 1
}
