// Package mem is the one guest address space every engine runs against. The
// interpreter reads and writes it directly; the simulator maps the same host
// bytes into Unicorn (uc_mem_map_ptr), so a pointer a program computes is the
// same number on every engine and results compare bit for bit.
//
// Region bytes come from anonymous mmap, not the Go heap: Unicorn may keep
// pointers to them across calls, which cgo's rules forbid for Go memory.
package mem

import (
	"fmt"
	"slices"
	"syscall"
)

// Guest addresses, chosen in the kernel's own ranges so that dumps and
// returned pointers look like what bpftool shows on x86-64.
//
//	0xffffffff81000000  helper trap page (x86-64: kernel text, rel32-reachable)
//	0xffffffffc0000000  JIT images (x86-64: module/BPF area)
//	0xffff800008000000  helper trap page (arm64: kernel text)
//	0xffff800080000000  JIT images (arm64: BPF/module area)
//	0xffffc90000000000  BPF stacks (vmalloc area); StackTop is r10 of the entry frame
//	0xffff888100000000  the context (struct __sk_buff, xdp_md, or raw memory)
//	0xffff888100200000  packet data
//	0xffff888110000000  maps: struct bpf_array / hash objects, prog objects
//	0xffff888120000000  global data sections
const (
	X86HelperBase   = 0xffffffff81000000
	X86CodeBase     = 0xffffffffc0000000
	Arm64HelperBase = 0xffff800008000000
	Arm64CodeBase   = 0xffff800080000000

	StackBase = 0xffffc90000000000
	// StackSize holds MaxCallFrames frames of MaxBPFStack bytes plus what
	// the native prologues push per frame, with room to spare.
	StackSize = 64 << 10
	// StackTop is r10 of the entry program on every engine.
	StackTop = StackBase + StackSize - 4096

	CtxBase    = 0xffff888100000000
	PacketBase = 0xffff888100200000
	MapBase    = 0xffff888110000000
	GlobalBase = 0xffff888120000000
)

// PageSize is the granule regions are mapped in (Unicorn requires 4 KiB).
const PageSize = 4096

// Prot is a region's access rights.
type Prot uint8

const (
	Read Prot = 1 << iota
	Write
	Exec
)

// Region is one mapped range of guest memory.
type Region struct {
	Name string
	Base uint64
	Data []byte // len is a multiple of PageSize
	Prot Prot
}

// End is one past the region's last byte.
func (r *Region) End() uint64 { return r.Base + uint64(len(r.Data)) }

// Space is a set of non-overlapping regions.
type Space struct {
	regions []*Region // sorted by Base
	last    *Region   // most recent hit: most accesses repeat a region
}

// RoundUp rounds n up to a whole number of pages.
func RoundUp(n int) int { return (n + PageSize - 1) &^ (PageSize - 1) }

// Map adds a zeroed region of at least size bytes at base.
func (s *Space) Map(name string, base uint64, size int, prot Prot) (*Region, error) {
	if base%PageSize != 0 {
		return nil, fmt.Errorf("map %s: base %#x is not page aligned", name, base)
	}
	if size <= 0 {
		return nil, fmt.Errorf("map %s: size %d", name, size)
	}
	size = RoundUp(size)
	end := base + uint64(size)
	if end < base {
		return nil, fmt.Errorf("map %s: %#x+%#x wraps", name, base, size)
	}
	for _, r := range s.regions {
		if base < r.End() && r.Base < end {
			return nil, fmt.Errorf("map %s at %#x: overlaps %s at %#x", name, base, r.Name, r.Base)
		}
	}
	data, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map %s: mmap %d bytes: %w", name, size, err)
	}
	r := &Region{Name: name, Base: base, Data: data, Prot: prot}
	i, _ := slices.BinarySearchFunc(s.regions, base, func(r *Region, b uint64) int {
		if r.Base < b {
			return -1
		} else if r.Base > b {
			return 1
		}
		return 0
	})
	s.regions = slices.Insert(s.regions, i, r)
	return r, nil
}

// Unmap removes a region and releases its memory.
func (s *Space) Unmap(r *Region) error {
	i := slices.Index(s.regions, r)
	if i < 0 {
		return fmt.Errorf("unmap %s: not mapped", r.Name)
	}
	s.regions = slices.Delete(s.regions, i, i+1)
	if s.last == r {
		s.last = nil
	}
	err := syscall.Munmap(r.Data)
	r.Data = nil
	return err
}

// Close unmaps every region.
func (s *Space) Close() error {
	var first error
	for len(s.regions) > 0 {
		if err := s.Unmap(s.regions[len(s.regions)-1]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Regions lists the mapped regions in address order.
func (s *Space) Regions() []*Region { return s.regions }

// Find returns the region holding [addr, addr+n), or nil.
func (s *Space) Find(addr uint64, n int) *Region {
	if r := s.last; r != nil && addr >= r.Base && addr+uint64(n) <= r.End() && addr+uint64(n) >= addr {
		return r
	}
	for _, r := range s.regions {
		if addr >= r.Base && addr < r.End() {
			if addr+uint64(n) > r.End() || addr+uint64(n) < addr {
				return nil
			}
			s.last = r
			return r
		}
	}
	return nil
}

// Bytes returns the n guest bytes at addr as a host slice, or nil when
// they are not all in one region with the rights asked for.
func (s *Space) Bytes(addr uint64, n int, want Prot) []byte {
	r := s.Find(addr, n)
	if r == nil || r.Prot&want != want {
		return nil
	}
	off := addr - r.Base
	return r.Data[off : off+uint64(n) : off+uint64(n)]
}

// Load reads a little-endian value of size 1, 2, 4 or 8 bytes.
func (s *Space) Load(addr uint64, size int) (uint64, bool) {
	b := s.Bytes(addr, size, Read)
	if b == nil {
		return 0, false
	}
	return loadLE(b, size), true
}

// Store writes the low size bytes of v little-endian.
func (s *Space) Store(addr uint64, size int, v uint64) bool {
	b := s.Bytes(addr, size, Write)
	if b == nil {
		return false
	}
	storeLE(b, size, v)
	return true
}

func loadLE(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(b[0]) | uint64(b[1])<<8
	case 4:
		return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func storeLE(b []byte, size int, v uint64) {
	for i := range size {
		b[i] = byte(v >> (8 * i))
	}
}

// LoadLE and StoreLE expose the byte order helpers for engines that already
// hold a host slice.
func LoadLE(b []byte, size int) uint64 { return loadLE(b, size) }

// StoreLE writes the low size bytes of v into b little-endian.
func StoreLE(b []byte, size int, v uint64) { storeLE(b, size, v) }
