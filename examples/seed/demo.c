// SPDX-License-Identifier: GPL-2.0
// The demo program from the story behind jitsim:
// shared/seed/000_e0ffa50af1d87fbf.txt, the first round ("第一回合", 2023-09-04),
// the program written to confirm the tailcall hierarchy bug. Everything after
// the marker line below is the story's C source exactly as the story prints it
// (lines 78-138 of that file). The story leaves out the includes, the license
// and load_byte's declaration; they are added here, above the marker.
//
// Scenario: entry calls subprog_tailcall with index 0, then with 2. Slots 0
// and 2 hold classifier_01 and classifier_23, each counting and then tail
// calling its own slot through a subprogram (packet byte 0 is 0). Fixed
// scheme: count0 33, count1 0; legacy: count0 33, count1 33. jmp_table has
// no static initialiser (the story's loader fills slot 0 with classifier_01
// and slot 2 with classifier_23 from user space), so a run must fill them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../include/legacy.h"

char _license[] SEC("license") = "GPL";

// ---- the story's program, verbatim, from here on ----
struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 4);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} jmp_table SEC(".maps");

static __noinline
int subprog_tail_01(struct __sk_buff *skb)
{
    if (load_byte(skb, 0))
        bpf_tail_call_static(skb, &jmp_table, 1);
    else
        bpf_tail_call_static(skb, &jmp_table, 0);
    return 1;
}

static __noinline
int subprog_tail_23(struct __sk_buff *skb)
{
    if (load_byte(skb, 0))
        bpf_tail_call_static(skb, &jmp_table, 3);
    else
        bpf_tail_call_static(skb, &jmp_table, 2);
    return 1;
}

int count0 = 0;

SEC("tc")
int classifier_01(struct __sk_buff *skb)
{
    count0++;
    return subprog_tail_01(skb);
}

int count1 = 0;

SEC("tc")
int classifier_23(struct __sk_buff *skb)
{
    count1++;
    return subprog_tail_23(skb);
}

static __noinline
int subprog_tailcall(struct __sk_buff *skb, int index)
{
    volatile int retval = 0;
    bpf_tail_call(skb, &jmp_table, index);
    return retval;
}

SEC("tc")
int entry(struct __sk_buff *skb)
{
    subprog_tailcall(skb, 0);
    subprog_tailcall(skb, 2);

    return 0;
}
