// SPDX-License-Identifier: GPL-2.0
// tailcall_bpf2bpf_hierarchy3 (RUN_TESTS, __retval(33)): two prog arrays,
// both with slot 0 = classifier_0. main tail-calls classifier_0 (direct);
// classifier_0 counts and calls subprog_tail twice, once per map. The one
// tail call site in subprog_tail sees two map pointers, so the verifier
// makes it indirect.
//   main --tailcall-> classifier_0 < subprog_tail(jmp_table0) --tailcall-> classifier_0
//                                  < subprog_tail(jmp_table1) --tailcall-> classifier_0
// Kernel (fixed): 1 + 32 tail calls, classifier_0 runs 33 times, retval =
// count = 33. Legacy: the tree doubles; a run ends on the budget.
// clobber_regs_stack() is left out of main as in hierarchy2.
#include "common.h"

int classifier_0(struct __sk_buff *skb);

struct {
	PROG_ARRAY(1);
} jmp_table0 SEC(".maps") = {
	.values = { [0] = &classifier_0 },
};

struct {
	PROG_ARRAY(1);
} jmp_table1 SEC(".maps") = {
	.values = { [0] = &classifier_0 },
};

int count = 0;

static __noinline
int subprog_tail(struct __sk_buff *skb, void *jmp_table)
{
	bpf_tail_call_static(skb, jmp_table, 0);
	return 0;
}

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	count++;
	subprog_tail(skb, &jmp_table0);
	subprog_tail(skb, &jmp_table1);
	return count;
}

SEC("tc")
int tailcall_bpf2bpf_hierarchy_3(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table0, 0);
	return 0;
}

char _license[] SEC("license") = "GPL";
