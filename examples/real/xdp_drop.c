// SPDX-License-Identifier: GPL-2.0
// An XDP program that drops TCP and UDP packets by destination port: ports
// in the blocked hash map, plus one port fixed at load time in .rodata (a
// const volatile the loader may rewrite, as libbpf skeletons do). Counts
// drops per port in the hash map's value and in total in .bss; a .data
// switch turns it off.
//
// Expected: a 54-byte IPv4/TCP packet to port 8080 (the default) ->
// XDP_DROP (1), dropped_total 1; to port 80 with blocked empty -> XDP_PASS
// (2); with enabled = 0 -> XDP_PASS.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);   // port, host order
	__type(value, __u64); // packets dropped
} blocked SEC(".maps");

const volatile __u16 default_port = 8080;
int enabled = 1;
__u64 dropped_total = 0;

static __always_inline int dest_port(void *data, void *data_end, __u16 *port)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	void *l4;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	if (ip->ihl < 5)
		return -1;
	l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return -1;
		*port = bpf_ntohs(tcp->dest);
		return 0;
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return -1;
		*port = bpf_ntohs(udp->dest);
		return 0;
	}
	return -1;
}

SEC("xdp")
int xdp_drop_port(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 *hits;
	__u16 port;

	if (!enabled || dest_port(data, data_end, &port))
		return XDP_PASS;
	hits = bpf_map_lookup_elem(&blocked, &port);
	if (hits) {
		__sync_fetch_and_add(hits, 1);
	} else if (port != default_port) {
		return XDP_PASS;
	}
	__sync_fetch_and_add(&dropped_total, 1);
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
