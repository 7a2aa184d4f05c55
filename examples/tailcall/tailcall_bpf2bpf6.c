// SPDX-License-Identifier: GPL-2.0
// test_tailcall_bpf2bpf_6: tail call counting with a stack that is not a
// multiple of 8 bytes (a one-byte array): the count's slot must not overlap
// it. Context: the 54-byte packet; slot 0 = classifier_0.
// Kernel: one run, retval 0 (c0's, through subprog_tail and entry); done 1.
#include "common.h"

int classifier_0(struct __sk_buff *skb);

struct {
	PROG_ARRAY(1);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0 },
};

int done = 0;

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	done = 1;
	return 0;
}

static __noinline
int subprog_tail(struct __sk_buff *skb)
{
	// Don't propagate the constant to the caller.
	volatile int ret = 1;

	bpf_tail_call_static(skb, &jmp_table, 0);
	return ret;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	// Have data on the stack whose size is not a multiple of 8.
	volatile char arr[1] = {};

	asm volatile("" :: "r"(arr[0]));
	return subprog_tail(skb);
}

char _license[] SEC("license") = "GPL";
