// SPDX-License-Identifier: GPL-2.0
// An extern __kconfig variable: libbpf fills it from the running kernel's
// config; jitsim does not model that.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int LINUX_KERNEL_VERSION __kconfig;

SEC("tc")
int version(struct __sk_buff *skb)
{
	return LINUX_KERNEL_VERSION > 0x60000;
}

char _license[] SEC("license") = "GPL";
