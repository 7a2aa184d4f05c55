# The program behind the seed story's "bpftool prog dump jited" listing
# (shared/seed/000_e0ffa50af1d87fbf.txt, near the end; the selftest
# tailcall_bpf2bpf_hierarchy1): entry counts in a global and calls
# subprog_tail twice, which tail-calls slot 0 of jmp_table (a constant map
# and key: direct). Each line is one instruction the listing shows.
#
# The slot is left empty: the listing shows the direct tail call as JITed,
# its bypass jump taken and its target a nop5 (both "toggled by poking").
.helpers kernel
.map jmp_table prog_array key=4 value=4 max=1
.map count array key=4 value=4 max=1 section=.bss

.prog entry tc
	r6 = r1                         # mov %rdi,%rbx
	r1 = map[count][0]+0            # movabsq $<&count>,%rdi
	r2 = *(u32 *)(r1 +0)            # movl (%rdi),%esi
	w2 += 1                         # addl $1,%esi
	*(u32 *)(r1 +0) = r2            # movl %esi,(%rdi)
	r1 = r6                         # movq %rbx,%rdi
	call subprog_tail               # movq -16(%rbp),%rax; callq
	r1 = r6
	call subprog_tail
	r0 = 1                          # movl $1,%eax
	exit
subprog_tail:
	r6 = r1                         # movq %rdi,%rbx
	r7 = map[jmp_table] ll          # movabsq $<jmp_table>,%r13
	r1 = r6                         # movq %rbx,%rdi
	r2 = r7                         # movq %r13,%rsi
	r3 = 0                          # xorl %edx,%edx
	call bpf_tail_call
	exit
