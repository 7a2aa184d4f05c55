// C helpers for package uc: cgo cannot call Unicorn's variadic functions
// (uc_hook_add, uc_ctl) directly, and hook callbacks need C entry points
// that forward to Go with an integer handle instead of a Go pointer.
#ifndef JITSIM_UC_SHIM_H
#define JITSIM_UC_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

// One batch of register ids and values, allocated with C.malloc per engine so
// that batched register access needs neither Go allocation nor Go pointers
// in C memory: ptrs[i] points at vals[i] for the engine's lifetime.
#define JITSIM_BATCH 64
struct jitsim_scratch {
	int ids[JITSIM_BATCH];
	uint64_t vals[JITSIM_BATCH];
	void *ptrs[JITSIM_BATCH];
};

struct jitsim_scratch *jitsim_scratch_new(void);

// Hook kinds understood by jitsim_hook_add; each selects one trampoline.
enum jitsim_hook_kind {
	JITSIM_HOOK_CODE,
	JITSIM_HOOK_BLOCK,
	JITSIM_HOOK_INTR,
	JITSIM_HOOK_MEM_INVALID,
};

uc_err jitsim_hook_add(uc_engine *uc, uc_hook *hh, int kind, uintptr_t handle, uint64_t begin, uint64_t end);

// A budget of translated-block entries, counted in C so that bounding a run
// costs no cgo round trip per block.
struct jitsim_budget {
	uint64_t used;  // blocks entered since the last reset
	uint64_t limit; // stop once used exceeds limit
	bool hit;       // the budget stopped the run
};

uc_err jitsim_budget_add(uc_engine *uc, uc_hook *hh, struct jitsim_budget *b);

uc_err jitsim_ctl_set_cpu_model(uc_engine *uc, int model);
uc_err jitsim_ctl_get_cpu_model(uc_engine *uc, int *model);
uc_err jitsim_ctl_remove_cache(uc_engine *uc, uint64_t begin, uint64_t end);
uc_err jitsim_ctl_exits(uc_engine *uc, uint64_t *exits, size_t n);
uc_err jitsim_ctl_get_timeout(uc_engine *uc, uint64_t *us);

#endif
