# A tail-call hierarchy in mixed syntax: two programs, a prog array, an
# array map with initial values, subprograms called from both.
.helpers kernel
.map jmp_table prog_array key=4 value=4 max=8
.slot jmp_table 0 entry
.slot jmp_table 1 leaf
.map counters array key=4 value=8 max=4
.elem counters 0 0
.elem counters 3 0x1122334455667788
.map blobs hash key=8 value=16 max=2 flags=1
.elem blobs 7 [00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff]

.prog entry xdp
	r6 = r1
	r1 = map[counters][0]+24
	r2 = *(u64 *)(r1 +0)
	r2 += 1
	*(u64 *)(r1 +0) = r2
	call bump
	lock *(u64 *)(r10 -8) += r1
	r1 = r6
	r2 = map[jmp_table] ll
	r3 = 1
	call bpf_tail_call#12
	mov %r0, 2
	exit
bump:
	r1 = 0
	*(u32 *)(r10 -4) = r1
	r2 = r10
	r2 += -4
	r1 = map[counters] ll
	call bpf_map_lookup_elem
	if r0 == 0x0 goto out
	r1 = 1
	r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)
out:
	exit

.prog leaf sched_cls
	jeq %r1, 0, done
	r0 = *(u8 *)skb[12]
	gotol done
	r0 = be16 r0
done:
	r0 = 7
	exit
