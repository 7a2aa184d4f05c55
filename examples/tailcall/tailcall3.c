// SPDX-License-Identifier: GPL-2.0
// test_tailcall_3: the limit through direct (constant key) tail calls.
// entry -> classifier_0, which counts and tail-calls itself.
// Kernel: retval 1, count 33 (the 34th tail call is refused); after
// deleting slot 0, entry's call fails: retval 0. tailcall6.c is the same
// scenario with indirect calls.
#include "common.h"

int classifier_0(struct __sk_buff *skb);

struct {
	PROG_ARRAY(1);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0 },
};

int count = 0;

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	count++;
	bpf_tail_call_static(skb, &jmp_table, 0);
	return 1;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 0);
	return 0;
}

char _license[] SEC("license") = "GPL";
