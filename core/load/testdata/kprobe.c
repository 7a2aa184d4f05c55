// SPDX-License-Identifier: GPL-2.0
// A program type jitsim does not model (kprobe): it loads as unspec, with a
// note saying so.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 calls = 0;

SEC("kprobe/do_nanosleep")
int probe(void *ctx)
{
	__sync_fetch_and_add(&calls, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
