package interp

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"time"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// checkEvery is how many instructions run between looks at the wall clock.
const checkEvery = 1 << 16

// exec is the run loop. The budget is handed out in chunks of at most
// checkEvery: the loop counts a chunk down by one per instruction and only
// when it is used up looks at the remaining budget and the clock, so the
// common path pays one decrement and one predictable branch, and the count
// stays exact (an instruction is counted when it starts).
//
// Stack accesses, by far the most common, are served from the stack region
// directly; every other address goes through mem.Space.
func (e *Engine) exec(st *state, rp *regs) (uint64, error) {
	r := *rp
	ins := st.c.insns
	stk := (*[mem.StackSize]byte)(e.stack.Data)
	left := st.budget // not yet handed out
	var cnt uint64    // handed out and not yet used
	pc := 0
	for {
		if cnt == 0 {
			if left == 0 {
				st.insns = st.budget
				return 0, st.errorf(pc, "%w (%d instructions ran)", core.ErrBudget, st.budget)
			}
			if !st.deadline.IsZero() && time.Now().After(st.deadline) {
				st.insns = st.budget - left
				return 0, st.errorf(pc, "%w after %d instructions", core.ErrTimeout, st.insns)
			}
			cnt = min(left, checkEvery)
			left -= cnt
		}
		cnt--
		d := &ins[pc]
		pc++
		switch d.op {
		case opAdd64X:
			r[d.dst&15] += r[d.src&15]
		case opAdd64K:
			r[d.dst&15] += d.imm
		case opAdd32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) + uint32(r[d.src&15]))
		case opAdd32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) + uint32(d.imm))
		case opSub64X:
			r[d.dst&15] -= r[d.src&15]
		case opSub64K:
			r[d.dst&15] -= d.imm
		case opSub32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) - uint32(r[d.src&15]))
		case opSub32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) - uint32(d.imm))
		case opMul64X:
			r[d.dst&15] *= r[d.src&15]
		case opMul64K:
			r[d.dst&15] *= d.imm
		case opMul32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) * uint32(r[d.src&15]))
		case opMul32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) * uint32(d.imm))
		case opDiv64X:
			if v := r[d.src&15]; v != 0 {
				r[d.dst&15] /= v
			} else {
				r[d.dst&15] = 0
			}
		case opDiv64K:
			if v := d.imm; v != 0 {
				r[d.dst&15] /= v
			} else {
				r[d.dst&15] = 0
			}
		case opDiv32X:
			if v := uint32(r[d.src&15]); v != 0 {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]) / v)
			} else {
				r[d.dst&15] = 0
			}
		case opDiv32K:
			if v := uint32(d.imm); v != 0 {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]) / v)
			} else {
				r[d.dst&15] = 0
			}
		case opSdiv64X:
			if v := int64(r[d.src&15]); v != 0 {
				r[d.dst&15] = uint64(int64(r[d.dst&15]) / v)
			} else {
				r[d.dst&15] = 0
			}
		case opSdiv64K:
			if v := int64(d.imm); v != 0 {
				r[d.dst&15] = uint64(int64(r[d.dst&15]) / v)
			} else {
				r[d.dst&15] = 0
			}
		case opSdiv32X:
			if v := int32(r[d.src&15]); v != 0 {
				r[d.dst&15] = uint64(uint32(int32(r[d.dst&15]) / v))
			} else {
				r[d.dst&15] = 0
			}
		case opSdiv32K:
			if v := int32(d.imm); v != 0 {
				r[d.dst&15] = uint64(uint32(int32(r[d.dst&15]) / v))
			} else {
				r[d.dst&15] = 0
			}
		case opOr64X:
			r[d.dst&15] |= r[d.src&15]
		case opOr64K:
			r[d.dst&15] |= d.imm
		case opOr32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) | uint32(r[d.src&15]))
		case opOr32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) | uint32(d.imm))
		case opAnd64X:
			r[d.dst&15] &= r[d.src&15]
		case opAnd64K:
			r[d.dst&15] &= d.imm
		case opAnd32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) & uint32(r[d.src&15]))
		case opAnd32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) & uint32(d.imm))
		case opLsh64X:
			r[d.dst&15] <<= r[d.src&15] & 63
		case opLsh64K:
			r[d.dst&15] <<= d.imm & 63
		case opLsh32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) << (r[d.src&15] & 31))
		case opLsh32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) << (d.imm & 31))
		case opRsh64X:
			r[d.dst&15] >>= r[d.src&15] & 63
		case opRsh64K:
			r[d.dst&15] >>= d.imm & 63
		case opRsh32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) >> (r[d.src&15] & 31))
		case opRsh32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) >> (d.imm & 31))
		case opMod64X:
			if v := r[d.src&15]; v != 0 {
				r[d.dst&15] %= v
			}
		case opMod64K:
			if v := d.imm; v != 0 {
				r[d.dst&15] %= v
			}
		case opMod32X:
			if v := uint32(r[d.src&15]); v != 0 {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]) % v)
			} else {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]))
			}
		case opMod32K:
			if v := uint32(d.imm); v != 0 {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]) % v)
			} else {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]))
			}
		case opSmod64X:
			if v := int64(r[d.src&15]); v != 0 {
				r[d.dst&15] = uint64(int64(r[d.dst&15]) % v)
			}
		case opSmod64K:
			if v := int64(d.imm); v != 0 {
				r[d.dst&15] = uint64(int64(r[d.dst&15]) % v)
			}
		case opSmod32X:
			if v := int32(r[d.src&15]); v != 0 {
				r[d.dst&15] = uint64(uint32(int32(r[d.dst&15]) % v))
			} else {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]))
			}
		case opSmod32K:
			if v := int32(d.imm); v != 0 {
				r[d.dst&15] = uint64(uint32(int32(r[d.dst&15]) % v))
			} else {
				r[d.dst&15] = uint64(uint32(r[d.dst&15]))
			}
		case opXor64X:
			r[d.dst&15] ^= r[d.src&15]
		case opXor64K:
			r[d.dst&15] ^= d.imm
		case opXor32X:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) ^ uint32(r[d.src&15]))
		case opXor32K:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]) ^ uint32(d.imm))
		case opMov64X:
			r[d.dst&15] = r[d.src&15]
		case opMov64K:
			r[d.dst&15] = d.imm
		case opMov32X:
			r[d.dst&15] = uint64(uint32(r[d.src&15]))
		case opMov32K:
			r[d.dst&15] = uint64(uint32(d.imm))
		case opArsh64X:
			r[d.dst&15] = uint64(int64(r[d.dst&15]) >> (r[d.src&15] & 63))
		case opArsh64K:
			r[d.dst&15] = uint64(int64(r[d.dst&15]) >> (d.imm & 63))
		case opArsh32X:
			r[d.dst&15] = uint64(uint32(int32(r[d.dst&15]) >> (r[d.src&15] & 31)))
		case opArsh32K:
			r[d.dst&15] = uint64(uint32(int32(r[d.dst&15]) >> (d.imm & 31)))

		case opJeq64X:
			if r[d.dst&15] == r[d.src&15] {
				pc = int(d.x)
			}
		case opJeq64K:
			if r[d.dst&15] == d.imm {
				pc = int(d.x)
			}
		case opJeq32X:
			if uint32(r[d.dst&15]) == uint32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJeq32K:
			if uint32(r[d.dst&15]) == uint32(d.imm) {
				pc = int(d.x)
			}
		case opJgt64X:
			if r[d.dst&15] > r[d.src&15] {
				pc = int(d.x)
			}
		case opJgt64K:
			if r[d.dst&15] > d.imm {
				pc = int(d.x)
			}
		case opJgt32X:
			if uint32(r[d.dst&15]) > uint32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJgt32K:
			if uint32(r[d.dst&15]) > uint32(d.imm) {
				pc = int(d.x)
			}
		case opJge64X:
			if r[d.dst&15] >= r[d.src&15] {
				pc = int(d.x)
			}
		case opJge64K:
			if r[d.dst&15] >= d.imm {
				pc = int(d.x)
			}
		case opJge32X:
			if uint32(r[d.dst&15]) >= uint32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJge32K:
			if uint32(r[d.dst&15]) >= uint32(d.imm) {
				pc = int(d.x)
			}
		case opJset64X:
			if r[d.dst&15]&r[d.src&15] != 0 {
				pc = int(d.x)
			}
		case opJset64K:
			if r[d.dst&15]&d.imm != 0 {
				pc = int(d.x)
			}
		case opJset32X:
			if uint32(r[d.dst&15])&uint32(r[d.src&15]) != 0 {
				pc = int(d.x)
			}
		case opJset32K:
			if uint32(r[d.dst&15])&uint32(d.imm) != 0 {
				pc = int(d.x)
			}
		case opJne64X:
			if r[d.dst&15] != r[d.src&15] {
				pc = int(d.x)
			}
		case opJne64K:
			if r[d.dst&15] != d.imm {
				pc = int(d.x)
			}
		case opJne32X:
			if uint32(r[d.dst&15]) != uint32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJne32K:
			if uint32(r[d.dst&15]) != uint32(d.imm) {
				pc = int(d.x)
			}
		case opJsgt64X:
			if int64(r[d.dst&15]) > int64(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJsgt64K:
			if int64(r[d.dst&15]) > int64(d.imm) {
				pc = int(d.x)
			}
		case opJsgt32X:
			if int32(r[d.dst&15]) > int32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJsgt32K:
			if int32(r[d.dst&15]) > int32(d.imm) {
				pc = int(d.x)
			}
		case opJsge64X:
			if int64(r[d.dst&15]) >= int64(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJsge64K:
			if int64(r[d.dst&15]) >= int64(d.imm) {
				pc = int(d.x)
			}
		case opJsge32X:
			if int32(r[d.dst&15]) >= int32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJsge32K:
			if int32(r[d.dst&15]) >= int32(d.imm) {
				pc = int(d.x)
			}
		case opJlt64X:
			if r[d.dst&15] < r[d.src&15] {
				pc = int(d.x)
			}
		case opJlt64K:
			if r[d.dst&15] < d.imm {
				pc = int(d.x)
			}
		case opJlt32X:
			if uint32(r[d.dst&15]) < uint32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJlt32K:
			if uint32(r[d.dst&15]) < uint32(d.imm) {
				pc = int(d.x)
			}
		case opJle64X:
			if r[d.dst&15] <= r[d.src&15] {
				pc = int(d.x)
			}
		case opJle64K:
			if r[d.dst&15] <= d.imm {
				pc = int(d.x)
			}
		case opJle32X:
			if uint32(r[d.dst&15]) <= uint32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJle32K:
			if uint32(r[d.dst&15]) <= uint32(d.imm) {
				pc = int(d.x)
			}
		case opJslt64X:
			if int64(r[d.dst&15]) < int64(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJslt64K:
			if int64(r[d.dst&15]) < int64(d.imm) {
				pc = int(d.x)
			}
		case opJslt32X:
			if int32(r[d.dst&15]) < int32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJslt32K:
			if int32(r[d.dst&15]) < int32(d.imm) {
				pc = int(d.x)
			}
		case opJsle64X:
			if int64(r[d.dst&15]) <= int64(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJsle64K:
			if int64(r[d.dst&15]) <= int64(d.imm) {
				pc = int(d.x)
			}
		case opJsle32X:
			if int32(r[d.dst&15]) <= int32(r[d.src&15]) {
				pc = int(d.x)
			}
		case opJsle32K:
			if int32(r[d.dst&15]) <= int32(d.imm) {
				pc = int(d.x)
			}

		case opNeg64:
			r[d.dst&15] = -r[d.dst&15]
		case opNeg32:
			r[d.dst&15] = uint64(-uint32(r[d.dst&15]))
		case opMovsx64B:
			r[d.dst&15] = uint64(int64(int8(r[d.src&15])))
		case opMovsx64H:
			r[d.dst&15] = uint64(int64(int16(r[d.src&15])))
		case opMovsx64W:
			r[d.dst&15] = uint64(int64(int32(r[d.src&15])))
		case opMovsx32B:
			r[d.dst&15] = uint64(uint32(int32(int8(r[d.src&15]))))
		case opMovsx32H:
			r[d.dst&15] = uint64(uint32(int32(int16(r[d.src&15]))))
		case opLe16:
			r[d.dst&15] = uint64(uint16(r[d.dst&15]))
		case opLe32:
			r[d.dst&15] = uint64(uint32(r[d.dst&15]))
		case opLe64:
		case opSwap16:
			r[d.dst&15] = uint64(bits.ReverseBytes16(uint16(r[d.dst&15])))
		case opSwap32:
			r[d.dst&15] = uint64(bits.ReverseBytes32(uint32(r[d.dst&15])))
		case opSwap64:
			r[d.dst&15] = bits.ReverseBytes64(r[d.dst&15])

		case opJa:
			pc = int(d.x)

		case opLdImm64:
			r[d.dst&15] = d.imm
			pc++ // over the second slot

		case opLdxB:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o < mem.StackSize {
				r[d.dst&15] = uint64(stk[o])
			} else if v, ok := e.space.Load(a, 1); ok {
				r[d.dst&15] = v
			} else {
				return 0, st.fault(pc-1, "load", a, 1)
			}
		case opLdxH:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-2 {
				r[d.dst&15] = uint64(binary.LittleEndian.Uint16(stk[o:]))
			} else if v, ok := e.space.Load(a, 2); ok {
				r[d.dst&15] = v
			} else {
				return 0, st.fault(pc-1, "load", a, 2)
			}
		case opLdxW:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-4 {
				r[d.dst&15] = uint64(binary.LittleEndian.Uint32(stk[o:]))
			} else if v, ok := e.space.Load(a, 4); ok {
				r[d.dst&15] = v
			} else {
				return 0, st.fault(pc-1, "load", a, 4)
			}
		case opLdxDW:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-8 {
				r[d.dst&15] = binary.LittleEndian.Uint64(stk[o:])
			} else if v, ok := e.space.Load(a, 8); ok {
				r[d.dst&15] = v
			} else {
				return 0, st.fault(pc-1, "load", a, 8)
			}
		case opLdxsB:
			a := r[d.src&15] + uint64(int64(d.x))
			v, ok := e.space.Load(a, 1)
			if !ok {
				return 0, st.fault(pc-1, "load", a, 1)
			}
			r[d.dst&15] = uint64(int64(int8(v)))
		case opLdxsH:
			a := r[d.src&15] + uint64(int64(d.x))
			v, ok := e.space.Load(a, 2)
			if !ok {
				return 0, st.fault(pc-1, "load", a, 2)
			}
			r[d.dst&15] = uint64(int64(int16(v)))
		case opLdxsW:
			a := r[d.src&15] + uint64(int64(d.x))
			v, ok := e.space.Load(a, 4)
			if !ok {
				return 0, st.fault(pc-1, "load", a, 4)
			}
			r[d.dst&15] = uint64(int64(int32(v)))

		case opStB, opStxB:
			a := r[d.dst&15] + uint64(int64(d.x))
			v := d.imm
			if d.op == opStxB {
				v = r[d.src&15]
			}
			if o := a - mem.StackBase; o < mem.StackSize {
				stk[o] = byte(v)
			} else if !e.space.Store(a, 1, v) {
				return 0, st.fault(pc-1, "store", a, 1)
			}
		case opStH, opStxH:
			a := r[d.dst&15] + uint64(int64(d.x))
			v := d.imm
			if d.op == opStxH {
				v = r[d.src&15]
			}
			if o := a - mem.StackBase; o <= mem.StackSize-2 {
				binary.LittleEndian.PutUint16(stk[o:], uint16(v))
			} else if !e.space.Store(a, 2, v) {
				return 0, st.fault(pc-1, "store", a, 2)
			}
		case opStW, opStxW:
			a := r[d.dst&15] + uint64(int64(d.x))
			v := d.imm
			if d.op == opStxW {
				v = r[d.src&15]
			}
			if o := a - mem.StackBase; o <= mem.StackSize-4 {
				binary.LittleEndian.PutUint32(stk[o:], uint32(v))
			} else if !e.space.Store(a, 4, v) {
				return 0, st.fault(pc-1, "store", a, 4)
			}
		case opStDW, opStxDW:
			a := r[d.dst&15] + uint64(int64(d.x))
			v := d.imm
			if d.op == opStxDW {
				v = r[d.src&15]
			}
			if o := a - mem.StackBase; o <= mem.StackSize-8 {
				binary.LittleEndian.PutUint64(stk[o:], v)
			} else if !e.space.Store(a, 8, v) {
				return 0, st.fault(pc-1, "store", a, 8)
			}

		case opAtomicAddW, opAtomicAddDW, opAtomicOrW, opAtomicOrDW,
			opAtomicAndW, opAtomicAndDW, opAtomicXorW, opAtomicXorDW,
			opFetchAddW, opFetchAddDW, opFetchOrW, opFetchOrDW,
			opFetchAndW, opFetchAndDW, opFetchXorW, opFetchXorDW,
			opXchgW, opXchgDW, opCmpXchgW, opCmpXchgDW:
			if err := e.atomic(st, pc-1, d, &r); err != nil {
				return 0, err
			}

		case opCall:
			h := &st.c.helpers[d.x]
			v, err := e.call(h.Fn, &r)
			if err != nil {
				if errors.Is(err, helper.ErrUnwind) {
					st.insns = st.budget - left - cnt
					return 0, nil
				}
				return 0, st.helperError(pc-1, h.Name, err)
			}
			r[0] = v
		case opCallX:
			id := r[d.dst&15]
			var h helper.Helper
			ok := false
			if id <= math.MaxInt32 {
				h, ok = helper.Lookup(st.c.set, int32(id))
			}
			if !ok {
				return 0, st.errorf(pc-1, "callx r%d: no helper %d in the %s set", d.dst, id, st.c.set)
			}
			v, err := e.call(h.Fn, &r)
			if err != nil {
				if errors.Is(err, helper.ErrUnwind) {
					st.insns = st.budget - left - cnt
					return 0, nil
				}
				return 0, st.helperError(pc-1, h.Name, err)
			}
			r[0] = v
		case opCallFunc:
			if st.depth == len(st.frames) {
				return 0, st.errorf(pc-1, "call nests deeper than %d frames", kabi.MaxCallFrames)
			}
			f := &st.frames[st.depth]
			st.depth++
			f.ret = pc
			f.saved = [4]uint64{r[6], r[7], r[8], r[9]}
			f.fp = r[10]
			f.tailCalls = st.tailCalls
			// One MAX_BPF_STACK slot per frame: the callee's r10 is where the
			// caller's stack ends.
			r[10] -= kabi.MaxBPFStack
			pc = int(d.x)
		case opExit:
			if st.depth == 0 {
				st.insns = st.budget - left - cnt
				return r[0], nil
			}
			st.depth--
			f := &st.frames[st.depth]
			r[6], r[7], r[8], r[9] = f.saved[0], f.saved[1], f.saved[2], f.saved[3]
			r[10] = f.fp
			if st.scheme == core.Legacy {
				st.tailCalls = f.tailCalls
			}
			pc = f.ret

		case opEnd:
			return 0, st.errorf(int(d.x), "execution ran past the last instruction without exit")
		default:
			return 0, st.errorf(pc-1, "second slot of ld_imm64 executed") // decode rejects jumps there
		}
	}
}

// call passes r1-r5 to a helper.
func (e *Engine) call(fn helper.Func, r *regs) (uint64, error) {
	e.args = [5]uint64{r[1], r[2], r[3], r[4], r[5]}
	return fn(e.env, &e.args)
}

// atomic runs one STX|ATOMIC. The address must be aligned to the access
// size: the verifier rejects misaligned atomics (check_ptr_alignment with
// strict alignment) and arm64 faults on them, so no engine may give them a
// meaning.
func (e *Engine) atomic(st *state, pc int, d *dinsn, r *regs) error {
	is64 := (d.op-opAtomicAddW)%2 == 1
	n := 4
	if is64 {
		n = 8
	}
	a := r[d.dst&15] + uint64(int64(d.x))
	op := d.op - (d.op-opAtomicAddW)%2 // the 32-bit form names the operation
	if a%uint64(n) != 0 {
		return st.errorf(pc, "atomic access of %d bytes at %#x is misaligned: %w", n, a, core.ErrFault)
	}
	b := e.space.Bytes(a, n, mem.Read|mem.Write)
	if b == nil {
		return st.fault(pc, "atomic access", a, n)
	}
	old := mem.LoadLE(b, n)
	src := r[d.src&15]
	var v uint64
	switch op {
	case opAtomicAddW, opFetchAddW:
		v = old + src
	case opAtomicOrW, opFetchOrW:
		v = old | src
	case opAtomicAndW, opFetchAndW:
		v = old & src
	case opAtomicXorW, opFetchXorW:
		v = old ^ src
	case opXchgW:
		v = src
	case opCmpXchgW:
		// r0 is compared with the old value at the access size and always
		// receives it (zero-extended for the 32-bit form).
		v = old
		if old == r[0]&mask(n) {
			v = src
		}
		r[0] = old
	}
	mem.StoreLE(b, n, v)
	switch op {
	case opFetchAddW, opFetchOrW, opFetchAndW, opFetchXorW, opXchgW:
		r[d.src&15] = old
	}
	return nil
}

func mask(n int) uint64 {
	if n == 8 {
		return math.MaxUint64
	}
	return 1<<(8*n) - 1
}
