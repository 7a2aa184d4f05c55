package uc

// #include <unicorn/unicorn.h>
import "C"

// Register ids for RegRead and friends, taken from Unicorn's enums. Values
// are read and written as 64 bits; narrower registers (EFLAGS, NZCV) are
// zero-extended.

// x86-64.
const (
	X86RegRAX    = int(C.UC_X86_REG_RAX)
	X86RegRBX    = int(C.UC_X86_REG_RBX)
	X86RegRCX    = int(C.UC_X86_REG_RCX)
	X86RegRDX    = int(C.UC_X86_REG_RDX)
	X86RegRSI    = int(C.UC_X86_REG_RSI)
	X86RegRDI    = int(C.UC_X86_REG_RDI)
	X86RegRBP    = int(C.UC_X86_REG_RBP)
	X86RegRSP    = int(C.UC_X86_REG_RSP)
	X86RegR8     = int(C.UC_X86_REG_R8)
	X86RegR9     = int(C.UC_X86_REG_R9)
	X86RegR10    = int(C.UC_X86_REG_R10)
	X86RegR11    = int(C.UC_X86_REG_R11)
	X86RegR12    = int(C.UC_X86_REG_R12)
	X86RegR13    = int(C.UC_X86_REG_R13)
	X86RegR14    = int(C.UC_X86_REG_R14)
	X86RegR15    = int(C.UC_X86_REG_R15)
	X86RegRIP    = int(C.UC_X86_REG_RIP)
	X86RegEFLAGS = int(C.UC_X86_REG_EFLAGS)
)

// arm64. SP is the stack pointer of the current exception level; FP and LR
// are X29 and X30.
const (
	ARM64RegX0   = int(C.UC_ARM64_REG_X0)
	ARM64RegX1   = int(C.UC_ARM64_REG_X1)
	ARM64RegX2   = int(C.UC_ARM64_REG_X2)
	ARM64RegX3   = int(C.UC_ARM64_REG_X3)
	ARM64RegX4   = int(C.UC_ARM64_REG_X4)
	ARM64RegX5   = int(C.UC_ARM64_REG_X5)
	ARM64RegX6   = int(C.UC_ARM64_REG_X6)
	ARM64RegX7   = int(C.UC_ARM64_REG_X7)
	ARM64RegX8   = int(C.UC_ARM64_REG_X8)
	ARM64RegX9   = int(C.UC_ARM64_REG_X9)
	ARM64RegX10  = int(C.UC_ARM64_REG_X10)
	ARM64RegX11  = int(C.UC_ARM64_REG_X11)
	ARM64RegX12  = int(C.UC_ARM64_REG_X12)
	ARM64RegX13  = int(C.UC_ARM64_REG_X13)
	ARM64RegX14  = int(C.UC_ARM64_REG_X14)
	ARM64RegX15  = int(C.UC_ARM64_REG_X15)
	ARM64RegX16  = int(C.UC_ARM64_REG_X16)
	ARM64RegX17  = int(C.UC_ARM64_REG_X17)
	ARM64RegX18  = int(C.UC_ARM64_REG_X18)
	ARM64RegX19  = int(C.UC_ARM64_REG_X19)
	ARM64RegX20  = int(C.UC_ARM64_REG_X20)
	ARM64RegX21  = int(C.UC_ARM64_REG_X21)
	ARM64RegX22  = int(C.UC_ARM64_REG_X22)
	ARM64RegX23  = int(C.UC_ARM64_REG_X23)
	ARM64RegX24  = int(C.UC_ARM64_REG_X24)
	ARM64RegX25  = int(C.UC_ARM64_REG_X25)
	ARM64RegX26  = int(C.UC_ARM64_REG_X26)
	ARM64RegX27  = int(C.UC_ARM64_REG_X27)
	ARM64RegX28  = int(C.UC_ARM64_REG_X28)
	ARM64RegX29  = int(C.UC_ARM64_REG_X29)
	ARM64RegX30  = int(C.UC_ARM64_REG_X30)
	ARM64RegSP   = int(C.UC_ARM64_REG_SP)
	ARM64RegPC   = int(C.UC_ARM64_REG_PC)
	ARM64RegNZCV = int(C.UC_ARM64_REG_NZCV)
	ARM64RegFP   = int(C.UC_ARM64_REG_FP)
	ARM64RegLR   = int(C.UC_ARM64_REG_LR)
)
