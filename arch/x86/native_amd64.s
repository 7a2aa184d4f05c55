#include "textflag.h"

// func callNative(entry, r1, r2, stack uintptr) uint64
TEXT ·callNative(SB), NOSPLIT, $0-40
	MOVQ entry+0(FP), AX
	MOVQ r1+8(FP), DI
	MOVQ r2+16(FP), SI
	MOVQ stack+24(FP), CX
	MOVQ SP, R12
	MOVQ CX, SP
	PUSHQ BP
	PUSHQ R12
	CALL AX
	POPQ R12
	POPQ BP
	MOVQ R12, SP
	MOVQ AX, ret+32(FP)
	RET
