// SPDX-License-Identifier: GPL-2.0
// test_tailcall_bpf2bpf_4 (noise 0) and _5 (noise 1): the count survives
// subprogram calls between tail calls, with a map lookup as noise in the
// subprogram. Context: the 54-byte packet; slots i = classifier_i.
// Kernel: entry -> subprog_tail -> c0 -> subprog_tail_1 -> c1 ->
// subprog_tail_2 -> c2 (count++) -> subprog_tail_2 -> c2 ... the 34th tail
// call is refused: retval skb->len * 3 = 162, count 31, for either noise.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} nop_table SEC(".maps");

int classifier_0(struct __sk_buff *skb);
int classifier_1(struct __sk_buff *skb);
int classifier_2(struct __sk_buff *skb);

struct {
	PROG_ARRAY(3);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0, [1] = &classifier_1, [2] = &classifier_2 },
};

// The test writes {count, noise} into .bss before its run.
int count = 0;
int noise = 0;

static __always_inline int subprog_noise(void)
{
	__u32 key = 0;

	bpf_map_lookup_elem(&nop_table, &key);
	return 0;
}

__noinline
int subprog_tail_2(struct __sk_buff *skb)
{
	if (noise)
		subprog_noise();
	bpf_tail_call_static(skb, &jmp_table, 2);
	return skb->len * 3;
}

__noinline
int subprog_tail_1(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 1);
	return skb->len * 2;
}

__noinline
int subprog_tail(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 0);
	return skb->len;
}

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	return subprog_tail_1(skb);
}

SEC("tc")
int classifier_1(struct __sk_buff *skb)
{
	return subprog_tail_2(skb);
}

SEC("tc")
int classifier_2(struct __sk_buff *skb)
{
	count++;
	return subprog_tail_2(skb);
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	return subprog_tail(skb);
}

char _license[] SEC("license") = "GPL";
