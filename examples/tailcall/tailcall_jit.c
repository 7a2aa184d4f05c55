// SPDX-License-Identifier: GPL-2.0
// verifier_tailcall_jit.c: the program whose x86-64 JIT listing the kernel
// pins with __jited(...) lines (kernel-notes/selftests.md): main calls sub,
// sub tail-calls slot 0 = main (direct: constant map and key), both written
// in BPF assembly so the listing does not depend on the compiler.
// Kernel: __success, run once (fixed scheme); main returns 0 in the end.
#include "common.h"

int main(void);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void));
} jmp_table SEC(".maps") = {
	.values = { [0] = (void *)&main },
};

static __noinline __attribute__((naked)) int sub(void)
{
	asm volatile(
	"r2 = %[jmp_table] ll;"
	"r3 = 0;"
	"call 12;"
	"exit;"
	:
	: [jmp_table] "i"(&jmp_table)
	: "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "memory");
}

SEC("tc")
__attribute__((naked)) int main(void)
{
	asm volatile(
	"call %[sub];"
	"r0 = 0;"
	"exit;"
	:
	: [sub] "i"(sub)
	: "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "memory");
}

char _license[] SEC("license") = "GPL";
