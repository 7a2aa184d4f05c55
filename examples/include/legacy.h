// SPDX-License-Identifier: GPL-2.0
// Legacy packet loads (BPF_LD | BPF_ABS/IND) as the kernel selftests reach
// them: LLVM lowers calls to these intrinsic names to ld_abs/ld_ind, which
// read from the skb the program got in r6 (the verifier requires the context
// there) and return the value in host byte order.
#ifndef JITSIM_EXAMPLES_LEGACY_H
#define JITSIM_EXAMPLES_LEGACY_H

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

#endif
