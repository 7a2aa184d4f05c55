package x86

// callNative calls JITed code at entry on the host CPU with r1 (rdi) and
// r2 (rsi) set and rsp switched to stack, and returns rax. It exists for
// the tests, which run the JIT's output natively on amd64 hosts to check
// semantics before any simulator is involved. The code must preserve r12
// (the JIT never uses it) and return with rsp at stack-24.
//
//go:noescape
func callNative(entry, r1, r2, stack uintptr) uint64
