// SPDX-License-Identifier: GPL-2.0
// A CO-RE relocation against a kernel-internal struct: resolving it needs
// the running kernel's BTF, which jitsim does not have.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

SEC("tc")
int task_pid(struct __sk_buff *skb)
{
	struct task_struct *t = (void *)(long)skb->cb[0];

	return t->tgid;
}

char _license[] SEC("license") = "GPL";
