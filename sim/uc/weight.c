#include <stdlib.h>

#include "weight.h"
#include "_cgo_export.h"

struct jitsim_wbudget *jitsim_wbudget_new(uint64_t base, uint64_t n) {
	struct jitsim_wbudget *b = calloc(1, sizeof *b);
	if (b == NULL)
		return NULL;
	// calloc of a large table maps zero pages lazily: only the part a
	// caller fills costs memory.
	b->prefix = calloc(n + 1, sizeof *b->prefix);
	if (b->prefix == NULL) {
		free(b);
		return NULL;
	}
	b->base = base;
	b->n = n;
	return b;
}

void jitsim_wbudget_free(struct jitsim_wbudget *b) {
	if (b == NULL)
		return;
	free(b->entry);
	free(b->prefix);
	free(b);
}

// tramp_wbudget runs at every block entry. Stopping from a block hook ends
// the run before the block's first instruction (uc_emu_stop sets the exit
// request the block's prologue checks), with the PC on the block.
static void tramp_wbudget(uc_engine *uc, uint64_t addr, uint32_t size, void *user) {
	struct jitsim_wbudget *b = user;
	b->prev_addr = b->last_addr;
	b->prev_size = b->last_size;
	b->last_addr = addr;
	b->last_size = size;
	uint64_t o = addr - b->base;
	if (o >= b->n)
		return;
	uint64_t e = o + size;
	if (e > b->n)
		e = b->n;
	if (b->entry != NULL && b->entry[o] != 0)
		jitsimWeightEntry(b->handle, addr);
	uint64_t w = b->prefix[e] - b->prefix[o];
	if (w > b->left) {
		b->hit = true;
		uc_emu_stop(uc);
		return;
	}
	b->left -= w;
}

uc_err jitsim_wbudget_add(uc_engine *uc, uc_hook *hh, struct jitsim_wbudget *b) {
	// Bounded to the table's range: blocks elsewhere cost nothing, and
	// Unicorn then compiles no hook call into them at all.
	return uc_hook_add(uc, hh, UC_HOOK_BLOCK, tramp_wbudget, b, b->base, b->base + b->n - 1);
}
