package sim

import (
	"slices"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/maps"
)

// JITed is one program as an Engine runs it.
type JITed struct {
	// Index is the program's index in the object's Progs.
	Index int
	// Prog is the xlated program the backend compiled: what a listing
	// prints as pseudo-C above the machine code.
	Prog *core.Program
	// Image is the backend's output placed in the code region: Base is the
	// guest address of Code[0], and Code holds the bytes there now, with
	// the direct tail call sites patched for the slots the prog arrays
	// hold (bpf_arch_poke_desc_update), as "bpftool prog dump jited"
	// reads the live image. Image is a copy: changing it changes nothing
	// the engine runs.
	Image *jit.Image
}

// JIT does what Run does before it starts the CPU, and stops there: it
// xlates obj, builds its maps in guest memory, JITs program prog for the
// scheme with the engine's options, code addresses and helper stubs,
// places the images in the code region, sets every bpf_func and patches the
// direct tail call sites. It returns the images a run of prog would
// execute, in program order: every program's when the object has a prog
// array (any may be a tail call target), else prog's alone. The images
// stay in the engine's cache, so a Run of prog that follows runs exactly
// these bytes at these addresses.
//
// Where an image lands depends on what the engine placed before it: on a
// fresh engine, the first program JITed starts at the code region's base,
// as it does for the first Run.
func (e *Engine) JIT(obj *core.Object, prog int, scheme core.Scheme) ([]JITed, error) {
	if e.u == nil {
		return nil, core.Errorf(core.NoInsn, "jit", "sim %s: engine is closed", e.arch.name)
	}
	if obj == nil || prog < 0 || prog >= len(obj.Progs) || obj.Progs[prog] == nil {
		n := 0
		if obj != nil {
			n = len(obj.Progs)
		}
		return nil, core.Errorf(core.NoInsn, "jit", "no program %d (the object has %d)", prog, n)
	}
	if scheme != core.Fixed && scheme != core.Legacy {
		return nil, core.Errorf(core.NoInsn, "jit", "unknown tail call count scheme %d", scheme)
	}
	l, err := e.load(obj)
	if err != nil {
		return nil, err
	}
	if _, err := e.programs(l, prog, scheme); err != nil {
		return nil, err
	}
	var out []JITed
	for i, im := range l.images[scheme] {
		if im == nil || (i != prog && !l.tail) {
			continue
		}
		img := *im.img
		img.Code = slices.Clone(e.code.Data[im.off : im.off+len(im.img.Code)])
		img.Funcs = slices.Clone(im.img.Funcs)
		img.InsnOffsets = slices.Clone(im.img.InsnOffsets)
		img.Pokes = slices.Clone(im.img.Pokes)
		out = append(out, JITed{Index: i, Prog: im.prog, Image: &img})
	}
	return out, nil
}

// Layout is the guest layout of the maps of the object last loaded (by
// Run, JIT or Maps), or nil.
func (e *Engine) Layout() *maps.Layout {
	if e.cur == nil {
		return nil
	}
	return e.cur.set.Layout()
}

// HelperAt names the helper id whose trap stub is at guest address addr, as
// a JITed call reaches it (jit.Options.HelperAddr).
func (e *Engine) HelperAt(addr uint64) (id int32, ok bool) {
	a := e.arch
	off := addr - a.helperBase
	if addr < a.helperBase || off >= stubBytes || off%stubStride != 0 {
		return 0, false
	}
	return int32(off / stubStride), true
}
