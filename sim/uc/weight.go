package uc

// #include <stdlib.h>
// #include "weight.h"
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// WeightBudget bounds runs by weighted block entries: a block costs the
// number of marks in the bytes it covers, as a table of prefix sums says,
// counted by a C hook with no Go callback per block. Marking the first byte
// of each guest-level instruction (a BPF instruction's native code) turns it
// into an instruction budget that is exact at block granularity: a block is
// straight-line code, so every mark in a block that is entered is reached,
// barring a fault.
//
// When a block would cost more than what is left, the run stops before the
// block (the PC is the block's address, nothing of it ran), Start returns
// nil and Left reports hit; Refused says which block it was.
type WeightBudget struct {
	u       *Unicorn
	c       *C.struct_jitsim_wbudget
	hook    C.uc_hook
	onEntry func(addr uint64)
	handle  cgo.Handle
}

// NewWeightBudget installs a weighted budget over guest addresses
// [base, base+n) with all weights zero (blocks starting elsewhere cost
// nothing and are not seen), and drops translations made before it so that
// every block is counted. The
// budget starts at 0 left: call SetLeft before a run.
func (u *Unicorn) NewWeightBudget(base uint64, n int) (*WeightBudget, error) {
	if n <= 0 {
		return nil, ErrArg
	}
	c := C.jitsim_wbudget_new(C.uint64_t(base), C.uint64_t(n))
	if c == nil {
		return nil, ErrNoMem
	}
	b := &WeightBudget{u: u, c: c}
	if err := check(C.jitsim_wbudget_add(u.h, &b.hook, c)); err != nil {
		C.jitsim_wbudget_free(c)
		return nil, err
	}
	if err := u.retranslate(base, base+uint64(n)-1); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Prefix is the table of n+1 prefix sums: Prefix()[o] is the number of
// marks at offsets below o. The caller fills it in place (it is C memory the
// hook reads) and keeps it nondecreasing; a block at [a, a+size) costs
// Prefix()[a+size-base] - Prefix()[a-base], clipped to the table. After
// changing the weights of code that may already be translated, nothing else
// is needed: the hook reads the table at every block entry.
func (b *WeightBudget) Prefix() []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(b.c.prefix)), int(b.c.n)+1)
}

// SetLeft starts a new budget: left is what the following run may spend.
func (b *WeightBudget) SetLeft(left uint64) {
	b.c.left = C.uint64_t(left)
	b.c.hit = false
	b.c.last_addr, b.c.last_size, b.c.prev_addr, b.c.prev_size = 0, 0, 0, 0
}

// Left returns what is left of the budget and whether it stopped a run.
func (b *WeightBudget) Left() (left uint64, hit bool) {
	return uint64(b.c.left), bool(b.c.hit)
}

// LastBlock is the block in the table's range entered last, or the one
// refused when the budget was hit. Inside a hook called during a run it is
// the block the CPU is executing (when that is in range): Unicorn keeps the
// PC of an uncounted run at block starts only, so this is what bounds a
// faulting instruction's address.
func (b *WeightBudget) LastBlock() (addr uint64, size uint32) {
	return uint64(b.c.last_addr), uint32(b.c.last_size)
}

// PrevBlock is the block entered before LastBlock's: after a refusal, the
// one whose end led to the refused block.
func (b *WeightBudget) PrevBlock() (addr uint64, size uint32) {
	return uint64(b.c.prev_addr), uint32(b.c.prev_size)
}

// Entries returns a table of n flags, one per byte of the budget's range,
// and calls fn (from the block hook, during a run) whenever a block starts
// at an offset whose flag is non-zero, before the block is charged. Only
// flagged blocks cost a Go call. The caller sets flags in place; the table
// is C memory. A second call replaces fn and keeps the table.
func (b *WeightBudget) Entries(fn func(addr uint64)) ([]byte, error) {
	if b.c.entry == nil {
		p := C.calloc(C.size_t(b.c.n), 1)
		if p == nil {
			return nil, ErrNoMem
		}
		b.c.entry = (*C.uint8_t)(p)
		b.handle = cgo.NewHandle(b)
		b.c.handle = C.uintptr_t(b.handle)
	}
	b.onEntry = fn
	return unsafe.Slice((*byte)(unsafe.Pointer(b.c.entry)), int(b.c.n)), nil
}

//export jitsimWeightEntry
func jitsimWeightEntry(h C.uintptr_t, addr C.uint64_t) {
	b := cgo.Handle(h).Value().(*WeightBudget)
	defer func() {
		// As hook.park: a panic must not unwind through Unicorn's frames.
		if p := recover(); p != nil {
			if b.u.panicked == nil {
				b.u.panicked = p
			}
			C.uc_emu_stop(b.u.h)
		}
	}()
	if b.onEntry != nil {
		b.onEntry(uint64(addr))
	}
}

// Close removes the hook and frees the table. Closing the Unicorn first is
// fine: its hooks went with it.
func (b *WeightBudget) Close() error {
	if b.c == nil {
		return nil
	}
	var err error
	if b.u.h != nil {
		err = check(C.uc_hook_del(b.u.h, b.hook))
	}
	C.jitsim_wbudget_free(b.c)
	b.c = nil
	if b.handle != 0 {
		b.handle.Delete()
		b.handle = 0
	}
	return err
}
