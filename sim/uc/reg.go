package uc

// #include "shim.h"
import "C"

import "unsafe"

// RegRead reads one register (ids: X86Reg*, ARM64Reg*).
func (u *Unicorn) RegRead(reg int) (uint64, error) {
	s := u.scratch
	// Unicorn stores only the register's width (NZCV and EFLAGS are 32-bit
	// stores), so clear the slot first.
	s.vals[0] = 0
	err := check(C.uc_reg_read(u.h, C.int(reg), unsafe.Pointer(&s.vals[0])))
	return uint64(s.vals[0]), err
}

// RegWrite writes one register.
func (u *Unicorn) RegWrite(reg int, v uint64) error {
	s := u.scratch
	s.vals[0] = C.uint64_t(v)
	return check(C.uc_reg_write(u.h, C.int(reg), unsafe.Pointer(&s.vals[0])))
}

// RegReadBatch reads regs[i] into vals[i] with one cgo call per 64
// registers. vals must be at least as long as regs.
func (u *Unicorn) RegReadBatch(regs []int, vals []uint64) error {
	if len(vals) < len(regs) {
		return ErrArg
	}
	s := u.scratch
	for len(regs) > 0 {
		n := min(len(regs), C.JITSIM_BATCH)
		for i, r := range regs[:n] {
			s.ids[i] = C.int(r)
			s.vals[i] = 0
		}
		if err := check(C.uc_reg_read_batch(u.h, &s.ids[0], &s.ptrs[0], C.int(n))); err != nil {
			return err
		}
		for i := range n {
			vals[i] = uint64(s.vals[i])
		}
		regs, vals = regs[n:], vals[n:]
	}
	return nil
}

// RegWriteBatch writes vals[i] to regs[i] with one cgo call per 64 registers.
func (u *Unicorn) RegWriteBatch(regs []int, vals []uint64) error {
	if len(vals) < len(regs) {
		return ErrArg
	}
	s := u.scratch
	for len(regs) > 0 {
		n := min(len(regs), C.JITSIM_BATCH)
		for i, r := range regs[:n] {
			s.ids[i] = C.int(r)
			s.vals[i] = C.uint64_t(vals[i])
		}
		if err := check(C.uc_reg_write_batch(u.h, &s.ids[0], &s.ptrs[0], C.int(n))); err != nil {
			return err
		}
		regs, vals = regs[n:], vals[n:]
	}
	return nil
}
