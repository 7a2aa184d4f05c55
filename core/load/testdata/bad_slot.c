// SPDX-License-Identifier: GPL-2.0
// A prog array whose static initialiser names a subprogram (a .text
// function), which cannot be a tail call target.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__noinline int helper(struct __sk_buff *skb)
{
	return skb->len;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct __sk_buff *));
} jmp_table SEC(".maps") = {
	.values = { [1] = &helper },
};

SEC("tc")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 1);
	return helper(skb);
}

char _license[] SEC("license") = "GPL";
