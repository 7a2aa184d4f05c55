// SPDX-License-Identifier: GPL-2.0
// test_tailcall_1: one program patching several call sites per slot. entry
// makes four constant-key tail calls to each of slots 0, 1 and 2 (twelve
// direct call sites); classifier_x returns x.
// Kernel runs (128-byte zero context): slots i = classifier_i -> run gives
// 0; delete 0 -> 1; delete 1 -> 2; delete 2 -> 3 (all empty); refill -> 0;
// slots reversed (slot i = classifier_(2-i)) -> 2, 1, 0 as they are deleted;
// empty -> 3.
#include "common.h"

int classifier_0(struct __sk_buff *skb);
int classifier_1(struct __sk_buff *skb);
int classifier_2(struct __sk_buff *skb);

struct {
	PROG_ARRAY(3);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0, [1] = &classifier_1, [2] = &classifier_2 },
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

SEC("tc")
int classifier_2(struct __sk_buff *skb)
{
	return 2;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	// Several sites per slot, so patching a slot must patch every one.
	bpf_tail_call_static(skb, &jmp_table, 0);
	bpf_tail_call_static(skb, &jmp_table, 0);
	bpf_tail_call_static(skb, &jmp_table, 0);
	bpf_tail_call_static(skb, &jmp_table, 0);

	bpf_tail_call_static(skb, &jmp_table, 1);
	bpf_tail_call_static(skb, &jmp_table, 1);
	bpf_tail_call_static(skb, &jmp_table, 1);
	bpf_tail_call_static(skb, &jmp_table, 1);

	bpf_tail_call_static(skb, &jmp_table, 2);
	bpf_tail_call_static(skb, &jmp_table, 2);
	bpf_tail_call_static(skb, &jmp_table, 2);
	bpf_tail_call_static(skb, &jmp_table, 2);

	return 3;
}

char _license[] SEC("license") = "GPL";
