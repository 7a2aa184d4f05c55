// Package xlate does what the kernel's verifier does to a program after
// checking it and before handing it to a JIT (do_misc_fixups,
// resolve_pseudo_ldimm64; what `bpftool prog dump xlated` shows), for the
// parts jitsim models:
//
//   - ld_imm64 of a map (BPF_PSEUDO_MAP_FD) becomes ld_imm64 of the map
//     object's guest address; of a map value (BPF_PSEUDO_MAP_VALUE) the
//     value's address plus the offset (core/maps lays both out);
//   - for programs whose r1 is the kernel's context (core.Program.KernelCtx),
//     accesses to struct __sk_buff and struct xdp_md become accesses to
//     jitsim's simulated struct sk_buff and xdp_buff, and LD_ABS/LD_IND the
//     kernel's helper call sequence (ctx.go); these insert slots;
//   - a call of helper 12, bpf_tail_call, becomes BPF_JMP|BPF_TAIL_CALL.
//     When r2 is the same prog array and r3 the same constant below
//     max_entries on every path to it, the site gets a poke descriptor
//     (core.Program.TailCallPokes) and Imm = its index + 1, which the x86-64
//     JIT turns into a patchable direct jump; Imm 0 is an indirect tail call.
//
// Every slot keeps its index and position except where the context
// rewrites insert slots (jumps, calls, symbols and function bounds are
// adjusted, new slots keep the position of the one they replace). Engines
// run xlated code only; the interpreter and the simulator call Object on
// what they are given. Running Object on xlated code gives the same code
// back (the context rewrites clear KernelCtx on their output).
//
// Checked here, each error naming the program, slot and source position:
// a tail call through a map that is not a prog array (also when the map
// comes into a subprogram as an argument, which core/analysis does not
// follow), a prog array holding or used by programs of different types
// (core/maps.Plan), map references to maps that do not exist or values
// that cannot be addressed. The program's structure (jump targets, a
// function running off its end) is core/analysis's to check.
package xlate

import (
	"math/bits"
	"slices"
	"strconv"

	"jitsim/core"
	"jitsim/core/kabi"
	"jitsim/core/maps"
)

// Object returns obj with every program xlated. The maps are obj's own
// (the same *core.Map values); programs are copies.
func Object(obj *core.Object) (*core.Object, error) {
	lay, err := maps.Plan(obj)
	if err != nil {
		return nil, err
	}
	return ObjectLayout(obj, lay)
}

// ObjectLayout is Object with the layout already planned.
func ObjectLayout(obj *core.Object, lay *maps.Layout) (*core.Object, error) {
	out := &core.Object{File: obj.File, Maps: obj.Maps, Helpers: obj.Helpers, Progs: make([]*core.Program, len(obj.Progs))}
	for i, p := range obj.Progs {
		x, err := Program(obj, lay, p)
		if err != nil {
			return nil, err
		}
		out.Progs[i] = x
	}
	return out, nil
}

// Program xlates one program of obj.
func Program(obj *core.Object, lay *maps.Layout, p *core.Program) (*core.Program, error) {
	x := &xlator{obj: obj, lay: lay, p: p, insns: p.Insns}
	return x.run()
}

type xlator struct {
	obj   *core.Object
	lay   *maps.Layout
	p     *core.Program
	insns []core.Insn
	// second[i]: slot i is the second half of an ld_imm64.
	second []bool
}

func (x *xlator) errorf(i int, format string, args ...any) error {
	return x.p.Errorf(i, "xlate", format, args...)
}

func (x *xlator) run() (*core.Program, error) {
	n := len(x.insns)
	if n == 0 {
		// Nothing to rewrite; the verifier (or the decoder) rejects it.
		c := *x.p
		return &c, nil
	}
	leaders, callbacks := x.structure()
	f := &flow{obj: x.obj, lay: x.lay, p: x.p, insns: x.insns}
	f.run(leaders, append([]int{0}, callbacks...))

	out := slices.Clone(x.insns)
	var pokes []core.TailCallPoke
	for i := 0; i < n; i++ {
		ins := out[i]
		switch {
		case ins.IsLdImm64() && i+1 < n:
			if err := x.ldImm64(out, i); err != nil {
				return nil, err
			}
			i++
		case ins.Op == core.JMP|core.TailCall:
			// Already xlated: keep it, and its poke descriptor. A
			// malformed one stays as it is for the decoder to reject.
			if k := int(ins.Imm); k > 0 && k <= len(x.p.TailCallPokes) {
				pokes = append(pokes, x.p.TailCallPokes[k-1])
				out[i].Imm = int32(len(pokes))
			}
		case f.isTailCall(ins):
			poke, direct, err := x.tailCall(i, f.sites[i])
			if err != nil {
				return nil, err
			}
			out[i] = core.Insn{Op: core.JMP | core.TailCall}
			if direct {
				pokes = append(pokes, poke)
				out[i].Imm = int32(len(pokes)) // poke index + 1, as do_misc_fixups
			}
		}
	}
	xp := &core.Program{
		Name:          x.p.Name,
		Type:          x.p.Type,
		Insns:         out,
		SlotPos:       x.p.SlotPos,
		Origins:       x.p.Origins,
		Symbols:       x.p.Symbols,
		Funcs:         slices.Clone(x.p.Funcs),
		TailCallPokes: pokes,
	}
	if x.p.KernelCtx {
		return x.kernelCtx(xp, leaders, callbacks) // ctx.go
	}
	return xp, nil
}

// structure finds the basic block leaders and the functions entered with
// unknown registers (callbacks named by ld_imm64), as check_subprogs
// splits a program. It is lenient: a jump or call out of range, into the
// middle of an ld_imm64, or a function running off its end is the
// verifier's to reject (core/analysis, and the interpreter's decoder),
// so here such an edge is just left out.
func (x *xlator) structure() (leaders []bool, callbacks []int) {
	n := len(x.insns)
	x.second = make([]bool, n+1)
	leaders = make([]bool, n)
	leaders[0] = true
	mark := func(t int) {
		if t >= 0 && t < n {
			leaders[t] = true
		}
	}
	for i := 0; i < n; i++ {
		ins := x.insns[i]
		switch {
		case ins.IsLdImm64():
			x.second[i+1] = true
			if ins.Src == core.PseudoFunc {
				t := i + 1 + int(ins.Imm)
				mark(t)
				if t >= 0 && t < n {
					callbacks = append(callbacks, t)
				}
			}
			i++
		case ins.IsPseudoCall():
			mark(ins.CallTarget(i))
		case ins.IsJump():
			mark(ins.JumpTarget(i))
			mark(i + 1)
		case ins.IsExit():
			mark(i + 1)
		}
	}
	for i := range n {
		if x.second[i] {
			leaders[i] = false // never entered: the decoder rejects a jump there
		}
	}
	return leaders, callbacks
}

// ldImm64 resolves a map reference in place (resolve_pseudo_ldimm64).
func (x *xlator) ldImm64(out []core.Insn, i int) error {
	lo, hi := out[i], out[i+1]
	if lo.Src != core.PseudoMapFD && lo.Src != core.PseudoMapValue {
		return nil
	}
	idx := uint32(lo.Imm)
	if idx >= uint32(len(x.obj.Maps)) {
		return x.errorf(i, "ld_imm64 refers to map %d, but the object has %d maps", idx, len(x.obj.Maps))
	}
	m := x.obj.Maps[idx]
	var addr uint64
	if lo.Src == core.PseudoMapFD {
		addr = x.lay.Maps[idx].Addr
	} else {
		// array_map_direct_value_addr: single-entry arrays only.
		if m.Type != core.MapArray || m.MaxEntries != 1 {
			return x.errorf(i, "ld_imm64 of a value of map %s: direct value access needs an array with one entry, not a %s with %d", m.Name, m.Type, m.MaxEntries)
		}
		off := uint32(hi.Imm)
		if off >= m.ValueSize {
			return x.errorf(i, "ld_imm64 of a value of map %s: offset %d is past the value size %d", m.Name, off, m.ValueSize)
		}
		addr = x.lay.ValueAddr(int(idx), off)
	}
	ld := core.LdImm64(lo.Dst, 0, addr)
	out[i], out[i+1] = ld[0], ld[1]
	return nil
}

// tailCall decides direct or indirect for one site, as do_misc_fixups
// does from the map pointer and key the verifier recorded.
func (x *xlator) tailCall(i int, st *site) (core.TailCallPoke, bool, error) {
	if st == nil || !st.reached {
		// Dead code: the verifier never recorded anything here.
		return core.TailCallPoke{}, false, nil
	}
	var cand []int // the maps r2 may be
	switch st.r2.k {
	case kMap:
		cand = []int{int(st.r2.c)}
	case kMaps:
		for b := st.r2.set; b != 0; b &= b - 1 {
			cand = append(cand, bits.TrailingZeros64(b))
		}
	}
	verb := "is"
	if len(cand) > 1 {
		verb = "may be"
	}
	for _, mi := range cand {
		if mi >= len(x.obj.Maps) {
			return core.TailCallPoke{}, false, nil // a bad ld_imm64, reported at its own slot
		}
		if m := x.obj.Maps[mi]; m.Type != core.MapProgArray {
			return core.TailCallPoke{}, false, x.errorf(i, "bpf_tail_call: r2 %s map %s, a %s; tail calls go through a prog_array", verb, m.Name, m.Type)
		}
	}
	if len(cand) != 1 || st.r2.k != kMap {
		return core.TailCallPoke{}, false, nil // unknown or several maps: bpf_map_ptr_poisoned
	}
	m := x.obj.Maps[cand[0]]
	// record_func_key: a constant key below max_entries, else poisoned.
	if st.r3.k != kConst || st.r3.c >= uint64(m.MaxEntries) {
		return core.TailCallPoke{}, false, nil
	}
	return core.TailCallPoke{Map: cand[0], Key: uint32(st.r3.c)}, true, nil
}

// IsDirect reports whether slot i of an xlated program is a direct tail
// call, and its poke descriptor.
func IsDirect(p *core.Program, i int) (core.TailCallPoke, bool) {
	ins := p.Insns[i]
	if ins.Op != core.JMP|core.TailCall || ins.Imm <= 0 || int(ins.Imm) > len(p.TailCallPokes) {
		return core.TailCallPoke{}, false
	}
	return p.TailCallPokes[ins.Imm-1], true
}

// Note says in words what slot i of an xlated program refers to, for
// listings: "direct: jmp_table[3]" or "indirect" for a tail call;
// "map[jmp_table]" or "map[g][0]+12" for an ld_imm64 of a map object's or
// a value's address; "" otherwise.
func Note(obj *core.Object, lay *maps.Layout, p *core.Program, i int) string {
	ins := p.Insns[i]
	switch {
	case ins.Op == core.JMP|core.TailCall:
		if poke, ok := IsDirect(p, i); ok && poke.Map >= 0 && poke.Map < len(obj.Maps) {
			return "direct: " + obj.Maps[poke.Map].Name + "[" + strconv.FormatUint(uint64(poke.Key), 10) + "]"
		}
		return "indirect"
	case ins.IsLdImm64() && ins.Src == 0 && i+1 < len(p.Insns):
		m, off, src, ok := mapOf(obj, lay, core.Imm64(ins, p.Insns[i+1]))
		switch {
		case !ok:
		case src == core.PseudoMapFD:
			return "map[" + obj.Maps[m].Name + "]"
		default:
			return "map[" + obj.Maps[m].Name + "][0]+" + strconv.FormatUint(uint64(off), 10)
		}
	}
	return ""
}

// ForDump is bpf_insn_prepare_dump: the xlated program as `bpftool prog
// dump xlated` shows it. Map addresses go back to map references (bpftool
// prints map[id:N]; jitsim's printer map[NAME]) and tail calls back to
// "call bpf_tail_call#12"; everything else is as the engines run it.
func ForDump(obj *core.Object, lay *maps.Layout, p *core.Program) *core.Program {
	out := *p
	out.Insns = slices.Clone(p.Insns)
	for i := 0; i < len(out.Insns); i++ {
		ins := out.Insns[i]
		switch {
		case ins.Op == core.JMP|core.TailCall:
			out.Insns[i] = core.Insn{Op: core.JMP | core.Call, Imm: kabi.FnTailCall}
		case ins.IsLdImm64() && i+1 < len(out.Insns):
			if ins.Src == 0 {
				if m, off, src, ok := mapOf(obj, lay, core.Imm64(ins, out.Insns[i+1])); ok {
					out.Insns[i] = core.Insn{Op: ins.Op, Dst: ins.Dst, Src: src, Imm: int32(m)}
					out.Insns[i+1] = core.Insn{Imm: int32(off)}
				}
			}
			i++
		}
	}
	return &out
}

// mapOf finds the map object, or single-entry array value, at address a.
func mapOf(obj *core.Object, lay *maps.Layout, a uint64) (m int, off uint32, src core.Reg, ok bool) {
	if m, ok := lay.MapAt(a); ok {
		return m, 0, core.PseudoMapFD, true
	}
	for m, pl := range lay.Maps {
		if d := obj.Maps[m]; d.Type == core.MapArray && d.MaxEntries == 1 && a >= pl.Values && a < pl.Values+uint64(d.ValueSize) {
			return m, uint32(a - pl.Values), core.PseudoMapValue, true
		}
	}
	return 0, 0, 0, false
}
