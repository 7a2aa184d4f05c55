// SPDX-License-Identifier: GPL-2.0
// test_tailcall_4: a key the verifier cannot know (a global the test
// writes) makes the tail call indirect.
// Kernel runs (slots i = classifier_i): selector = 0, 1, 2 -> retval 0, 1,
// 2; then for i = 0..2 selector = i and slot i deleted -> retval 3.
#include "common.h"

int classifier_0(struct __sk_buff *skb);
int classifier_1(struct __sk_buff *skb);
int classifier_2(struct __sk_buff *skb);

struct {
	PROG_ARRAY(3);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0, [1] = &classifier_1, [2] = &classifier_2 },
};

int selector = 0;

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
	bpf_tail_call(skb, &jmp_table, selector);
	return 3;
}

char _license[] SEC("license") = "GPL";
