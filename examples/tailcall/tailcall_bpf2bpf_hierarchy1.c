// SPDX-License-Identifier: GPL-2.0
// test_tailcall_bpf2bpf_hierarchy_1: entry counts, then calls subprog_tail
// twice; subprog_tail tail-calls slot 0 = entry (direct).
//   entry < subprog_tail --tailcall-> entry
//         < subprog_tail --tailcall-> entry
// Kernel (fixed scheme, one count shared by the whole hierarchy): retval 1,
// count 34; delete slot 0, run again: retval 1, count 35. Under the legacy
// scheme every subprogram call starts its own count and the tree doubles at
// every level (about 2^34 runs): a run ends on the instruction budget.
#include "common.h"

int entry(struct __sk_buff *skb);

struct {
	PROG_ARRAY(1);
} jmp_table SEC(".maps") = {
	.values = { [0] = &entry },
};

int count = 0;

static __noinline
int subprog_tail(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &jmp_table, 0);
	return 0;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
	volatile int ret = 1;

	count++;
	subprog_tail(skb);
	subprog_tail(skb);

	return ret;
}

char _license[] SEC("license") = "GPL";
