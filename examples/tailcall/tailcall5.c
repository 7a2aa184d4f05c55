// SPDX-License-Identifier: GPL-2.0
// test_tailcall_5: one call site whose key is a constant on every path,
// but a different one per path: the verifier poisons the key (it records
// one constant per site), so the site is indirect.
// Kernel runs (slots i = classifier_i): selector = 1111, 1234, 5678 ->
// retval 0, 1, 2; then the same with slot i deleted first -> 3, 3, 3.
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
	int idx = 0;

	if (selector == 1234)
		idx = 1;
	else if (selector == 5678)
		idx = 2;

	bpf_tail_call(skb, &jmp_table, idx);
	return 3;
}

char _license[] SEC("license") = "GPL";
