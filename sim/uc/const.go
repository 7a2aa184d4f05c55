package uc

// #include <unicorn/unicorn.h>
import "C"

// Arch selects the emulated instruction set.
type Arch int

const (
	ArchX86   Arch = C.UC_ARCH_X86
	ArchARM64 Arch = C.UC_ARCH_ARM64
)

// Mode refines Arch: Mode64 for x86-64, ModeARM (little-endian) for arm64.
type Mode int

const (
	Mode64  Mode = C.UC_MODE_64
	ModeARM Mode = C.UC_MODE_ARM
)

// Prot is a guest mapping's access rights.
type Prot uint32

const (
	ProtNone  Prot = C.UC_PROT_NONE
	ProtRead  Prot = C.UC_PROT_READ
	ProtWrite Prot = C.UC_PROT_WRITE
	ProtExec  Prot = C.UC_PROT_EXEC
	ProtAll   Prot = C.UC_PROT_ALL
)

// Errors Unicorn reports (uc_err). Compare with errors.Is.
const (
	ErrNoMem          Error = C.UC_ERR_NOMEM
	ErrArch           Error = C.UC_ERR_ARCH
	ErrHandle         Error = C.UC_ERR_HANDLE
	ErrMode           Error = C.UC_ERR_MODE
	ErrVersion        Error = C.UC_ERR_VERSION
	ErrReadUnmapped   Error = C.UC_ERR_READ_UNMAPPED
	ErrWriteUnmapped  Error = C.UC_ERR_WRITE_UNMAPPED
	ErrFetchUnmapped  Error = C.UC_ERR_FETCH_UNMAPPED
	ErrHook           Error = C.UC_ERR_HOOK
	ErrInsnInvalid    Error = C.UC_ERR_INSN_INVALID
	ErrMap            Error = C.UC_ERR_MAP
	ErrWriteProt      Error = C.UC_ERR_WRITE_PROT
	ErrReadProt       Error = C.UC_ERR_READ_PROT
	ErrFetchProt      Error = C.UC_ERR_FETCH_PROT
	ErrArg            Error = C.UC_ERR_ARG
	ErrReadUnaligned  Error = C.UC_ERR_READ_UNALIGNED
	ErrWriteUnaligned Error = C.UC_ERR_WRITE_UNALIGNED
	ErrFetchUnaligned Error = C.UC_ERR_FETCH_UNALIGNED
	ErrHookExist      Error = C.UC_ERR_HOOK_EXIST
	ErrResource       Error = C.UC_ERR_RESOURCE
	ErrException      Error = C.UC_ERR_EXCEPTION
)

// Access kinds passed to HookMemInvalid callbacks (uc_mem_type).
const (
	AccessReadUnmapped  = int(C.UC_MEM_READ_UNMAPPED)
	AccessWriteUnmapped = int(C.UC_MEM_WRITE_UNMAPPED)
	AccessFetchUnmapped = int(C.UC_MEM_FETCH_UNMAPPED)
	AccessWriteProt     = int(C.UC_MEM_WRITE_PROT)
	AccessReadProt      = int(C.UC_MEM_READ_PROT)
	AccessFetchProt     = int(C.UC_MEM_FETCH_PROT)
)

// QueryType selects what Query reports.
type QueryType int

const (
	QueryMode     QueryType = C.UC_QUERY_MODE
	QueryPageSize QueryType = C.UC_QUERY_PAGE_SIZE
	QueryArch     QueryType = C.UC_QUERY_ARCH
	QueryTimeout  QueryType = C.UC_QUERY_TIMEOUT // 1 if the last Start timed out
)

// CPU models for SetCPUModel (UC_CTL_CPU_MODEL).
//
// arm64: only CPUARM64Max implements FEAT_LSE (ARMv8.1 atomics: ldadd, cas,
// swp, ...); A53, A57 and A72 are ARMv8.0 and take ldadd/cas as undefined
// instructions (TestARM64NoLSEBeforeV81). The kernel's arm64 JIT emits LSE atomics
// when the CPU has them and LL/SC loops (ldxr/stlxr) otherwise, so jitsim runs
// both forms on Max, and LL/SC alone also on A72 (Unicorn's default).
const (
	CPUARM64A57 = int(C.UC_CPU_ARM64_A57)
	CPUARM64A53 = int(C.UC_CPU_ARM64_A53)
	CPUARM64A72 = int(C.UC_CPU_ARM64_A72)
	CPUARM64Max = int(C.UC_CPU_ARM64_MAX)
)

// arm64 exception numbers HookIntr reports. Unicorn's headers do not export
// them: they are QEMU's EXCP_* (target/arm/cpu.h), pinned by TestARM64Traps.
const (
	ARM64ExcpUDEF = 1 // undefined instruction; unhooked, the run ends with ErrException
	ARM64ExcpSWI  = 2 // svc
	ARM64ExcpBKPT = 7 // brk
)
