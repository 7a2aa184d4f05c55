// SPDX-License-Identifier: GPL-2.0
// A ring buffer map: a map type jitsim does not model.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tc")
int emit(struct __sk_buff *skb)
{
	return bpf_ringbuf_output(&events, &skb->len, sizeof(skb->len), 0);
}

char _license[] SEC("license") = "GPL";
