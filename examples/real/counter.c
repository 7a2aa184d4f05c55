// SPDX-License-Identifier: GPL-2.0
// A per-key counter in a hash map, the shape of countless socket filters:
// look the key up, add atomically when it is there, insert 1 when not
// (BPF_NOEXIST, so a racing insert is not overwritten). The key is the
// packet's EtherType (skb->protocol, network order); the value counts
// packets and bytes. Returns the packet length: the socket keeps it whole.
//
// Expected: after two runs with a 54-byte IPv4 packet, counts[htons(0x0800)]
// = {packets 2, bytes 80} (test_run shows socket filters 54 - 14 bytes).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct stats);
} counts SEC(".maps");

// Packets that found the map full.
__u64 dropped_updates = 0;

SEC("socket")
int count_by_proto(struct __sk_buff *skb)
{
	__u32 key = skb->protocol;
	struct stats *s;

	s = bpf_map_lookup_elem(&counts, &key);
	if (s) {
		__sync_fetch_and_add(&s->packets, 1);
		__sync_fetch_and_add(&s->bytes, skb->len);
	} else {
		struct stats init = { .packets = 1, .bytes = skb->len };

		if (bpf_map_update_elem(&counts, &key, &init, BPF_NOEXIST))
			__sync_fetch_and_add(&dropped_updates, 1);
	}
	return skb->len;
}

char _license[] SEC("license") = "GPL";
