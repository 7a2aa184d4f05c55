// Package kabi holds the kernel facts that loaders, the interpreter, the
// backends and the simulator must agree on: limits, the offsets of the kernel
// objects JITed code reads, and helper ids. One place, so a change of kernel
// version is one edit.
package kabi

// Limits from include/linux/bpf.h and the verifier.
const (
	// MaxTailCallCnt is MAX_TAIL_CALL_CNT (33 since Linux 5.17): the check
	// "count >= 33 -> fail" allows 33 successful tail calls per run.
	MaxTailCallCnt = 33
	// MaxCallFrames is MAX_CALL_FRAMES: the main frame plus 7 calls.
	MaxCallFrames = 8
	// MaxBPFStack is MAX_BPF_STACK, the stack of one frame chain.
	MaxBPFStack = 512
	// MaxTailCallStack is the per-chain limit once a tail call is reachable
	// from a subprogram (check_max_stack_depth).
	MaxTailCallStack = 256
)

// Offsets inside the kernel objects JITed tail-call code reads. The values
// are from a v5.19 arm64 dump (shared/docs/kernel-notes/arm64.md); they vary
// with version and config, and every user takes them from here.
const (
	// ArrayMaxEntriesOff is offsetof(struct bpf_array, map.max_entries), u32.
	ArrayMaxEntriesOff = 0x24
	// ArrayPtrsOff is offsetof(struct bpf_array, ptrs): 8-byte prog pointers.
	ArrayPtrsOff = 0x110
	// ArrayValueOff is offsetof(struct bpf_array, value): values of an array
	// map share the union with ptrs.
	ArrayValueOff = ArrayPtrsOff
	// ProgBpfFuncOff is offsetof(struct bpf_prog, bpf_func).
	ProgBpfFuncOff = 0x30
	// ProgObjSize is how much guest memory one struct bpf_prog takes here.
	ProgObjSize = 0x100
)

// Kernel helper ids (enum bpf_func_id in uapi bpf.h).
const (
	FnMapLookupElem = 1
	FnMapUpdateElem = 2
	FnMapDeleteElem = 3
	FnKtimeGetNs    = 5
	FnTracePrintk   = 6
	FnGetPrandomU32 = 7
	FnTailCall      = 12
	FnSkbLoadBytes  = 26
)

// Map update flags of bpf_map_update_elem.
const (
	BPFAny     = 0
	BPFNoExist = 1
	BPFExist   = 2
)

// ModelledHelpers are the kernel helper ids jitsim's engines serve or are
// meant to serve (core/helper names the rest as unsupported). The
// verifier-lite (core/analysis) accepts a kernel-set helper call only when
// its id is here; any other id of enum bpf_func_id is valid BPF that jitsim
// does not model.
var ModelledHelpers = [...]int32{
	FnMapLookupElem, FnMapUpdateElem, FnMapDeleteElem, FnKtimeGetNs,
	FnTracePrintk, FnGetPrandomU32, FnTailCall, FnSkbLoadBytes,
}
