// SPDX-License-Identifier: GPL-2.0
// A helper jitsim does not model (bpf_get_smp_processor_id, 8): the object
// loads; analysis rejects the call with its C line.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int cpu(struct __sk_buff *skb)
{
	if (skb->len > 100)
		return bpf_get_smp_processor_id();
	return 0;
}

char _license[] SEC("license") = "GPL";
