# Two programs sharing a prog array and an array map; both syntaxes.
.map jmp_table prog_array key=4 value=4 max=2
.slot jmp_table 0 entry
.slot jmp_table 1 leaf
.map counters array key=4 value=8 max=1
.elem counters 0 41

.prog entry xdp
	r6 = r1
	call bump                  # bpf-to-bpf call: bump becomes a function entry
	r1 = r6
	r2 = map[jmp_table] ll
	r3 = 1
	call bpf_tail_call
	mov %r0, 2                 # conformance syntax, same program
	exit
bump:
	r1 = map[counters][0]+0    # pointer into the value of key 0
	r2 = 1
	lock *(u64 *)(r1 +0) += r2
	exit

.prog leaf sched_cls
	jeq %r1, 0, done
	r0 = *(u8 *)skb[12]
done:
	r0 = 7
	exit
