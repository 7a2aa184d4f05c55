package uc

// #include "shim.h"
import "C"

import "runtime/cgo"

// Hook identifies an installed hook for HookDel.
type Hook uintptr

// hook is what a hook's cgo.Handle refers to: the engine, to park a panic,
// and one typed callback.
type hook struct {
	u          *Unicorn
	code       func(addr uint64, size uint32)
	intr       func(intno uint32)
	memInvalid func(access int, addr uint64, size int, value int64) bool
}

// HookCode calls fn before each instruction in [begin, end] (inclusive;
// begin > end means everywhere) with its address and length. A cgo callback
// per instruction makes the code run tens of times slower.
//
// Unicorn builds instruction and block hooks into translated code, so adding
// one drops the translations of the hooked range, and it fires at once.
func (u *Unicorn) HookCode(begin, end uint64, fn func(addr uint64, size uint32)) (Hook, error) {
	return u.hookAdd(C.JITSIM_HOOK_CODE, begin, end, &hook{u: u, code: fn})
}

// HookBlock calls fn on entry to each translated block starting in
// [begin, end] with the block's address and length in bytes. For a cheap
// bound on a run, see SetBlockBudget.
func (u *Unicorn) HookBlock(begin, end uint64, fn func(addr uint64, size uint32)) (Hook, error) {
	return u.hookAdd(C.JITSIM_HOOK_BLOCK, begin, end, &hook{u: u, code: fn})
}

// HookIntr calls fn for CPU exceptions. x86: int3 arrives as 3 and int n as
// n, with RIP already past the instruction (fn may write RIP to resume
// elsewhere). arm64: brk arrives as ARM64ExcpBKPT with PC still on the brk,
// so fn must advance PC by 4 to resume after it; svc as ARM64ExcpSWI with PC
// past it; an undefined instruction as ARM64ExcpUDEF with PC on it (fn must
// Stop: resuming retries it). Without an interrupt hook any of these ends the
// run with ErrException.
func (u *Unicorn) HookIntr(fn func(intno uint32)) (Hook, error) {
	return u.hookAdd(C.JITSIM_HOOK_INTR, 1, 0, &hook{u: u, intr: fn})
}

// HookMemInvalid calls fn when a read, write or fetch hits unmapped memory
// or lacks the right (access is one of Access*). Returning false ends the
// run with the matching Err*; returning true retries the access, so fn must
// first map the memory or fix its rights.
//
// The PC register, in fn and after the run, holds the faulting instruction's
// address only in counted runs (Start with count > 0): Unicorn 2.0.1 syncs
// the PC per instruction only while an instruction hook exists, and reports
// the start of the translated block otherwise (TestFaultPC).
func (u *Unicorn) HookMemInvalid(fn func(access int, addr uint64, size int, value int64) bool) (Hook, error) {
	return u.hookAdd(C.JITSIM_HOOK_MEM_INVALID, 1, 0, &hook{u: u, memInvalid: fn})
}

// HookDel removes a hook.
func (u *Unicorn) HookDel(h Hook) error {
	ch, ok := u.hooks[h]
	if !ok {
		return ErrArg
	}
	err := check(C.uc_hook_del(u.h, C.uc_hook(h)))
	delete(u.hooks, h)
	ch.Delete()
	return err
}

func (u *Unicorn) hookAdd(kind C.int, begin, end uint64, hk *hook) (Hook, error) {
	ch := cgo.NewHandle(hk)
	var hh C.uc_hook
	if err := check(C.jitsim_hook_add(u.h, &hh, kind, C.uintptr_t(ch), C.uint64_t(begin), C.uint64_t(end))); err != nil {
		ch.Delete()
		return 0, err
	}
	u.hooks[Hook(hh)] = ch
	if kind == C.JITSIM_HOOK_CODE || kind == C.JITSIM_HOOK_BLOCK {
		if err := u.retranslate(begin, end); err != nil {
			u.HookDel(Hook(hh))
			return 0, err
		}
	}
	return Hook(hh), nil
}

// park records a panic from a callback and stops the run; Start re-panics.
// Unwinding a Go panic through Unicorn's C frames would leave the engine in
// an undefined state.
func (hk *hook) park() {
	if p := recover(); p != nil {
		if hk.u.panicked == nil {
			hk.u.panicked = p
		}
		C.uc_emu_stop(hk.u.h)
	}
}

//export jitsimHookCode
func jitsimHookCode(h C.uintptr_t, addr C.uint64_t, size C.uint32_t) {
	hk := cgo.Handle(h).Value().(*hook)
	defer hk.park()
	hk.code(uint64(addr), uint32(size))
}

//export jitsimHookIntr
func jitsimHookIntr(h C.uintptr_t, intno C.uint32_t) {
	hk := cgo.Handle(h).Value().(*hook)
	defer hk.park()
	hk.intr(uint32(intno))
}

//export jitsimHookMemInvalid
func jitsimHookMemInvalid(h C.uintptr_t, access C.int, addr C.uint64_t, size C.int, value C.int64_t) (ok C.bool) {
	hk := cgo.Handle(h).Value().(*hook)
	defer hk.park() // ok stays false: the run ends
	return C.bool(hk.memInvalid(int(access), uint64(addr), int(size), int64(value)))
}
