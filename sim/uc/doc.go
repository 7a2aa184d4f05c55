// Package uc is jitsim's thin binding to the Unicorn 2 CPU emulator
// (libunicorn 2.0.1) and the only jitsim package that imports "C". Go types
// go in and come out; every failure is an Error carrying Unicorn's uc_err.
//
// # Memory ownership
//
// Guest memory comes from one of two owners:
//
//   - MemMapPtr maps memory the caller owns. Unicorn keeps the pointer and
//     reads and writes the bytes in place, so the slice must not be Go heap
//     memory: cgo forbids C from keeping Go pointers, and the collector may
//     move or free Go memory. Pass memory from syscall.Mmap, as core/mem's
//     regions are; they are never collected. The caller keeps the mapping
//     alive until MemUnmap or Close, and unmaps it (munmap) only after that.
//     This is how jitsim shares one address space between the interpreter,
//     Go helpers and the emulated CPU: no copies in either direction.
//   - MemMap maps memory Unicorn allocates and frees; reach it with MemRead
//     and MemWrite (both copy, so Go slices are fine there).
//
// Code is the exception to "no copies": Unicorn translates guest code into
// host code and keeps the translation. Writes through the host mapping or
// MemWrite do not invalidate it, so after patching code (a JIT's poke of a
// direct tail call) call RemoveCache for the patched bytes.
//
// No Go pointer is ever stored in C memory. Hooks carry a runtime/cgo.Handle
// (an integer) as Unicorn's user data, and C trampolines (shim.c) pass it
// back to typed Go callbacks. Batched register access goes through a
// per-engine buffer allocated with C.malloc, so it allocates nothing.
//
// # Unicorn 2.0.1 behaviour callers rely on
//
// The tests pin each of these on both architectures:
//
//   - Traps: x86 int3 reaches HookIntr as 3 with RIP past it; arm64 brk as
//     ARM64ExcpBKPT with PC on the brk (the hook steps PC by 4), svc as
//     ARM64ExcpSWI with PC past it.
//   - A fault's PC is exact only in counted runs (count > 0); uncounted runs
//     report the start of the translated block.
//   - until is checked while translating: an until inside a block that an
//     earlier run translated may be run past. Stop at block starts (a return
//     landing pad) or RemoveCache the block first.
//   - Instruction and block hooks are compiled into translated code; HookCode,
//     HookBlock and SetBlockBudget drop existing translations so they apply
//     at once.
//   - Switching an engine from counted to uncounted runs makes Unicorn flush
//     every translation; the first full flush also faults in its whole 1 GiB
//     translation buffer (about 2 s and 1 GiB of RSS per engine). Keep an
//     engine either always counted or never.
//   - arm64 defaults to Cortex-A72 (ARMv8.0, no LSE atomics); select
//     CPUARM64Max with SetCPUModel right after Open for ldadd/cas/swp.
//
// An engine is not safe for concurrent use; Stop is the exception.
package uc
