// SPDX-License-Identifier: GPL-2.0
// test_tailcall_bpf2bpf_2: the limit through a subprogram. Context: 128
// zero bytes, so load_byte(skb, 0) is 0 and the key-0 branch runs (the
// key-1 site is past max_entries: the verifier poisons it, it always fails).
// Kernel: entry -> c0 -> subprog_tail -> c0 ... count 33, retval 1; after
// deleting slot 0: retval 0. The fentry/fexit variants attach tracing
// programs to subprog_tail (33 calls each).
#include "common.h"

int classifier_0(struct __sk_buff *skb);

struct {
	PROG_ARRAY(1);
} jmp_table SEC(".maps") = {
	.values = { [0] = &classifier_0 },
};

int count = 0;

static __noinline
int subprog_tail(struct __sk_buff *skb)
{
	if (load_byte(skb, 0))
		bpf_tail_call_static(skb, &jmp_table, 1);
	else
		bpf_tail_call_static(skb, &jmp_table, 0);
	return 1;
}

SEC("tc")
int classifier_0(struct __sk_buff *skb)
{
	count++;
	return subprog_tail(skb);
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 0);
	return 0;
}

char _license[] SEC("license") = "GPL";
