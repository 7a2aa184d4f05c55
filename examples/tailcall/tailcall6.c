// SPDX-License-Identifier: GPL-2.0
// test_tailcall_6: tailcall3.c with indirect tail calls (the key is a
// global the program reads, 0 and never written).
// Kernel: retval 1, count 33; after deleting slot 0: retval 0.
#include "common.h"

int classifier_0(struct __sk_buff *skb);

struct {
	PROG_ARRAY(1);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0 },
};

int count, which;

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	count++;
	bpf_tail_call(skb, &jmp_table, which);
	return 1;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp_table, which);
	return 0;
}

char _license[] SEC("license") = "GPL";
