package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"jitsim/core"
	"jitsim/core/interp"
	"jitsim/core/kabi"
	"jitsim/core/mem"
	"jitsim/sim"
)

// runFrames draws the stack frames of one moment of a run, as the seed
// story's diagrams do: each frame (the entry program, a subprogram, a tail
// callee reusing a frame) with its frame record, return address, tail
// call count or tcc_ptr, saved registers and BPF stack, read from the
// simulated machine stopped at that moment.
func runFrames(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("frames")
	var jf jitFlags
	jf.add(fs)
	fs.Lookup("arch").Usage = "engine: x86_64, arm64, or interp (its logical frames, from its tail call trace)"
	at := fs.String("at", "", "moment: PROG:INSN[:HIT] stops before BPF instruction INSN of PROG the HIT-th time (default: where the deepest tail call lands, after the target's prologue)")
	memHex := fs.String("mem", "", "context memory as hex bytes (default: the file's, or none)")
	budget := fs.Uint64("budget", core.DefaultBudget, "instruction budget")
	helpers := fs.String("helpers", "kernel", "helper ids of raw and asm files: kernel or conformance")
	progName := fs.String("prog", "", "entry program (default: the first)")
	all := fs.Bool("all", false, "draw every frame (default: the outer three and the inner two when there are more)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Sprintf("want exactly one FILE, got %d", fs.NArg())}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var cfg jitConfig
	if jf.arch == "interp" {
		for _, n := range []string{"ibt", "lse", "bti", "pac"} {
			if set[n] {
				return usageError{fmt.Sprintf("-%s is a JIT option", n)}
			}
		}
		if *at != "" {
			return usageError{"-at needs a JIT: the interpreter's frames are drawn from its tail call trace"}
		}
		scheme, ok := core.ParseScheme(jf.tcc)
		if !ok {
			return usageError{fmt.Sprintf("-tcc %q: want fixed or legacy", jf.tcc)}
		}
		cfg = jitConfig{arch: "interp", scheme: scheme}
	} else {
		var err error
		if cfg, err = jf.config(set); err != nil {
			return err
		}
	}
	hs, err := parseHelperSet(*helpers)
	if err != nil {
		return err
	}
	l, err := loadFile(fs.Arg(0), hs, *progName)
	if err != nil {
		return err
	}
	in := l.input
	if *memHex != "" {
		b, err := hex.DecodeString(strings.Join(strings.Fields(*memHex), ""))
		if err != nil {
			return usageError{fmt.Sprintf("-mem: %v", err)}
		}
		in = core.Input{Ctx: b}
	}
	opts := core.RunOptions{Scheme: cfg.scheme, Budget: *budget}
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	if cfg.arch == "interp" {
		return interpFrames(bw, l, in, opts, *all)
	}
	e, err := sim.New(cfg.arch, cfg.opts)
	if err != nil {
		return err
	}
	defer e.Close()
	stop, moment, err := chooseStop(e, l, in, opts, *at)
	if err != nil {
		return err
	}
	snap, err := e.RunTo(l.obj, l.prog, in, opts, stop)
	if err != nil {
		return fmt.Errorf("%s: %w", moment, err)
	}
	fmt.Fprintf(bw, "# %s: %s\n", cfg, moment)
	drawFrames(bw, snap, cfg, *all)
	return nil
}

// chooseStop turns -at, or the default moment, into a native address and
// hit count. The default is the last of the deepest tail calls: a first
// run finds it in the trace, and the stop is the first instruction of the
// program it entered, once its prologue has rebuilt the frame's slots.
func chooseStop(e *sim.Engine, l *loaded, in core.Input, opts core.RunOptions, at string) (sim.Stop, string, error) {
	js, err := e.JIT(l.obj, l.prog, opts.Scheme)
	if err != nil {
		return sim.Stop{}, "", inputError{err}
	}
	image := func(name string) (*sim.JITed, error) {
		for k := range js {
			if js[k].Prog.Name == name {
				return &js[k], nil
			}
		}
		return nil, fmt.Errorf("program %s is not in this run's images (only programs of an object with a prog array, and the entry program, are JITed)", name)
	}
	if at != "" {
		parts := strings.Split(at, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return sim.Stop{}, "", usageError{fmt.Sprintf("-at %q: want PROG:INSN or PROG:INSN:HIT", at)}
		}
		insn, err1 := strconv.Atoi(parts[1])
		hit := 1
		var err2 error
		if len(parts) == 3 {
			hit, err2 = strconv.Atoi(parts[2])
		}
		if err1 != nil || err2 != nil || insn < 0 || hit < 1 {
			return sim.Stop{}, "", usageError{fmt.Sprintf("-at %q: INSN must be a slot number and HIT a count from 1", at)}
		}
		j, err := image(parts[0])
		if err != nil {
			return sim.Stop{}, "", inputError{err}
		}
		p := j.Prog
		if insn >= len(p.Insns) || (insn > 0 && p.Insns[insn-1].IsLdImm64()) {
			return sim.Stop{}, "", inputError{fmt.Errorf("-at %s: %s has no instruction %d (%d slots; an ld_imm64's second slot is not one)", at, p.Name, insn, len(p.Insns))}
		}
		addr := j.Image.Base + uint64(j.Image.InsnOffsets[insn])
		return sim.Stop{Addr: addr, Hit: hit}, fmt.Sprintf("before %s insn %d (%#x), hit %d", p.Name, insn, addr, hit), nil
	}
	res, err := e.Run(l.obj, l.prog, in, opts)
	if err != nil {
		return sim.Stop{}, "", fmt.Errorf("looking for the deepest tail call: %w", err)
	}
	if len(res.TailCalls) == 0 {
		return sim.Stop{}, "", fmt.Errorf("the run made no tail call (r0 = %#x): pick a moment with -at PROG:INSN", res.R0)
	}
	k := 0
	for i, ev := range res.TailCalls {
		if ev.Depth >= res.TailCalls[k].Depth {
			k = i
		}
	}
	ev := res.TailCalls[k]
	j, err := image(ev.To)
	if err != nil {
		return sim.Stop{}, "", err
	}
	addr := j.Image.Base + uint64(j.Image.Funcs[0].BodyStart)
	moment := fmt.Sprintf("at %s insn 0 (%#x), after tail call %d of %d: %s -> %s, slot %d, depth %d, count %d -> %d",
		ev.To, addr, k+1, len(res.TailCalls), ev.From, ev.To, ev.Slot, ev.Depth, ev.CountBefore, ev.CountAfter)
	return sim.Stop{Addr: addr, Hit: 1, AfterTailCalls: k + 1}, moment, nil
}

// codeLoc is a code address in the run's images.
type codeLoc struct {
	j    *sim.JITed
	fn   int // function index
	slot int // BPF slot whose code holds it (-1: prologue)
}

func (c codeLoc) String() string {
	f := c.j.Image.Funcs[c.fn]
	return f.Name
}

// locateCode finds the function and slot holding addr.
func locateCode(s *sim.Snapshot, addr uint64) (codeLoc, bool) {
	for k := range s.Images {
		j := &s.Images[k]
		img := j.Image
		if addr < img.Base || addr >= img.Base+uint64(len(img.Code)) {
			continue
		}
		off := int(addr - img.Base)
		for fi, f := range img.Funcs {
			if off < f.Start || off >= f.End {
				continue
			}
			slot := -1
			if off >= f.BodyStart {
				bf := j.Prog.Funcs[fi]
				for i := bf.Start; i < bf.End; i++ {
					if img.InsnOffsets[i] <= off {
						slot = i
					}
				}
			}
			return codeLoc{j, fi, slot}, true
		}
	}
	return codeLoc{}, false
}

// frameFunc is what shapes a frame: the function running in it, and the
// one whose prologue built its upper part (they differ once a tail call
// took the frame over).
type frameFunc struct {
	run     codeLoc
	creator codeLoc // the function the frame was called as
	fp      uint64
	// tailCalled: the running function is not the one called.
	tailCalled bool
}

// funcFacts are what the JIT decides per function from its instructions
// (detect_reg_usage, find_used_callee_regs, stack_depth): which of r6-r9
// and r10 it mentions, its stack, whether it is tail_call_reachable.
type funcFacts struct {
	main      bool
	used      [core.NumRegs]bool
	depth     int
	reachable bool
}

func factsOf(c codeLoc) funcFacts {
	p := c.j.Prog
	f := p.Funcs[c.fn]
	ff := funcFacts{main: c.fn == 0, depth: f.StackDepth, reachable: f.TailCallReachable}
	for i := f.Start; i < f.End; i++ {
		ins := p.Insns[i]
		if ins.Dst < core.NumRegs {
			ff.used[ins.Dst] = true
		}
		if ins.Src < core.NumRegs {
			ff.used[ins.Src] = true
		}
		if ins.Op == core.JMP|core.TailCall {
			ff.reachable = true
		}
		if ins.IsLdImm64() {
			i++
		}
	}
	for r := range 4 {
		if f.CalleeSaved[r] {
			ff.used[core.R6+core.Reg(r)] = true
		}
	}
	return ff
}

// walkFrames follows the frame records from the innermost frame to the
// entry program's and names the function running in each.
func walkFrames(s *sim.Snapshot) ([]frameFunc, error) {
	pcName, fpName := "rip", "rbp"
	if s.Arch == "arm64" {
		pcName, fpName = "pc", "x29"
	}
	here, ok := locateCode(s, s.Regs[pcName])
	if !ok {
		return nil, fmt.Errorf("the stop address %#x is in no image", s.Regs[pcName])
	}
	entryFP := s.StackTop
	if s.Arch == "arm64" {
		entryFP = s.EntrySP - 16
	}
	var frames []frameFunc // innermost first
	fp := s.Regs[fpName]
	for n := 0; ; n++ {
		if n > 4096 {
			return nil, fmt.Errorf("frame chain from %#x does not reach the entry frame %#x", s.Regs[fpName], entryFP)
		}
		frames = append(frames, frameFunc{run: here, fp: fp})
		if fp == entryFP {
			break
		}
		ret, ok1 := s.Load(fp+8, 8)
		up, ok2 := s.Load(fp, 8)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("frame record at %#x is outside the stack", fp)
		}
		caller, ok := locateCode(s, ret-1)
		if !ok {
			return nil, fmt.Errorf("return address %#x at %#x is in no image", ret, fp+8)
		}
		frames[len(frames)-1].creator = calledAt(caller, here)
		here, fp = caller, up
	}
	frames[len(frames)-1].creator = codeLoc{j: &s.Images[s.Entry], fn: 0, slot: -1}
	for k := range frames {
		f := &frames[k]
		f.tailCalled = f.creator.j != f.run.j || f.creator.fn != f.run.fn
	}
	// Outermost first, as the stack grows down the page.
	for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
		frames[i], frames[j] = frames[j], frames[i]
	}
	return frames, nil
}

// calledAt is the function the call at caller (a pseudo call's slot) enters;
// fallback when the slot is not one.
func calledAt(caller, fallback codeLoc) codeLoc {
	p := caller.j.Prog
	if caller.slot < 0 || !p.Insns[caller.slot].IsPseudoCall() {
		return fallback
	}
	target := caller.slot + 1 + int(p.Insns[caller.slot].Imm)
	for fi, f := range p.Funcs {
		if f.Start == target {
			return codeLoc{j: caller.j, fn: fi, slot: -1}
		}
	}
	return fallback
}

// slotsOf labels the slots of frame i (frames are outermost first) by the
// kernel's frame layout for the arch and scheme: x86-64 emit_prologue and
// push_callee_regs (Linux 5.17-6.10 and 6.11+), arm64 build_prologue
// (before and after 66ff4d61dc12 and the used-registers rework).
func slotsOf(s *sim.Snapshot, scheme core.Scheme, frames []frameFunc, i int) map[uint64]string {
	f := frames[i]
	fp := f.fp
	at := func(a uint64, base string) string {
		d := int64(a - fp)
		if d == 0 {
			return "[" + base + "]"
		}
		return fmt.Sprintf("[%s%+d]", base, d)
	}
	lab := map[uint64]string{}
	set := func(a uint64, base, what string) { lab[a] = what + "  " + at(a, base) }
	ff := factsOf(f.run)
	retWhat := "return address: the kernel (the run's stop address)"
	savedWhat := "(the kernel's)"
	if i > 0 {
		retWhat = "return address: " + describeRet(s, fp+8)
		savedWhat = "-> frame " + strconv.Itoa(i-1)
	}
	// BPF stack words, named as the program names them: r10-8 ...
	bpfStack := func(r10 uint64, size int, base string) {
		for a := r10 - uint64(size); a < r10; a += 8 {
			set(a, base, fmt.Sprintf("BPF stack r10%+d", int64(a-r10)))
		}
	}
	if s.Arch == "x86_64" {
		set(fp+8, "rbp", retWhat)
		set(fp, "rbp", "saved rbp "+savedWhat)
		rsd := (ff.depth + 7) &^ 7
		bpfStack(fp, rsd, "rbp")
		next := fp - uint64(rsd)
		if ff.reachable {
			if scheme == core.Fixed {
				v, _ := s.Load(next-8, 8)
				switch {
				case !ff.main:
					set(next-8, "rbp", "tcc_ptr (a subprogram pushes rax twice)")
				case v <= kabi.MaxTailCallCnt:
					set(next-8, "rbp", fmt.Sprintf("tcc = %d", v))
				default:
					set(next-8, "rbp", "tcc_ptr (rax > 33 at entry: a tail call from a subprogram)")
				}
				set(next-16, "rbp", "tcc_ptr")
				next -= 16
			} else {
				v, _ := s.Load(next-4, 4)
				set(next-8, "rbp", fmt.Sprintf("tcc = %d (the dword at rbp%+d)", v, int64(next-4-fp)))
				next -= 8
			}
		}
		for k, name := range []string{"rbx", "r13", "r14", "r15"} {
			if ff.used[core.R6+core.Reg(k)] {
				set(next-8, "rbp", fmt.Sprintf("saved %s (r%d)", name, 6+k))
				next -= 8
			}
		}
		return lab
	}
	set(fp+8, "x29", "saved x30, "+retWhat)
	set(fp, "x29", "saved x29 "+savedWhat)
	if scheme == core.Legacy {
		for _, r := range []struct {
			off  uint64
			what string
		}{{8, "saved x20 (r7)"}, {16, "saved x19 (r6)"}, {24, "saved x22 (r9)"}, {32, "saved x21 (r8)"}, {48, "saved x25 (r10)"}, {56, "saved x28"}, {64, "saved x27 (FP_BOTTOM)"}} {
			set(fp-r.off, "x29", r.what)
		}
		cnt := "saved x26 (the kernel's)"
		if i > 0 {
			v, _ := s.Load(fp-40, 8)
			cnt = fmt.Sprintf("saved x26: tcc of frame %d = %d", i-1, v)
		}
		set(fp-40, "x29", cnt)
		bpfStack(fp-64, (ff.depth+15)&^15, "x29")
		return lab
	}
	if factsOf(f.creator).main {
		v, _ := s.Load(fp-16, 8)
		set(fp-16, "x29", fmt.Sprintf("tail_call_cnt = %d", v))
		set(fp-8, "x29", "saved x26 (the caller's)")
	} else {
		set(fp-16, "x29", "x26 = tcc_ptr (a subprogram pushes x26 twice)")
		set(fp-8, "x29", "x26 = tcc_ptr")
	}
	next := fp - 16
	var regs []string
	for k, name := range []string{"x19", "x20", "x21", "x22", "x25"} {
		if ff.used[core.R6+core.Reg(k)] || (k == 4 && ff.used[core.R10]) {
			r := core.R6 + core.Reg(k)
			if k == 4 {
				r = core.R10
			}
			regs = append(regs, fmt.Sprintf("saved %s (r%d)", name, r))
		}
	}
	for k := 0; k < len(regs); k += 2 {
		set(next-16, "x29", regs[k])
		if k+1 < len(regs) {
			set(next-8, "x29", regs[k+1])
		} else {
			set(next-8, "x29", "xzr (pads the odd register)")
		}
		next -= 16
	}
	if ff.used[core.R10] {
		bpfStack(next, (ff.depth+15)&^15, "x29")
	}
	return lab
}

// describeRet names the code a return address stored at slot returns to.
func describeRet(s *sim.Snapshot, slot uint64) string {
	ret, _ := s.Load(slot, 8)
	c, ok := locateCode(s, ret-1)
	if !ok {
		return fmt.Sprintf("%#x (no image)", ret)
	}
	f := c.j.Image.Funcs[c.fn]
	w := fmt.Sprintf("%s+%#x", f.Name, ret-c.j.Image.Base-uint64(f.Start))
	if c.slot >= 0 {
		p := c.j.Prog
		w += fmt.Sprintf(", after insn %d (%s)", c.slot, core.AppendInsn(nil, nil, p, c.slot, core.InsnFormat{Label: func(slot int, call bool) string {
			for _, g := range p.Funcs {
				if g.Start == slot {
					return g.Name
				}
			}
			return ""
		}}))
	}
	return w
}

// drawFrames draws the frames of a snapshot, outermost (the entry
// program's) at the top as the stack grows down, in the seed story's
// style: each frame's record, then its slots, the frame pointer marked.
func drawFrames(w *bufio.Writer, s *sim.Snapshot, cfg jitConfig, all bool) {
	frames, err := walkFrames(s)
	if err != nil {
		fmt.Fprintf(w, "# cannot walk the frames: %v\n", err)
		return
	}
	pc, sp, fpName := "rip", "rsp", "rbp"
	tccReg := "rax"
	if s.Arch == "arm64" {
		pc, sp, fpName, tccReg = "pc", "sp", "x29", "x26"
	}
	fmt.Fprintf(w, "# %s %#x  %s %#x  %s %#x  %s %#x  r10 %#x\n", pc, s.Regs[pc], sp, s.Regs[sp], fpName, s.Regs[fpName], tccReg, s.Regs[tccReg], s.BPF[core.R10])
	shown := make([]bool, len(frames))
	for i := range frames {
		shown[i] = all || len(frames) <= 6 || i < 3 || i >= len(frames)-2
	}
	// countAt finds the frame whose count slot an address is.
	countAt := map[uint64]int{}
	for i := range frames {
		for a, what := range slotsOf(s, cfg.scheme, frames, i) {
			if strings.HasPrefix(what, "tcc = ") || strings.HasPrefix(what, "tail_call_cnt = ") {
				countAt[a] = i
			}
		}
	}
	bar := "                    +--------------------+"
	fmt.Fprintln(w, bar)
	for i, f := range frames {
		lab := slotsOf(s, cfg.scheme, frames, i)
		top := f.fp + 8
		bottom := s.Regs[sp]
		if i+1 < len(frames) {
			bottom = frames[i+1].fp + 16
		}
		if !shown[i] {
			if i == 0 || shown[i-1] {
				n := 0
				for k := i; k < len(frames) && !shown[k]; k++ {
					n++
				}
				fmt.Fprintf(w, "        ...         |        ...         |  frames %d to %d: %d frames (-all draws them)\n", i, i+n-1, n)
				fmt.Fprintln(w, bar)
			}
			continue
		}
		first := true
		for a := top; a >= bottom && a <= top; a -= 8 {
			v, _ := s.Load(a, 8)
			what := lab[a]
			if what == "" {
				what = "?"
			}
			if strings.HasPrefix(what, "tcc_ptr") || strings.HasPrefix(what, "x26 = tcc_ptr") {
				if k, ok := countAt[v]; ok {
					what = strings.Replace(what, "tcc_ptr", fmt.Sprintf("tcc_ptr -> the count in frame %d", k), 1)
				}
			}
			fmt.Fprintf(w, "%18s  | %-18s |  %s\n", fmt.Sprintf("%#x", a), fmt.Sprintf("%#x", v), what)
			if a == f.fp && first {
				first = false
				title := fmt.Sprintf("frame %d: %s", i, f.run)
				if f.run.fn == 0 {
					title += " (main)"
				}
				if f.tailCalled {
					title += fmt.Sprintf(", by tail call into %s's frame", f.creator)
				}
				fmt.Fprintf(w, "%s <- %s %#x  %s\n", bar, fpName, f.fp, title)
			}
		}
	}
	fmt.Fprintf(w, "%s <- %s %#x\n", bar, sp, s.Regs[sp])
	if cfg.scheme == core.Fixed {
		var ptr uint64
		if s.Arch == "arm64" {
			ptr = s.Regs["x26"]
		} else if frames[0].run.j != nil {
			ptr = s.StackTop - uint64((factsOf(frames[0].run).depth+7)&^7) - 8
		}
		v, _ := s.Load(ptr, 8)
		fmt.Fprintf(w, "# the run's one count: %d at %#x\n", v, ptr)
	} else if s.Arch == "arm64" {
		fmt.Fprintf(w, "# x26 = %d: the count of frame %d, live in the register (each caller's is saved at [x29-40] of its callee)\n", s.Regs["x26"], len(frames)-1)
	}
}

// interpFrames draws the interpreter's logical frames at the deepest tail
// call, from its tail call trace: the interpreter keeps frames in Go, not
// on the guest stack, so what it shows is each frame's r10 (MAX_BPF_STACK
// apart below mem.StackTop), the program running in it, and the count it
// holds under the run's scheme.
func interpFrames(w *bufio.Writer, l *loaded, in core.Input, opts core.RunOptions, all bool) error {
	e := interp.New()
	defer e.Close()
	res, err := e.Run(l.obj, l.prog, in, opts)
	if err != nil {
		return fmt.Errorf("interp: %w", err)
	}
	evs := res.TailCalls
	if len(evs) == 0 {
		return fmt.Errorf("the run made no tail call (r0 = %#x): the interpreter's frames are drawn at its deepest tail call", res.R0)
	}
	k := 0
	for i, ev := range evs {
		if ev.Depth >= evs[k].Depth {
			k = i
		}
	}
	ev := evs[k]
	fmt.Fprintf(w, "# interp, tcc %s: after tail call %d of %d: %s -> %s, slot %d, depth %d, count %d -> %d\n",
		opts.Scheme, k+1, len(evs), ev.From, ev.To, ev.Slot, ev.Depth, ev.CountBefore, ev.CountAfter)
	fmt.Fprintln(w, "# logical frames, from the tail call trace (the interpreter keeps frames in Go)")
	// Frame d runs the program the last tail call made at depth d put
	// there, unless a shallower tail call came after it (frame d was
	// popped and made again since).
	type lframe struct {
		prog  string
		count int64 // -1: unknown from the trace
	}
	fr := make([]lframe, ev.Depth+1)
	for d := range fr {
		fr[d] = lframe{count: -1}
	}
	fr[0].prog = l.obj.Progs[l.prog].Name
	for d := ev.Depth; d >= 0; d-- {
		for j := k; j >= 0; j-- {
			if evs[j].Depth < d {
				break
			}
			if evs[j].Depth == d {
				fr[d] = lframe{evs[j].To, int64(evs[j].CountAfter)}
				break
			}
		}
	}
	if opts.Scheme == core.Legacy && fr[0].count < 0 {
		fr[0].count = 0 // no tail call in the entry frame: its own count is still 0
	}
	for d, f := range fr {
		if !all && len(fr) > 6 && d >= 3 && d < len(fr)-2 {
			if d == 3 {
				fmt.Fprintf(w, "  ... frames 3 to %d\n", len(fr)-3)
			}
			continue
		}
		name := f.prog
		if name == "" {
			name = "(a subprogram: no tail call made this frame)"
		}
		count := ""
		switch {
		case opts.Scheme == core.Fixed:
			count = fmt.Sprintf("shares the run's count (%d)", ev.CountAfter)
		case f.count >= 0:
			count = fmt.Sprintf("tcc = %d", f.count)
		default:
			count = "tcc copied from its caller"
		}
		fmt.Fprintf(w, "frame %d: r10 %#x  %s  %s\n", d, mem.StackTop-uint64(d)*kabi.MaxBPFStack, name, count)
	}
	return nil
}
