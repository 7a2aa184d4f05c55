package analysis

import (
	"jitsim/core"
	"jitsim/core/kabi"
)

// helperProto is what the checks need of a helper's prototype: which of
// r1..r5 are memory arguments (bit k for rk). The kernel's verifier grows a
// frame's stack_depth for a stack pointer passed as ARG_PTR_TO_MEM,
// ARG_PTR_TO_MAP_KEY and the like (check_helper_mem_access ->
// check_stack_range_initialized), never for a scalar argument; the access
// starts at the pointer, so the pointer's own offset is its lowest byte.
type helperProto struct {
	name string
	mem  uint8
}

const allArgs = 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5

// kernelHelpers are the prototypes of kabi.ModelledHelpers (from their
// bpf_func_proto in the kernel: bpf_map_lookup_elem_proto, ...).
var kernelHelpers = map[int32]helperProto{
	kabi.FnMapLookupElem: {"bpf_map_lookup_elem", 1 << 2},      // key
	kabi.FnMapUpdateElem: {"bpf_map_update_elem", 1<<2 | 1<<3}, // key, value
	kabi.FnMapDeleteElem: {"bpf_map_delete_elem", 1 << 2},      // key
	kabi.FnKtimeGetNs:    {"bpf_ktime_get_ns", 0},
	kabi.FnTracePrintk:   {"bpf_trace_printk", 1 << 1}, // fmt; r3-r5 are ARG_ANYTHING
	kabi.FnGetPrandomU32: {"bpf_get_prandom_u32", 0},
	kabi.FnTailCall:      {"bpf_tail_call", 0},           // ctx, prog array, index
	kabi.FnSkbLoadBytes:  {"bpf_skb_load_bytes", 1 << 3}, // to
}

// conformanceHelpers are the bpf_conformance suite's helpers (uBPF's test
// plugin), indexed by id.
var conformanceHelpers = [...]helperProto{
	0: {"gather_bytes", 0},
	1: {"memfrob", 1 << 1},
	2: {"no_op", 0},
	3: {"sqrti", 0},
	4: {"strcmp_ext", 1<<1 | 1<<2},
	5: {"unwind", 0},
}

// helperMemArgs returns the memory arguments of helper id in set; a call
// whose helper is not known (callx) is taken to read through every argument.
func helperMemArgs(set core.HelperSet, id int32, known bool) uint8 {
	if !known {
		return allArgs
	}
	if set == core.HelpersConformance {
		if id >= 0 && int(id) < len(conformanceHelpers) {
			return conformanceHelpers[id].mem
		}
		return allArgs
	}
	if h, ok := kernelHelpers[id]; ok {
		return h.mem
	}
	return allArgs
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
