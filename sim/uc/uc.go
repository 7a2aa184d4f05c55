package uc

// #cgo LDFLAGS: -lunicorn
// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Unicorn is one emulated CPU with its own address space. It is not safe for
// concurrent use, except that Stop may be called from any goroutine while
// Start runs.
type Unicorn struct {
	h       *C.uc_engine
	arch    Arch
	scratch *C.struct_jitsim_scratch // C memory: batched register ids and values
	hooks   map[Hook]cgo.Handle
	budget  *C.struct_jitsim_budget // C memory, set by SetBlockBudget
	// panicked holds a panic recovered inside a hook; Start stops the CPU
	// and re-raises it on the Go side, so a panic never unwinds through
	// Unicorn's C frames.
	panicked any
	// wd backs up Unicorn's own timeout (see Start).
	wd struct {
		sync.Mutex
		gen     uint64 // the Start a watchdog belongs to
		running bool
		fired   bool // the watchdog stopped the last run
	}
}

// Open creates an engine: ArchX86 with Mode64, or ArchARM64 with ModeARM.
// Unicorn builds the CPU on the first call that needs it; with that, an
// engine costs about 0.3 ms (x86) or 0.8 ms (arm64) plus an empty
// translation cache, so callers keep engines and reuse them across runs.
func Open(arch Arch, mode Mode) (*Unicorn, error) {
	var h *C.uc_engine
	if err := check(C.uc_open(C.uc_arch(arch), C.uc_mode(mode), &h)); err != nil {
		return nil, err
	}
	s := C.jitsim_scratch_new()
	if s == nil {
		C.uc_close(h)
		return nil, ErrNoMem
	}
	return &Unicorn{h: h, arch: arch, scratch: s, hooks: map[Hook]cgo.Handle{}}, nil
}

// Close releases the engine and its hooks; the engine must not be used
// afterwards. Host memory mapped with MemMapPtr stays the caller's.
func (u *Unicorn) Close() error {
	if u.h == nil {
		return nil
	}
	err := check(C.uc_close(u.h))
	u.h = nil
	for _, ch := range u.hooks {
		ch.Delete()
	}
	u.hooks = nil
	C.free(unsafe.Pointer(u.scratch))
	u.scratch = nil
	C.free(unsafe.Pointer(u.budget))
	u.budget = nil
	return err
}

// Arch is the architecture the engine was opened with.
func (u *Unicorn) Arch() Arch { return u.arch }

// Start runs from begin until the CPU reaches until, count instructions have
// run (0: no limit), timeout has passed (0: none), a hook calls Stop, or a
// fault. Reaching a limit is not an error: ask TimedOut, or read the PC.
//
// count makes Unicorn call an internal hook before every instruction, which
// also keeps the PC exact for faults. Going from a counted to an uncounted
// run flushes all translated code (see the package doc), so an engine should
// keep to one kind. timeout starts a watchdog thread per run (about 250 µs).
// SetBlockBudget is the cheap bound. BenchmarkLoop and BenchmarkRoundTrip
// measure what each costs.
func (u *Unicorn) Start(begin, until uint64, timeout time.Duration, count uint64) error {
	us := uint64(0)
	u.wd.Lock()
	u.wd.gen++
	u.wd.running = true
	u.wd.fired = false
	gen := u.wd.gen
	u.wd.Unlock()
	if timeout > 0 {
		us = uint64((timeout + time.Microsecond - 1) / time.Microsecond)
		go u.watchdog(gen, timeout)
	}
	err := check(C.uc_emu_start(u.h, C.uint64_t(begin), C.uint64_t(until), C.uint64_t(us), C.size_t(count)))
	u.wd.Lock()
	u.wd.running = false
	u.wd.Unlock()
	if p := u.panicked; p != nil {
		u.panicked = nil
		panic(p)
	}
	return err
}

// watchdog backs up Unicorn's timeout: Unicorn 2.0.1 loses a stop that
// arrives before its CPU loop has started, which its own timer thread hits
// on a loaded machine, and the run then never ends. Once the timeout has
// passed (with some slack, so Unicorn's own stop normally wins and
// TimedOut reports it), this stops the run every millisecond until it has
// ended. The generation check keeps a late stop from hitting a later run.
func (u *Unicorn) watchdog(gen uint64, timeout time.Duration) {
	time.Sleep(timeout + timeout/2 + time.Millisecond)
	for {
		u.wd.Lock()
		if u.wd.gen != gen || !u.wd.running {
			u.wd.Unlock()
			return
		}
		C.uc_emu_stop(u.h)
		u.wd.fired = true
		u.wd.Unlock()
		time.Sleep(time.Millisecond)
	}
}

// Stop ends the current Start at the next instruction boundary it checks.
// Hooks call it to end a run; another goroutine may call it too.
func (u *Unicorn) Stop() error { return check(C.uc_emu_stop(u.h)) }

// Query reads one of Unicorn's status values (QueryMode, QueryPageSize,
// QueryArch, QueryTimeout).
func (u *Unicorn) Query(q QueryType) (uint64, error) {
	var v C.size_t
	if err := check(C.uc_query(u.h, C.uc_query_type(q), &v)); err != nil {
		return 0, err
	}
	return uint64(v), nil
}

// TimedOut reports whether the last Start ended because its timeout passed.
func (u *Unicorn) TimedOut() (bool, error) {
	v, err := u.Query(QueryTimeout)
	u.wd.Lock()
	fired := u.wd.fired
	u.wd.Unlock()
	return v != 0 || fired, err
}

// SetCPUModel picks the emulated CPU (CPUARM64*). Unicorn builds the
// CPU lazily on the first other call, so this must come right after Open.
func (u *Unicorn) SetCPUModel(model int) error {
	return check(C.jitsim_ctl_set_cpu_model(u.h, C.int(model)))
}

// CPUModel returns the emulated CPU model.
func (u *Unicorn) CPUModel() (int, error) {
	var m C.int
	err := check(C.jitsim_ctl_get_cpu_model(u.h, &m))
	return int(m), err
}

// SetExits makes Start stop at any of the given addresses and ignore its
// until argument; an empty list restores until.
func (u *Unicorn) SetExits(exits []uint64) error {
	if len(exits) == 0 {
		return check(C.jitsim_ctl_exits(u.h, nil, 0))
	}
	// Unicorn copies the addresses into its own set before returning.
	return check(C.jitsim_ctl_exits(u.h, (*C.uint64_t)(unsafe.Pointer(&exits[0])), C.size_t(len(exits))))
}

// Version returns the library's version as major, minor.
func Version() (major, minor int) {
	var ma, mi C.uint
	C.uc_version(&ma, &mi)
	return int(ma), int(mi)
}

// Error is a uc_err; its text comes from uc_strerror.
type Error int

func (e Error) Error() string {
	return fmt.Sprintf("unicorn: %s", C.GoString(C.uc_strerror(C.uc_err(e))))
}

func check(e C.uc_err) error {
	if e != C.UC_ERR_OK {
		return Error(e)
	}
	return nil
}
