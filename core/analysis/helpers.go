package analysis

import (
	"jitsim/core"
	"jitsim/core/kabi"
)

// helperProto is what the checks need of a helper's prototype: which of
// r1..r5 are memory arguments (bit k for rk), which of those the helper
// writes, and for a written one the register holding its size
// (ARG_CONST_SIZE), if any. The kernel's verifier grows a frame's
// stack_depth for a stack pointer passed as ARG_PTR_TO_MEM,
// ARG_PTR_TO_MAP_KEY and the like (check_helper_mem_access ->
// check_stack_range_initialized), never for a scalar argument; the access
// starts at the pointer, so the pointer's own offset is its lowest byte.
type helperProto struct {
	name       string
	mem, write uint8
	size       [6]core.Reg // size[k]: the register with the size of written argument rk
}

const allArgs = 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5

// kernelHelpers are the prototypes of kabi.ModelledHelpers (from their
// bpf_func_proto in the kernel: bpf_map_lookup_elem_proto, ...).
var kernelHelpers = map[int32]helperProto{
	kabi.FnMapLookupElem: {name: "bpf_map_lookup_elem", mem: 1 << 2},      // key
	kabi.FnMapUpdateElem: {name: "bpf_map_update_elem", mem: 1<<2 | 1<<3}, // key, value
	kabi.FnMapDeleteElem: {name: "bpf_map_delete_elem", mem: 1 << 2},      // key
	kabi.FnKtimeGetNs:    {name: "bpf_ktime_get_ns"},
	kabi.FnTracePrintk:   {name: "bpf_trace_printk", mem: 1 << 1}, // fmt; r3-r5 are ARG_ANYTHING
	kabi.FnGetPrandomU32: {name: "bpf_get_prandom_u32"},
	kabi.FnTailCall:      {name: "bpf_tail_call"},                                                                 // ctx, prog array, index
	kabi.FnSkbLoadBytes:  {name: "bpf_skb_load_bytes", mem: 1 << 3, write: 1 << 3, size: [6]core.Reg{3: core.R4}}, // to, len
}

// conformanceHelpers are the bpf_conformance suite's helpers (uBPF's test
// plugin), indexed by id.
var conformanceHelpers = [...]helperProto{
	0: {name: "gather_bytes"},
	1: {name: "memfrob", mem: 1 << 1, write: 1 << 1, size: [6]core.Reg{1: core.R2}},
	2: {name: "no_op"},
	3: {name: "sqrti"},
	4: {name: "strcmp_ext", mem: 1<<1 | 1<<2},
	5: {name: "unwind"},
}

// unknownHelper stands for a helper called through a register (callx):
// every argument may be memory it writes, of any size.
var unknownHelper = helperProto{name: "callx", mem: allArgs, write: allArgs}

// proto returns the prototype of helper id in set.
func proto(set core.HelperSet, id int32) helperProto {
	if set == core.HelpersConformance {
		if id >= 0 && int(id) < len(conformanceHelpers) {
			return conformanceHelpers[id]
		}
		return unknownHelper
	}
	if h, ok := kernelHelpers[id]; ok {
		return h
	}
	return unknownHelper
}

// isModelled reports whether jitsim serves kernel helper id.
func isModelled(id int32) bool {
	for _, m := range kabi.ModelledHelpers {
		if m == id {
			return true
		}
	}
	return false
}

// isMapHelper reports whether kernel helper id takes a map in r1 that must
// not be a prog array: check_map_func_compatibility lets a prog array reach
// only bpf_tail_call.
func isMapHelper(id int32) bool {
	return id == kabi.FnMapLookupElem || id == kabi.FnMapUpdateElem || id == kabi.FnMapDeleteElem
}
