package uc

// #include <unicorn/unicorn.h>
import "C"

import "unsafe"

// MemMapPtr maps host memory b at guest address addr: guest accesses read and
// write b directly, with no copies either way. addr and len(b) must be
// multiples of 4 KiB.
//
// b must not be Go heap memory: Unicorn keeps the pointer after this call
// returns, which cgo's pointer rules forbid for Go memory (and the Go GC may
// move or free it). Pass memory from syscall.Mmap, as core/mem's regions are,
// and keep it mapped until MemUnmap or Close.
func (u *Unicorn) MemMapPtr(addr uint64, b []byte, prot Prot) error {
	if len(b) == 0 {
		return ErrArg
	}
	return check(C.uc_mem_map_ptr(u.h, C.uint64_t(addr), C.size_t(len(b)), C.uint32_t(prot), unsafe.Pointer(&b[0])))
}

// MemMap maps size bytes of zeroed memory that Unicorn allocates and owns.
func (u *Unicorn) MemMap(addr, size uint64, prot Prot) error {
	return check(C.uc_mem_map(u.h, C.uint64_t(addr), C.size_t(size), C.uint32_t(prot)))
}

// MemUnmap removes [addr, addr+size) from the guest address space. Host
// memory given to MemMapPtr is left alone.
func (u *Unicorn) MemUnmap(addr, size uint64) error {
	return check(C.uc_mem_unmap(u.h, C.uint64_t(addr), C.size_t(size)))
}

// MemProtect changes the rights of [addr, addr+size).
func (u *Unicorn) MemProtect(addr, size uint64, prot Prot) error {
	return check(C.uc_mem_protect(u.h, C.uint64_t(addr), C.size_t(size), C.uint32_t(prot)))
}

// MemRead copies len(b) guest bytes at addr into b. Unicorn copies before
// returning, so b may be Go memory.
func (u *Unicorn) MemRead(addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return check(C.uc_mem_read(u.h, C.uint64_t(addr), unsafe.Pointer(&b[0]), C.size_t(len(b))))
}

// MemWrite copies b to guest address addr. Like a write through the host
// mapping, it leaves translated code in place: patch code, then RemoveCache.
func (u *Unicorn) MemWrite(addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return check(C.uc_mem_write(u.h, C.uint64_t(addr), unsafe.Pointer(&b[0]), C.size_t(len(b))))
}
