// A budget of weighted translated-block entries: each block costs the
// number of marked addresses it covers, read from a prefix-sum table, so a
// run can be bounded by guest-level instructions (BPF instructions of a
// JITed image) at the price of one C call per block.
#ifndef JITSIM_UC_WEIGHT_H
#define JITSIM_UC_WEIGHT_H

#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

struct jitsim_wbudget {
	uint64_t base;    // guest address prefix[0] describes
	uint64_t n;       // bytes covered: prefix has n+1 entries
	uint32_t *prefix; // prefix[o]: marks at offsets below o
	uint64_t left;    // weight the run may still spend
	uint64_t last_addr; // the block entered last (or refused)
	uint32_t last_size;
	uint64_t prev_addr; // the block entered before it
	uint32_t prev_size;
	bool hit; // a block was refused and the run stopped before it
	// entry, when set, has n bytes: a block starting at offset o with
	// entry[o] != 0 is reported to Go (jitsimWeightEntry) with handle.
	uint8_t *entry;
	uintptr_t handle;
};

struct jitsim_wbudget *jitsim_wbudget_new(uint64_t base, uint64_t n);
void jitsim_wbudget_free(struct jitsim_wbudget *b);
uc_err jitsim_wbudget_add(uc_engine *uc, uc_hook *hh, struct jitsim_wbudget *b);

#endif
