// SPDX-License-Identifier: GPL-2.0
// CO-RE relocations against struct __sk_buff (preserve_access_index, as
// vmlinux.h declares every struct): its layout is uapi, so jitsim resolves
// them against the object's own definition (from <linux/bpf.h>). The local
// flavour declares only two fields, in another order, so the fixups must
// move the offsets: mark 0 -> 8, len 4 -> 0.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct __sk_buff___local {
	__u32 mark;
	__u32 len;
} __attribute__((preserve_access_index));

SEC("tc")
int core_len(struct __sk_buff *skb)
{
	struct __sk_buff___local *s = (void *)skb;

	// Keeps struct __sk_buff itself in the object's BTF: the target.
	if (skb->len == 0)
		return 0;
	if (!bpf_core_field_exists(s->mark))
		return -1;
	return s->len + s->mark;
}

char _license[] SEC("license") = "GPL";
