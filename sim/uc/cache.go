package uc

// #include "shim.h"
import "C"

import "unsafe"

// RemoveCache drops translated code for guest addresses [begin, end). Unicorn
// does not see writes made through host pointers (MemMapPtr memory), nor
// those made with MemWrite, so code patched either way, like a JIT's direct
// tail call poke, runs stale until the range is removed.
//
// There is deliberately no whole-cache flush: Unicorn 2.0.1's first full
// flush faults in its entire 1 GiB translation buffer (about 2 s and 1 GiB of
// RSS per engine).
func (u *Unicorn) RemoveCache(begin, end uint64) error {
	return check(C.jitsim_ctl_remove_cache(u.h, C.uint64_t(begin), C.uint64_t(end)))
}

// retranslate drops the translations of every executable mapping that
// overlaps [begin, end] (inclusive; begin > end means everything). Unicorn
// compiles instruction and block hooks into the code it translates, so a
// hook added after a run would not fire in already translated code.
func (u *Unicorn) retranslate(begin, end uint64) error {
	var regions *C.uc_mem_region
	var n C.uint32_t
	if err := check(C.uc_mem_regions(u.h, &regions, &n)); err != nil {
		return err
	}
	defer C.uc_free(unsafe.Pointer(regions))
	for _, r := range unsafe.Slice(regions, int(n)) {
		// Only executable ranges: Unicorn resolves the start address as an
		// instruction fetch, which must not fault outside a run.
		if r.perms&C.UC_PROT_EXEC == 0 {
			continue
		}
		lo, hi := uint64(r.begin), uint64(r.end) // inclusive
		if begin <= end {
			lo, hi = max(lo, begin), min(hi, end)
			if lo > hi {
				continue
			}
		}
		if err := u.RemoveCache(lo, hi+1); err != nil {
			return err
		}
	}
	return nil
}
