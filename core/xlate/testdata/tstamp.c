// SPDX-License-Identifier: GPL-2.0
// A tc program reading __sk_buff.tstamp, a field the kernel lets tc
// programs read but jitsim's simulated sk_buff does not model: xlate must
// refuse it with the file, section, instruction and C line.
// Built from the repository root with examples/build.sh's flags:
//   clang-19 -target bpf -O2 -g -fdebug-prefix-map=$PWD=. \
//     -I/usr/include/$(uname -m)-linux-gnu \
//     -c core/xlate/testdata/tstamp.c -o core/xlate/testdata/tstamp.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int read_tstamp(struct __sk_buff *skb)
{
	return skb->tstamp != 0;
}

char _license[] SEC("license") = "GPL";
