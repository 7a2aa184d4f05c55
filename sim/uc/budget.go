package uc

// #include <stdlib.h>
// #include "shim.h"
import "C"

import "unsafe"

// SetBlockBudget bounds the following runs to limit translated-block entries
// in all, counted by a C hook (no Go callback per block); ResetBlockBudget
// starts a new count. When the budget runs out the CPU stops where the next
// block starts, without running it, and Start returns nil; BlockBudget
// reports it. Blocks are a cheap, deterministic bound: Start's count slows
// x86 code about 25 times and a timeout costs a thread per run, while the
// budget costs about a third (BenchmarkLoop). Unlike count it does not make
// fault PCs exact. The hook stays once installed; a limit of math.MaxUint64
// turns the bound off.
func (u *Unicorn) SetBlockBudget(limit uint64) error {
	if u.budget == nil {
		b := (*C.struct_jitsim_budget)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_jitsim_budget{}))))
		if b == nil {
			return ErrNoMem
		}
		var hh C.uc_hook
		if err := check(C.jitsim_budget_add(u.h, &hh, b)); err != nil {
			C.free(unsafe.Pointer(b))
			return err
		}
		u.budget = b
		// Code translated before the hook existed would not count.
		if err := u.retranslate(1, 0); err != nil {
			return err
		}
	}
	u.budget.limit = C.uint64_t(limit)
	u.ResetBlockBudget()
	return nil
}

// ResetBlockBudget starts a new budget of the same limit.
func (u *Unicorn) ResetBlockBudget() {
	if u.budget != nil {
		u.budget.used = 0
		u.budget.hit = false
	}
}

// BlockBudget returns the blocks entered since the budget was last reset,
// and whether the budget stopped a run.
func (u *Unicorn) BlockBudget() (used uint64, hit bool) {
	if u.budget == nil {
		return 0, false
	}
	return uint64(u.budget.used), bool(u.budget.hit)
}
