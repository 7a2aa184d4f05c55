#include <stdlib.h>

#include "shim.h"
#include "_cgo_export.h"

struct jitsim_scratch *jitsim_scratch_new(void) {
	struct jitsim_scratch *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	for (int i = 0; i < JITSIM_BATCH; i++)
		s->ptrs[i] = &s->vals[i];
	return s;
}

// Trampolines: Unicorn hands back user_data unchanged, which here is a
// runtime/cgo.Handle (an integer), so no Go pointer is ever stored in C.

static void tramp_code(uc_engine *uc, uint64_t addr, uint32_t size, void *user) {
	jitsimHookCode((uintptr_t)user, addr, size);
}

static void tramp_intr(uc_engine *uc, uint32_t intno, void *user) {
	jitsimHookIntr((uintptr_t)user, intno);
}

static bool tramp_mem_invalid(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value, void *user) {
	return jitsimHookMemInvalid((uintptr_t)user, (int)type, addr, size, value);
}

uc_err jitsim_hook_add(uc_engine *uc, uc_hook *hh, int kind, uintptr_t handle, uint64_t begin, uint64_t end) {
	void *user = (void *)handle;
	switch (kind) {
	case JITSIM_HOOK_CODE:
		return uc_hook_add(uc, hh, UC_HOOK_CODE, tramp_code, user, begin, end);
	case JITSIM_HOOK_BLOCK:
		// Same callback shape as UC_HOOK_CODE; size is the block's byte length.
		return uc_hook_add(uc, hh, UC_HOOK_BLOCK, tramp_code, user, begin, end);
	case JITSIM_HOOK_INTR:
		return uc_hook_add(uc, hh, UC_HOOK_INTR, tramp_intr, user, begin, end);
	case JITSIM_HOOK_MEM_INVALID:
		return uc_hook_add(uc, hh, UC_HOOK_MEM_INVALID, tramp_mem_invalid, user, begin, end);
	}
	return UC_ERR_HOOK;
}

static void tramp_budget(uc_engine *uc, uint64_t addr, uint32_t size, void *user) {
	struct jitsim_budget *b = user;
	if (++b->used > b->limit) {
		b->hit = true;
		uc_emu_stop(uc);
	}
}

uc_err jitsim_budget_add(uc_engine *uc, uc_hook *hh, struct jitsim_budget *b) {
	return uc_hook_add(uc, hh, UC_HOOK_BLOCK, tramp_budget, b, 1, 0);
}

// uc_ctl is variadic, which cgo cannot call; these fix its argument lists.

uc_err jitsim_ctl_set_cpu_model(uc_engine *uc, int model) {
	return uc_ctl_set_cpu_model(uc, model);
}

uc_err jitsim_ctl_get_cpu_model(uc_engine *uc, int *model) {
	return uc_ctl_get_cpu_model(uc, model);
}

uc_err jitsim_ctl_remove_cache(uc_engine *uc, uint64_t begin, uint64_t end) {
	return uc_ctl_remove_cache(uc, begin, end);
}

// jitsim_ctl_exits switches Unicorn to the exits mechanism with the given
// exit addresses, or back to uc_emu_start's until argument when n is 0.
uc_err jitsim_ctl_exits(uc_engine *uc, uint64_t *exits, size_t n) {
	if (n == 0)
		return uc_ctl_exits_disable(uc);
	uc_err err = uc_ctl_exits_enable(uc);
	if (err != UC_ERR_OK)
		return err;
	return uc_ctl_set_exits(uc, exits, n);
}

uc_err jitsim_ctl_get_timeout(uc_engine *uc, uint64_t *us) {
	return uc_ctl_get_timeout(uc, us);
}
