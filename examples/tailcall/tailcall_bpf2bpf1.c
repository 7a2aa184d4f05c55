// SPDX-License-Identifier: GPL-2.0
// test_tailcall_bpf2bpf_1: tail calls from a program and from a subprogram.
// Context: the 54-byte IPv4/TCP test packet (skb->len 54).
// Kernel runs (slot 0 = classifier_0, slot 1 = classifier_1): entry's call
// to slot 1 -> 1. Delete slot 1: subprog_tail's call to slot 0 -> c0's 0
// comes back through subprog_tail and entry: 0. Delete slot 0: both fail:
// skb->len * 2 = 108.
#include "common.h"

int classifier_0(struct __sk_buff *skb);
int classifier_1(struct __sk_buff *skb);

struct {
	PROG_ARRAY(2);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0, [1] = &classifier_1 },
};

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	return 0;
}

SEC("tc")
int classifier_1(struct __sk_buff *skb)
{
	return 1;
}

static __noinline
int subprog_tail(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 0);
	return skb->len * 2;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 1);
	return subprog_tail(skb);
}

char _license[] SEC("license") = "GPL";
