// SPDX-License-Identifier: GPL-2.0
// A large program for core/load's benchmark: fully unrolled loops (about
// 10,000 instruction slots in all) with map lookups, global data and
// subprogram calls mixed in, so every conversion step has work to do.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

__u64 seen = 0;
__u64 mix_const = 0x9e3779b97f4a7c15;

static __noinline __u64 mix(__u64 h, __u64 v)
{
	h ^= v + mix_const + (h << 6) + (h >> 2);
	return h;
}

static __noinline __u64 lookup(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&table, &k);

	return v ? *v : k;
}

SEC("tc")
int big(struct __sk_buff *skb)
{
	__u64 h = skb->len, g = skb->protocol;

#pragma clang loop unroll(full)
	for (int i = 0; i < 900; i++) {
		h ^= h << 13;
		h ^= h >> 7;
		h += g * (i | 1);
		g = (g << 3) ^ (h >> 11);
		if ((i & 63) == 0)
			h = mix(h, lookup(i & 15));
	}
	seen += h;
	return h & 0xff;
}

char _license[] SEC("license") = "GPL";
