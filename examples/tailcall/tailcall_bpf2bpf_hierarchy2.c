// SPDX-License-Identifier: GPL-2.0
// tailcall_bpf2bpf_hierarchy2 (RUN_TESTS, __retval(33)): the main program
// calls subprog_tail0, then subprog_tail1; each tail-calls its own slot
// (direct), whose classifier counts and calls the same subprogram again.
//   main < subprog_tail0 --tailcall-> classifier_0 -> subprog_tail0
//        < subprog_tail1 --tailcall-> classifier_1 -> subprog_tail1
// Kernel (fixed): the first chain uses all 33 tail calls, so the second
// call already fails: count0 33, count1 0, retval (count1 << 16) | count0 =
// 33. Legacy: count0 33, count1 33.
// The kernel's main starts with clobber_regs_stack(), which calls
// bpf_strtoul only to dirty native registers and stack; jitsim does not model
// that helper, so it is left out.
#include "common.h"

int classifier_0(struct __sk_buff *skb);
int classifier_1(struct __sk_buff *skb);

struct {
	PROG_ARRAY(2);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0, [1] = &classifier_1 },
};

int count0 = 0;
int count1 = 0;

static __noinline
int subprog_tail0(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 0);
	return 0;
}

static __noinline
int subprog_tail1(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 1);
	return 0;
}

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	count0++;
	subprog_tail0(skb);
	return 0;
}

SEC("tc")
int classifier_1(struct __sk_buff *skb)
{
	count1++;
	subprog_tail1(skb);
	return 0;
}

SEC("tc")
int tailcall_bpf2bpf_hierarchy_2(struct __sk_buff *skb)
{
	subprog_tail0(skb);
	subprog_tail1(skb);

	return (count1 << 16) | count0;
}

char _license[] SEC("license") = "GPL";
