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

// exec runs a program in two layers. fast runs everything that needs no
// function call (ALU, jumps, bpf-to-bpf calls, stack and window accesses) in a loop
// that holds its state in machine registers; any function call in that
// loop would make the compiler keep the loop's state in memory for every
// instruction. Whatever fast cannot finish it hands back to exec, which
// runs that one instruction with step and enters fast again.
//
// The budget is handed to fast in chunks of at most checkEvery
// instructions; fast counts a chunk down and returns when it is used up,
// and exec then looks at the remaining budget and the clock. The count is
// exact: an instruction counts when it starts.
func (e *Engine) exec(st *state, r *regs) (uint64, error) {
	stk := (*[mem.StackSize]byte)(e.stack.Data)
	left := st.budget // not yet handed out
	var cnt uint64    // handed out and not yet used
	pc := 0
	for {
		var slow bool
		// A tail call or a return across one changes st.c in step.
		pc, cnt, slow = fast(st, st.c.insns, r, stk, pc, cnt)
		if slow {
			next, done, err := e.step(st, r, pc)
			if err != nil {
				return 0, err
			}
			if done {
				st.insns = st.budget - left - cnt
				return r[0], nil
			}
			pc = next
			continue
		}
		// The chunk is used up and the instruction at pc has not started.
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
}

// fast serves two regions itself: the stack, and a window onto the last
// read-write region step accessed (the context, a map value), so a loop
// over packet or context bytes stays in fast after its first access.
//
// fast runs from pc until cnt instructions have run (it returns the next
// pc, not started, with cnt 0 and slow false) or until an instruction
// needs step (it returns that instruction's pc, already counted, and slow
// true). It calls no function.
func fast(st *state, ins []dinsn, rp *regs, stk *[mem.StackSize]byte, pc int, cnt uint64) (int, uint64, bool) {
	// A local copy: the compiler then addresses registers off the stack
	// pointer with no nil check per access.
	r := *rp
	wb, w := st.winBase, st.win
	for cnt != 0 {
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

		// Stack accesses and those in the window; any other address goes
		// to step.
		case opLdxB:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o < mem.StackSize {
				r[d.dst&15] = uint64(stk[o])
			} else if o := a - wb; o < uint64(len(w)) {
				r[d.dst&15] = uint64(w[o])
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opLdxH:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-2 {
				r[d.dst&15] = uint64(binary.LittleEndian.Uint16(stk[o:]))
			} else if o := a - wb; o < uint64(len(w)) && o+2 <= uint64(len(w)) {
				r[d.dst&15] = uint64(binary.LittleEndian.Uint16(w[o:]))
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opLdxW:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-4 {
				r[d.dst&15] = uint64(binary.LittleEndian.Uint32(stk[o:]))
			} else if o := a - wb; o < uint64(len(w)) && o+4 <= uint64(len(w)) {
				r[d.dst&15] = uint64(binary.LittleEndian.Uint32(w[o:]))
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opLdxDW:
			a := r[d.src&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-8 {
				r[d.dst&15] = binary.LittleEndian.Uint64(stk[o:])
			} else if o := a - wb; o < uint64(len(w)) && o+8 <= uint64(len(w)) {
				r[d.dst&15] = binary.LittleEndian.Uint64(w[o:])
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStxB:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o < mem.StackSize {
				stk[o] = byte(r[d.src&15])
			} else if o := a - wb; o < uint64(len(w)) {
				w[o] = byte(r[d.src&15])
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStxH:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-2 {
				binary.LittleEndian.PutUint16(stk[o:], uint16(r[d.src&15]))
			} else if o := a - wb; o < uint64(len(w)) && o+2 <= uint64(len(w)) {
				binary.LittleEndian.PutUint16(w[o:], uint16(r[d.src&15]))
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStxW:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-4 {
				binary.LittleEndian.PutUint32(stk[o:], uint32(r[d.src&15]))
			} else if o := a - wb; o < uint64(len(w)) && o+4 <= uint64(len(w)) {
				binary.LittleEndian.PutUint32(w[o:], uint32(r[d.src&15]))
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStxDW:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-8 {
				binary.LittleEndian.PutUint64(stk[o:], r[d.src&15])
			} else if o := a - wb; o < uint64(len(w)) && o+8 <= uint64(len(w)) {
				binary.LittleEndian.PutUint64(w[o:], r[d.src&15])
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStB:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o < mem.StackSize {
				stk[o] = byte(d.imm)
			} else if o := a - wb; o < uint64(len(w)) {
				w[o] = byte(d.imm)
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStH:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-2 {
				binary.LittleEndian.PutUint16(stk[o:], uint16(d.imm))
			} else if o := a - wb; o < uint64(len(w)) && o+2 <= uint64(len(w)) {
				binary.LittleEndian.PutUint16(w[o:], uint16(d.imm))
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStW:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-4 {
				binary.LittleEndian.PutUint32(stk[o:], uint32(d.imm))
			} else if o := a - wb; o < uint64(len(w)) && o+4 <= uint64(len(w)) {
				binary.LittleEndian.PutUint32(w[o:], uint32(d.imm))
			} else {
				*rp = r
				return pc - 1, cnt, true
			}
		case opStDW:
			a := r[d.dst&15] + uint64(int64(d.x))
			if o := a - mem.StackBase; o <= mem.StackSize-8 {
				binary.LittleEndian.PutUint64(stk[o:], d.imm)
			} else if o := a - wb; o < uint64(len(w)) && o+8 <= uint64(len(w)) {
				binary.LittleEndian.PutUint64(w[o:], d.imm)
			} else {
				*rp = r
				return pc - 1, cnt, true
			}

		case opCallFunc:
			if st.depth == st.limit {
				*rp = r
				return pc - 1, cnt, true // step reports the depth
			}
			f := &st.frames[st.depth]
			st.depth++
			f.ret = pc
			f.saved = [4]uint64{r[6], r[7], r[8], r[9]}
			f.fp = r[10]
			f.tailCalls = st.tailCalls
			// One MAX_BPF_STACK slot per frame: the callee's r10 is where
			// the caller's stack ends.
			r[10] -= kabi.MaxBPFStack
			pc = int(d.x)
		case opExit:
			// The exit of a program's main function is step's: the run
			// ends, or a tail call entered the program in a subprogram's
			// frame and the exit returns into the caller's program.
			if st.depth == st.base {
				*rp = r
				return pc - 1, cnt, true
			}
			st.depth--
			f := &st.frames[st.depth]
			r[6], r[7], r[8], r[9] = f.saved[0], f.saved[1], f.saved[2], f.saved[3]
			r[10] = f.fp
			if st.scheme == core.Legacy {
				st.tailCalls = f.tailCalls
			}
			pc = f.ret

		default:
			// Sign-extending loads, atomics, helper calls and the error
			// cases.
			*rp = r
			return pc - 1, cnt, true
		}
	}
	*rp = r
	return pc, 0, false
}

// step runs the instruction at pc that fast handed back. done means the
// program has finished with r0 as its result.
func (e *Engine) step(st *state, r *regs, pc int) (next int, done bool, err error) {
	d := &st.c.insns[pc]
	next = pc + 1
	switch d.op {
	case opLdxB, opLdxH, opLdxW, opLdxDW, opLdxsB, opLdxsH, opLdxsW:
		n := accessSize(d.op)
		a := r[d.src&15] + uint64(int64(d.x))
		b := e.bytes(st, a, n, mem.Read)
		if b == nil {
			return 0, false, st.fault(pc, "load", a, n)
		}
		v := mem.LoadLE(b, n)
		switch d.op {
		case opLdxsB:
			v = uint64(int64(int8(v)))
		case opLdxsH:
			v = uint64(int64(int16(v)))
		case opLdxsW:
			v = uint64(int64(int32(v)))
		}
		r[d.dst&15] = v
	case opStB, opStH, opStW, opStDW, opStxB, opStxH, opStxW, opStxDW:
		n := accessSize(d.op)
		a := r[d.dst&15] + uint64(int64(d.x))
		v := d.imm
		if d.op >= opStxB {
			v = r[d.src&15]
		}
		b := e.bytes(st, a, n, mem.Write)
		if b == nil {
			return 0, false, st.fault(pc, "store", a, n)
		}
		mem.StoreLE(b, n, v)
	case opAtomicAddW, opAtomicAddDW, opAtomicOrW, opAtomicOrDW,
		opAtomicAndW, opAtomicAndDW, opAtomicXorW, opAtomicXorDW,
		opFetchAddW, opFetchAddDW, opFetchOrW, opFetchOrDW,
		opFetchAndW, opFetchAndDW, opFetchXorW, opFetchXorDW,
		opXchgW, opXchgDW, opCmpXchgW, opCmpXchgDW:
		return next, false, e.atomic(st, pc, d, r)
	case opCall:
		return e.callHelper(st, r, pc, st.c.helpers[d.x])
	case opCallX:
		id := r[d.dst&15]
		var h helper.Helper
		ok := false
		if id <= math.MaxInt32 {
			h, ok = helper.Lookup(st.c.set, int32(id))
		}
		if !ok {
			return 0, false, st.errorf(pc, "callx r%d: no helper %d in the %s set", d.dst, id, st.c.set)
		}
		return e.callHelper(st, r, pc, h)
	case opCallFunc:
		return e.callFunc(st, r, pc, d)
	case opExit:
		if st.depth == 0 {
			return 0, true, nil
		}
		return st.ret(r), false, nil
	case opTailCall:
		next, err := e.tailCall(st, r, pc, d)
		return next, false, err
	case opEnd:
		return 0, false, st.errorf(int(d.x), "execution ran past the last instruction without exit")
	default:
		return 0, false, st.errorf(pc, "second slot of ld_imm64 executed") // decode rejects jumps there
	}
	return next, false, nil
}

// bytes returns the guest bytes [a, a+n) with the rights asked for, or nil,
// and makes their region fast's window when it is read-write.
func (e *Engine) bytes(st *state, a uint64, n int, want mem.Prot) []byte {
	reg := e.space.Find(a, n)
	if reg == nil || reg.Prot&want != want {
		return nil
	}
	if reg.Prot&(mem.Read|mem.Write) == mem.Read|mem.Write {
		st.winBase, st.win = reg.Base, reg.Data
	}
	o := a - reg.Base
	return reg.Data[o : o+uint64(n)]
}

// accessSize is the byte count of a load or store op.
func accessSize(op uint8) int {
	switch op {
	case opLdxB, opLdxsB, opStB, opStxB:
		return 1
	case opLdxH, opLdxsH, opStH, opStxH:
		return 2
	case opLdxW, opLdxsW, opStW, opStxW:
		return 4
	}
	return 8
}

// callHelper passes r1-r5 to a helper and takes r0 back. The unwind
// helper's ErrUnwind ends the program with r0 = 0 from any depth.
func (e *Engine) callHelper(st *state, r *regs, pc int, h helper.Helper) (int, bool, error) {
	e.args = [5]uint64{r[1], r[2], r[3], r[4], r[5]}
	v, err := h.Fn(e.env, &e.args)
	if err != nil {
		if errors.Is(err, helper.ErrUnwind) {
			r[0] = 0
			return 0, true, nil
		}
		return 0, false, st.helperError(pc, h.Name, err)
	}
	r[0] = v
	return pc + 1, false, nil
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
