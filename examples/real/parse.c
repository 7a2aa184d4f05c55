// SPDX-License-Identifier: GPL-2.0
// A tc classifier shaped like real packet parsers: direct packet access
// through skb->data/data_end with the bounds checks the verifier demands,
// and bounded loops (kept as loops, not unrolled, as the kernel has allowed
// since 5.3) over VLAN tags and TCP options. It counts TCP SYNs per MSS
// class in an array map and drops packets whose headers are cut short.
//
// Expected: a 54-byte IPv4/TCP SYN without options -> TC_ACT_OK (0), slot 0
// (no MSS option) of syn_count incremented; a non-IP frame -> TC_ACT_OK with
// no count; an IPv4 header with ihl < 5 -> TC_ACT_SHOT (2).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_VLAN 2
#define MAX_TCP_OPTS 10

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

// syn_count[0]: SYNs without an MSS option; [1]: MSS < 1460; [2]: MSS >= 1460.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} syn_count SEC(".maps");

__u64 parsed = 0;

// tcp_mss walks the TCP options (kind 2 = MSS, 0 = end, 1 = NOP) and
// returns the MSS or 0.
static __noinline int tcp_mss(struct __sk_buff *skb, __u32 off, __u32 end)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

#pragma clang loop unroll(disable)
	for (int i = 0; i < MAX_TCP_OPTS; i++) {
		__u8 *p;

		if (off >= end || off > 1500)
			return 0;
		p = data + off;
		if ((void *)(p + 1) > data_end)
			return 0;
		if (p[0] == 0)
			return 0;
		if (p[0] == 1) {
			off++;
			continue;
		}
		if ((void *)(p + 4) > data_end)
			return 0;
		if (p[0] == 2 && p[1] == 4)
			return (p[2] << 8) | p[3];
		if (p[1] < 2)
			return 0;
		off += p[1];
	}
	return 0;
}

SEC("tc")
int parse(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u16 proto;
	__u32 off, key;
	__u64 *cnt;
	int mss;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	proto = eth->h_proto;
	off = sizeof(*eth);

#pragma clang loop unroll(disable)
	for (int i = 0; i < MAX_VLAN; i++) {
		struct vlan_hdr *vh = data + off;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return TC_ACT_SHOT;
		proto = vh->proto;
		off += sizeof(*vh);
	}
	if (proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;

	ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return TC_ACT_SHOT;
	if (ip->ihl < 5)
		return TC_ACT_SHOT;
	parsed++;
	if (ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	off += ip->ihl * 4;

	tcp = data + off;
	if ((void *)(tcp + 1) > data_end)
		return TC_ACT_SHOT;
	if (!tcp->syn || tcp->ack)
		return TC_ACT_OK;

	mss = tcp_mss(skb, off + sizeof(*tcp), off + tcp->doff * 4);
	key = mss == 0 ? 0 : mss < 1460 ? 1 : 2;
	cnt = bpf_map_lookup_elem(&syn_count, &key);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
