// SPDX-License-Identifier: GPL-2.0
// Shared by jitsim's tail call scenarios: the kernel selftests'
// tools/testing/selftests/bpf/progs/tailcall*.c, written anew from the
// descriptions in shared/docs/kernel-notes/selftests.md and
// shared/docs/tailcall-hierarchy.md. Each file says which prog_tests/tailcalls.c
// subtest it stands for and what the kernel expects of it.
//
// Where the kernel's test fills prog array slots from user space before its
// first run, our objects fill the same slots statically (.values), so an
// object runs on its own; later runs of a subtest change slots as the test
// describes.
#ifndef JITSIM_EXAMPLES_TAILCALL_H
#define JITSIM_EXAMPLES_TAILCALL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../include/legacy.h"

// A prog array of N slots with the kernel's key and value sizes.
#define PROG_ARRAY(N)                                  \
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);         \
	__uint(max_entries, N);                        \
	__uint(key_size, sizeof(__u32));               \
	__array(values, int(struct __sk_buff *))

#endif
