package sim

import (
	"errors"
	"fmt"

	"jitsim/core"
	"jitsim/core/maps"
	"jitsim/core/mem"
	"jitsim/core/xlate"
	"jitsim/sim/uc"
)

// loaded is an object prepared for running: xlated, its maps built in the
// guest space and mapped into Unicorn, its programs JITed per scheme.
type loaded struct {
	obj    *core.Object
	x      *core.Object
	set    *maps.Set
	mapped []*mem.Region // the set's regions, as mapped into Unicorn
	// tail: the object has a prog array, so every program may be a tail
	// call target and needs an image and a bpf_func.
	tail bool
	// images[scheme][i] is program i's image under that scheme, nil until
	// needed.
	images [2][]*image
	// stamp is obj as loaded, to notice an in-place change.
	stamp core.Stamp
}

// Maps returns obj's maps as this engine holds them (maps.Holder): built
// on first use, kept across runs, rebuilt when another object is run.
func (e *Engine) Maps(obj *core.Object) (*maps.Set, error) {
	l, err := e.load(obj)
	if err != nil {
		return nil, err
	}
	return l.set, nil
}

// load xlates obj and builds its maps, or returns what the last call
// built when obj has not changed since. Engines run xlated code only.
func (e *Engine) load(obj *core.Object) (*loaded, error) {
	if e.u == nil {
		return nil, core.Errorf(core.NoInsn, "run", "sim %s: engine is closed", e.arch.name)
	}
	if l := e.cur; l != nil && l.stamp.Same(obj) {
		return l, nil
	}
	if e.placed >= renewAfter {
		// The object changes, so no map state is lost by starting over.
		if err := e.renew(); err != nil {
			return nil, core.Errorf(core.NoInsn, "run", "sim %s: renew: %v", e.arch.name, err)
		}
	}
	if err := e.unload(); err != nil {
		return nil, core.Errorf(core.NoInsn, "run", "%v", err)
	}
	x, err := xlate.Object(obj)
	if err != nil {
		return nil, err
	}
	set, err := maps.New(&e.space, obj)
	if err != nil {
		return nil, err
	}
	l := &loaded{obj: obj, x: x, set: set, stamp: core.NewStamp(obj)}
	for _, r := range set.Regions() {
		if err := e.u.MemMapPtr(r.Base, r.Data, uc.Prot(r.Prot)); err != nil {
			e.cur = l
			e.unload()
			return nil, core.Errorf(core.Pos{File: obj.File, Insn: -1}, "run", "map %s at %#x: %v", r.Name, r.Base, err)
		}
		l.mapped = append(l.mapped, r)
	}
	for _, m := range obj.Maps {
		l.tail = l.tail || m.Type == core.MapProgArray
	}
	for s := range l.images {
		l.images[s] = make([]*image, len(obj.Progs))
	}
	e.cur = l
	return l, nil
}

// unload drops the loaded object's maps from Unicorn and the space.
func (e *Engine) unload() error {
	l := e.cur
	if l == nil {
		return nil
	}
	e.cur, e.env.Maps = nil, nil
	var errs []error
	for _, r := range l.mapped {
		errs = append(errs, e.u.MemUnmap(r.Base, uint64(len(r.Data))))
	}
	errs = append(errs, l.set.Close())
	return errors.Join(errs...)
}

// programs returns the images a run of program prog needs under scheme:
// its own, and when the object has a prog array every program's (any may
// be a tail call target), with bpf_func and the direct tail call sites
// set for this scheme.
func (e *Engine) programs(l *loaded, prog int, scheme core.Scheme) (*image, error) {
	ims := l.images[scheme]
	// Placing an image can start the code region over, dropping images
	// placed before it: the second round finds room for all.
	for round := 0; ; round++ {
		for i, x := range l.x.Progs {
			if i != prog && !l.tail {
				continue
			}
			im, err := e.image(l.obj.Progs[i], x, l.obj.Helpers, scheme)
			if err != nil {
				return nil, err
			}
			ims[i] = im
		}
		stale := false
		for i, im := range ims {
			if im != nil && e.images[imageKey{l.obj.Progs[i], scheme}] != im {
				ims[i], stale = nil, true
			}
		}
		if !stale {
			break
		}
		if round == 1 {
			return nil, l.x.Progs[prog].Errorf(0, "run", "the object's images do not fit the %d-byte code region together", codeBytes)
		}
	}
	if l.tail {
		for i, im := range ims {
			l.set.SetBpfFunc(i, im.entry)
		}
		if err := e.syncPokes(l, ims); err != nil {
			return nil, l.x.Progs[prog].Errorf(0, "run", "patch direct tail calls: %v", err)
		}
	}
	return ims[prog], nil
}

// x86 instructions the kernel writes at poke sites
// (__bpf_arch_text_poke): a 5-byte jmp rel32, or the 5-byte nop.
var nop5 = [5]byte{0x0f, 0x1f, 0x44, 0x00, 0x00}

func jmp5(from, to uint64) [5]byte {
	rel := uint32(to - (from + 5))
	return [5]byte{0xe9, byte(rel), byte(rel >> 8), byte(rel >> 16), byte(rel >> 24)}
}

// syncPokes makes every direct tail call site jump where its prog array
// slot now points, as bpf_arch_poke_desc_update does when a slot changes:
// a filled slot turns the target nop5 into "jmp bpf_func+tail call offset"
// and the bypass jump into a nop5; an empty one puts both back. Prog
// arrays change only between runs (programs cannot update them), so doing
// this at the start of a run is what the kernel's patching at update time
// gives. Unicorn does not see writes to code, so patched ranges are
// dropped from its translation cache.
func (e *Engine) syncPokes(l *loaded, ims []*image) error {
	for _, im := range ims {
		for k, pk := range im.img.Pokes {
			var target uint64
			if pk.Map >= 0 && pk.Map < l.set.Len() {
				if p, ok := l.set.Map(pk.Map).Slot(pk.Key); ok && ims[p] != nil {
					target = ims[p].entry + uint64(ims[p].img.TailCallOffset)
				}
			}
			if im.pokeTargets[k] == target {
				continue
			}
			site := im.img.Base + uint64(pk.TailCallSite)
			bypass := im.img.Base + uint64(pk.BypassSite)
			code := e.code.Data[im.off:]
			if target != 0 {
				b := jmp5(site, target)
				copy(code[pk.TailCallSite:], b[:])
				copy(code[pk.BypassSite:], nop5[:])
			} else {
				b := jmp5(bypass, im.img.Base+uint64(pk.BypassTarget))
				copy(code[pk.BypassSite:], b[:])
				copy(code[pk.TailCallSite:], nop5[:])
			}
			im.pokeTargets[k] = target
			for _, at := range []uint64{site, bypass} {
				if err := e.u.RemoveCache(at, at+5); err != nil {
					return fmt.Errorf("poke at %#x: %w", at, err)
				}
			}
		}
	}
	return nil
}

// onLanding records a tail call: a block started at a program's tail call
// landing point, which only a tail call jumps to. The block before it
// holds the jump, in the calling program.
func (e *Engine) onLanding(addr uint64) {
	st := e.run
	if st == nil || st.replay {
		return
	}
	to, _ := e.imageAt(addr)
	if to == nil {
		return
	}
	ev := core.TailCallEvent{To: to.prog.Name, Depth: -1}
	pa, pn := e.bud.PrevBlock()
	from, lo := e.imageAt(pa)
	if from != nil {
		ev.From = from.prog.Name
	}
	a := e.arch
	vals := e.regs[:3]
	if err := e.u.RegReadBatch(a.tcRegs[:], vals); err != nil {
		return
	}
	cnt, fp, r3 := vals[0], vals[1], vals[2]
	ev.Slot = uint32(r3)
	// The jump ends the block before: its slot is the tail call. A site
	// with a poke descriptor is a direct tail call (a patched jmp on x86;
	// arm64 JITs it like any other, and r3 holds the same constant).
	if from != nil && pn > 0 {
		if slot := from.slotAt(lo + int(pn) - 1); from.src[slot].Op == core.JMP|core.TailCall {
			if k := int(from.src[slot].Imm) - 1; k >= 0 && k < len(from.pokes) {
				ev.Direct, ev.Slot = true, from.pokes[k].Key
			}
		}
	}
	// The count as the target's prologue will find it.
	switch {
	case a == x86Arch && st.scheme == core.Legacy:
		cnt >>= 32 // the dword above the pushed qword (see arch/x86 tccOff)
	case a == x86Arch && cnt <= 33:
		// the entry program's own count, by value
	case a == arm64Arch && st.scheme == core.Legacy:
		// x26 is the count
	default:
		v, ok := e.space.Load(cnt, 8) // tcc_ptr
		if !ok {
			return
		}
		cnt = v
	}
	ev.CountAfter = uint32(cnt)
	ev.CountBefore = ev.CountAfter - 1
	// The call depth is the number of frame records above this frame's.
	for d := 0; d < 64; d++ {
		if fp == st.entryFP {
			ev.Depth = d
			break
		}
		v, ok := e.space.Load(fp, 8)
		if !ok {
			break
		}
		fp = v
	}
	st.events = append(st.events, ev)
}
