package sim

import (
	"slices"
	"sort"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/jit"
)

// imageKey is what an image depends on besides the program's slots.
type imageKey struct {
	prog   *core.Program
	scheme core.Scheme
}

// image is one JITed program placed in the code region.
type image struct {
	prog  *core.Program // the xlated program: names errors and events
	src   []core.Insn   // the slots it was JITed from
	funcs []core.Func
	pokes []core.TailCallPoke
	set   core.HelperSet
	img   *jit.Image
	off   int    // offset in the code region
	entry uint64 // guest address of the main function
	// marks are the BPF instruction starts the budget counts, by code
	// offset (image-relative), slots in order among equal offsets.
	marks []mark
	// pokeTargets is where each direct tail call site jumps now (0: the
	// slot is empty, as the JIT emitted it).
	pokeTargets []uint64
}

// mark is one counted BPF instruction start.
type mark struct {
	off  int
	slot int
}

// imageAlign keeps images apart on cache lines (and arm64 functions 8-byte
// aligned, which the backend's PLT targets assume).
const imageAlign = 64

// maxImages bounds the cache; past it the code region starts over.
const maxImages = 256

// image returns the image of x, the xlated form of program orig, for the
// scheme, JITing and placing it when x's slots, functions or poke
// descriptors differ from the cached image's.
func (e *Engine) image(orig, x *core.Program, set core.HelperSet, scheme core.Scheme) (*image, error) {
	key := imageKey{orig, scheme}
	if im, ok := e.images[key]; ok && im.set == set && slices.Equal(im.src, x.Insns) &&
		slices.Equal(im.funcs, x.Funcs) && slices.Equal(im.pokes, x.TailCallPokes) {
		im.prog = x
		return im, nil
	}
	p := x
	if err := checkHelpers(p, set); err != nil {
		return nil, err
	}
	if len(e.images) >= maxImages {
		if err := e.resetCode(); err != nil {
			return nil, core.Errorf(core.NoInsn, "run", "%v", err)
		}
	}
	img, err := e.compile(p, scheme, e.codeUsed)
	if err != nil {
		return nil, err
	}
	if e.codeUsed+len(img.Code) > codeBytes && e.codeUsed > 0 {
		// The region is full: start over, and JIT again for the new base
		// (call rel32 and adr depend on it).
		if err := e.resetCode(); err != nil {
			return nil, core.Errorf(core.NoInsn, "run", "%v", err)
		}
		if img, err = e.compile(p, scheme, 0); err != nil {
			return nil, err
		}
	}
	if len(img.Code) > codeBytes {
		return nil, p.Errorf(0, "run", "JITed image of %d bytes does not fit the %d-byte code region", len(img.Code), codeBytes)
	}
	if len(img.InsnOffsets) != len(p.Insns)+1 || len(img.Funcs) != len(p.Funcs) {
		return nil, p.Errorf(0, "run", "%s image has %d insn offsets and %d functions for %d slots and %d functions",
			e.arch.name, len(img.InsnOffsets), len(img.Funcs), len(p.Insns), len(p.Funcs))
	}
	im := &image{
		prog:        p,
		src:         slices.Clone(p.Insns),
		funcs:       slices.Clone(p.Funcs),
		pokes:       slices.Clone(p.TailCallPokes),
		set:         set,
		img:         img,
		off:         e.codeUsed,
		entry:       img.Base + uint64(img.Funcs[0].Start),
		pokeTargets: make([]uint64, len(img.Pokes)),
	}
	im.marks = e.marks(p, img)
	if err := e.place(im); err != nil {
		return nil, p.Errorf(0, "run", "%v", err)
	}
	if old := e.images[key]; old != nil {
		e.dropImage(old)
	}
	e.images[key] = im
	e.placed++
	return im, nil
}

// compile JITs p for the code region offset off.
func (e *Engine) compile(p *core.Program, scheme core.Scheme, off int) (*jit.Image, error) {
	a := e.arch
	base := a.codeBase + uint64(off)
	return a.backend.Compile(p, jit.Options{
		Scheme:     scheme,
		IBT:        e.opts.IBT,
		BTI:        e.opts.BTI,
		PAC:        e.opts.PAC,
		LSE:        e.opts.LSE,
		Base:       base,
		HelperAddr: a.helperAddr,
	})
}

// checkHelpers rejects calls to helpers the table does not serve before
// anything runs, as the interpreter's decoder does, with its wording.
func checkHelpers(p *core.Program, set core.HelperSet) error {
	for i, ins := range p.Insns {
		if !ins.IsHelperCall() || ins.Source() != core.K {
			continue
		}
		if _, ok := helper.Lookup(set, ins.Imm); ok {
			if ins.Imm < 0 || ins.Imm >= numStubs {
				return p.Errorf(i, "run", "call %d: helper id beyond the %d trap stubs", ins.Imm, numStubs)
			}
			continue
		}
		name, known := helper.Describe(set, ins.Imm)
		if known {
			return p.Errorf(i, "run", "call %s: %w", name, core.ErrUnsupported)
		}
		return p.Errorf(i, "run", "call to %s", name)
	}
	return nil
}

// place writes the image's code at its offset, drops whatever Unicorn had
// translated there, and adds its marks to the budget's table.
func (e *Engine) place(im *image) error {
	code := im.img.Code
	copy(e.code.Data[im.off:], code)
	base := e.arch.codeBase + uint64(im.off)
	if len(code) > 0 {
		if err := e.u.RemoveCache(base, base+uint64(len(code))); err != nil {
			return err
		}
	}
	prefix := e.bud.Prefix()
	// Offsets below im.off keep their sums; the image's run from there.
	o := im.off
	sum := prefix[o]
	k := 0
	for i := range len(code) + 1 {
		prefix[o+i] = sum
		for k < len(im.marks) && im.marks[k].off == i {
			sum++
			k++
		}
	}
	// Only a tail call enters a program at its landing point: a block
	// starting there is one (onLanding).
	if land := im.off + im.img.Funcs[0].Start + im.img.TailCallOffset; land < im.off+len(code) {
		e.entries[land] = 1
	}
	e.codeUsed = im.off + (len(code)+imageAlign-1)&^(imageAlign-1)
	i, _ := slices.BinarySearchFunc(e.byBase, im.off, func(x *image, off int) int { return x.off - off })
	e.byBase = slices.Insert(e.byBase, i, im)
	return nil
}

// dropImage forgets a replaced image (its code stays until the region
// starts over, unreachable).
func (e *Engine) dropImage(im *image) {
	if i := slices.Index(e.byBase, im); i >= 0 {
		e.byBase = slices.Delete(e.byBase, i, i+1)
	}
}

// resetCode empties the code region and the image cache.
func (e *Engine) resetCode() error {
	clear(e.images)
	e.byBase = e.byBase[:0]
	used := e.codeUsed
	e.codeUsed = 0
	if used == 0 {
		return nil
	}
	clear(e.code.Data[:used])
	clear(e.bud.Prefix()[:used+1])
	clear(e.entries[:used])
	return e.u.RemoveCache(e.arch.codeBase, e.arch.codeBase+uint64(used))
}

// marks lists the code offsets at which the budget counts a BPF
// instruction: where each slot's code starts, except that
//   - an ld_imm64's second slot is not an instruction;
//   - exits share code. On x86 the first exit of a function emits the
//     epilogue and the others jump to its start, so only the first exit
//     counts, when any exit's path enters it. On arm64 a function whose
//     last slot is an exit lets it fall into the epilogue (it emits
//     nothing) and the other exits branch there, so only that one counts;
//     otherwise each exit is its own branch and counts where it is.
//
// What no table can tell apart: a slot that emits no code (x86 "goto +0",
// "r1 = r1", le64) starts where the next one does, so a jump to that next
// slot also counts the empty one. Result.Insns is then one higher than the
// interpreter's per such jump.
func (e *Engine) marks(p *core.Program, img *jit.Image) []mark {
	ms := make([]mark, 0, len(p.Insns))
	for _, f := range p.Funcs {
		// shared is the exit whose code every exit of f runs through, or
		// -1 when each exit is its own branch.
		shared := -1
		for i := f.Start; i < f.End; i++ {
			if e.arch.lastExitFalls {
				if p.Insns[f.End-1].IsExit() {
					shared = f.End - 1
				}
				break
			}
			if p.Insns[i].IsExit() {
				shared = i
				break
			}
		}
		for i := f.Start; i < f.End; i++ {
			ins := p.Insns[i]
			if ins.IsExit() && shared >= 0 && i != shared {
				continue
			}
			ms = append(ms, mark{img.InsnOffsets[i], i})
			if ins.IsLdImm64() {
				i++
			}
		}
	}
	slices.SortStableFunc(ms, func(a, b mark) int { return a.off - b.off })
	return ms
}

// imageAt finds the image holding guest address addr.
func (e *Engine) imageAt(addr uint64) (*image, int) {
	if addr < e.arch.codeBase || addr >= e.arch.codeBase+uint64(e.codeUsed) {
		return nil, 0
	}
	off := int(addr - e.arch.codeBase)
	i := sort.Search(len(e.byBase), func(i int) bool { return e.byBase[i].off > off }) - 1
	if i < 0 {
		return nil, 0
	}
	im := e.byBase[i]
	if off-im.off > len(im.img.Code) {
		return nil, 0
	}
	return im, off - im.off
}

// loc is a BPF slot of an image; im is nil (and slot -1) outside every
// image.
type loc struct {
	im   *image
	slot int
}

// locate finds the slot whose code holds guest address pc: the last slot
// starting at or before it.
func (e *Engine) locate(pc uint64) loc {
	im, off := e.imageAt(pc)
	if im == nil {
		return loc{slot: -1}
	}
	return loc{im, im.slotAt(off)}
}

// slotAt maps an image offset to the slot whose code holds it; offsets in a
// function's prologue give its first slot.
func (im *image) slotAt(off int) int {
	offs := im.img.InsnOffsets[:len(im.img.InsnOffsets)-1]
	i := sort.Search(len(offs), func(i int) bool { return offs[i] > off }) - 1
	if i < 0 {
		return 0
	}
	// A function's prologue lies past the previous function's last slot:
	// name the function's first slot instead.
	for k, f := range im.img.Funcs {
		if off >= f.Start && off < f.BodyStart {
			return im.funcs[k].Start
		}
	}
	return i
}

// funcOf is the index of the function holding slot.
func (im *image) funcOf(slot int) int {
	return sort.Search(len(im.funcs), func(k int) bool { return im.funcs[k].End > slot })
}

// marksIn returns the marks in image offsets [lo, hi).
func (im *image) marksIn(lo, hi int) []mark {
	i := sort.Search(len(im.marks), func(i int) bool { return im.marks[i].off >= lo })
	j := sort.Search(len(im.marks), func(i int) bool { return im.marks[i].off >= hi })
	return im.marks[i:j]
}

// renewAfter bounds the images one Unicorn instance translates. Unicorn
// 2.0.1 frees translated code only on a whole-cache flush (about 2 s and
// 1 GiB the first time, see sim/uc), so an engine that runs many distinct
// programs grows by about 31 MB per 1,000 of them, and crashed inside
// uc_emu_start after about 40,000 (jitsim fuzz, seed 1). A fresh instance
// every renewAfter images keeps it bounded at the cost of one Open (a few
// ms).
var renewAfter = 2000

// renew replaces the Unicorn instance and the guest memory with fresh
// ones, as New would.
func (e *Engine) renew() error {
	if err := e.Close(); err != nil {
		return err
	}
	e.placed = 0
	return e.open()
}
