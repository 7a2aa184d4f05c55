// SPDX-License-Identifier: GPL-2.0
// test_tailcall_2: several programs patching one slot, and the limit.
// c0 -> slot 1, c1 -> slot 2, c2 returns 2, c3 <-> c4 call each other.
// Kernel runs (slots i = classifier_i): entry -> c0 -> c1 -> c2: 2.
// Delete slot 2: c1's call fails: 1. Delete slot 0: entry's calls to 0 and 2
// fail, slot 3 starts the c3/c4 ping-pong; the 33rd tail call lands in c3,
// whose call to c4 is refused: 3.
#include "common.h"

int classifier_0(struct __sk_buff *skb);
int classifier_1(struct __sk_buff *skb);
int classifier_2(struct __sk_buff *skb);
int classifier_3(struct __sk_buff *skb);
int classifier_4(struct __sk_buff *skb);

struct {
	PROG_ARRAY(5);
} jmp_table SEC(".maps") = {
	.values = {
		[0] = &classifier_0, [1] = &classifier_1, [2] = &classifier_2,
		[3] = &classifier_3, [4] = &classifier_4,
	},
};

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 1);
	return 0;
}

SEC("tc")
int classifier_1(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 2);
	return 1;
}

SEC("tc")
int classifier_2(struct __sk_buff *skb)
{
	return 2;
}

SEC("tc")
int classifier_3(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 4);
	return 3;
}

SEC("tc")
int classifier_4(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 3);
	return 4;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 0);
	bpf_tail_call_static(skb, &jmp_table, 2);
	bpf_tail_call_static(skb, &jmp_table, 3);
	return 3;
}

char _license[] SEC("license") = "GPL";
