// SPDX-License-Identifier: GPL-2.0
// test_tailcall_bpf2bpf_3: frames of 128 (programs) and 64 (subprograms)
// bytes of stack in a chain that tail-calls: the verifier allows at most 256
// bytes per chain that reaches a tail call. Context: the 54-byte packet,
// whose first six bytes are zero (so the key-1 branch runs; key 10 is past
// max_entries and always fails).
// Kernel runs (slots 0/1 = classifier_0/1): entry -> subprog_tail -> c0 ->
// subprog_tail2 -> c1: skb->len * 3 = 162. Delete slot 1: subprog_tail2
// returns skb->len = 54. Delete slot 0: subprog_tail returns 108.
#include "common.h"

int classifier_0(struct __sk_buff *skb);
int classifier_1(struct __sk_buff *skb);

struct {
	PROG_ARRAY(2);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0, [1] = &classifier_1 },
};

// Reading the last byte keeps each array alive (the selftests' __sink).
#define KEEP(arr) asm volatile("" :: "r"(arr[sizeof(arr) - 1]))

__noinline
int subprog_tail2(struct __sk_buff *skb)
{
	volatile char arr[64] = {};

	if (load_word(skb, 0) || load_half(skb, 0))
		bpf_tail_call_static(skb, &jmp_table, 10);
	else
		bpf_tail_call_static(skb, &jmp_table, 1);

	KEEP(arr);
	return skb->len;
}

static __noinline
int subprog_tail(struct __sk_buff *skb)
{
	volatile char arr[64] = {};

	bpf_tail_call_static(skb, &jmp_table, 0);

	KEEP(arr);
	return skb->len * 2;
}

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	volatile char arr[128] = {};

	KEEP(arr);
	return subprog_tail2(skb);
}

SEC("tc")
int classifier_1(struct __sk_buff *skb)
{
	volatile char arr[128] = {};

	KEEP(arr);
	return skb->len * 3;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	volatile char arr[128] = {};

	KEEP(arr);
	return subprog_tail(skb);
}

char _license[] SEC("license") = "GPL";
