package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"jitsim/arch/arm64"
	"jitsim/arch/x86"
	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/jit"
	"jitsim/core/maps"
	"jitsim/sim"
)

// jitFlags are the flags that pick a JIT engine and its build: shared by
// "dump -stage jited" and "frames".
type jitFlags struct {
	arch, tcc          string
	ibt, lse, bti, pac bool
}

// jitFlagNames are the flags only a JIT listing reads.
var jitFlagNames = []string{"arch", "tcc", "ibt", "lse", "bti", "pac"}

func (f *jitFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.arch, "arch", "x86_64", "JIT: x86_64 or arm64")
	fs.StringVar(&f.tcc, "tcc", "fixed", "tail call count scheme: fixed (Linux >= 6.11) or legacy")
	fs.BoolVar(&f.ibt, "ibt", false, "x86_64: endbr64 as a CONFIG_X86_KERNEL_IBT kernel emits it")
	fs.BoolVar(&f.lse, "lse", true, "arm64: LSE atomics (false: LL/SC loops on an ARMv8.0 CPU)")
	fs.BoolVar(&f.bti, "bti", false, "arm64: bti hints (CONFIG_ARM64_BTI_KERNEL)")
	fs.BoolVar(&f.pac, "pac", false, "arm64: paciasp/autiasp (CONFIG_ARM64_PTR_AUTH_KERNEL)")
}

// jitConfig is a JIT engine and build, checked.
type jitConfig struct {
	arch   string
	scheme core.Scheme
	opts   sim.Options
}

// config checks the flags; set names the flags given on the command line.
func (f *jitFlags) config(set map[string]bool) (jitConfig, error) {
	scheme, ok := core.ParseScheme(f.tcc)
	if !ok {
		return jitConfig{}, usageError{fmt.Sprintf("-tcc %q: want fixed or legacy", f.tcc)}
	}
	c := jitConfig{arch: f.arch, scheme: scheme}
	switch f.arch {
	case "x86_64":
		for _, n := range []string{"lse", "bti", "pac"} {
			if set[n] {
				return c, usageError{fmt.Sprintf("-%s is an arm64 option", n)}
			}
		}
		c.opts = sim.Options{IBT: f.ibt}
	case "arm64":
		if set["ibt"] {
			return c, usageError{"-ibt is an x86_64 option"}
		}
		c.opts = sim.Options{LSE: f.lse, BTI: f.bti, PAC: f.pac}
	default:
		return c, usageError{fmt.Sprintf("-arch %q: want x86_64 or arm64", f.arch)}
	}
	return c, nil
}

// String names the build as a listing's header does: "x86_64, tcc fixed, ibt".
func (c jitConfig) String() string {
	s := c.arch + ", tcc " + c.scheme.String()
	for _, o := range []struct {
		on   bool
		name string
	}{{c.opts.IBT, "ibt"}, {c.opts.BTI, "bti"}, {c.opts.PAC, "pac"}, {c.arch == "arm64" && c.opts.LSE, "lse"}, {c.arch == "arm64" && !c.opts.LSE, "ll/sc"}} {
		if o.on {
			s += ", " + o.name
		}
	}
	return s
}

// jitObject returns, on a fresh engine, the images a run of each listed
// program would execute. A fresh engine per program places each at the
// code region's base, as its own first run would; an object with a prog
// array JITs every program at once, in one code region, as a run does.
func jitObject(cfg jitConfig, obj *core.Object, progs []int) ([]sim.JITed, *sim.Engine, error) {
	tail := false
	for _, m := range obj.Maps {
		tail = tail || m.Type == core.MapProgArray
	}
	var out []sim.JITed
	var last *sim.Engine
	for k, p := range progs {
		if tail && k > 0 {
			break
		}
		if last != nil {
			last.Close()
		}
		e, err := sim.New(cfg.arch, cfg.opts)
		if err != nil {
			return nil, nil, err
		}
		last = e
		js, err := e.JIT(obj, p, cfg.scheme)
		if err != nil {
			e.Close()
			return nil, nil, inputError{err}
		}
		if !tail {
			out = append(out, js...)
			continue
		}
		for _, j := range js {
			for _, q := range progs {
				if j.Index == q {
					out = append(out, j)
				}
			}
		}
	}
	return out, last, nil
}

// dumpJited prints the JITed image of the loaded program (one) or of
// every program, as "bpftool prog dump jited linum" does: per function its
// name and its code from offset 0, each BPF instruction as the xlated
// listing shows it above the machine code that implements it, the C
// source line above that where the object has line info.
func dumpJited(w io.Writer, l *loaded, one bool, cfg jitConfig, opcodes bool) error {
	progs := []int{l.prog}
	if !one {
		progs = progs[:0]
		for i := range l.obj.Progs {
			progs = append(progs, i)
		}
	}
	js, e, err := jitObject(cfg, l.obj, progs)
	if err != nil {
		return err
	}
	defer e.Close()
	lay := e.Layout()
	bw := bufio.NewWriter(w)
	for k, j := range js {
		if k > 0 {
			bw.WriteByte('\n')
		}
		if err := writeJited(bw, l.obj, lay, e, j, cfg, opcodes); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// nline is one machine instruction of a function.
type nline struct {
	off  int // from the function's start
	raw  []byte
	text string
}

// nativeLines disassembles function f of img with offsets and in-function
// branch targets counted from the function's start, as bpftool prints
// each function.
func nativeLines(arch string, img *jit.Image, f jit.Func) []nline {
	var out []nline
	if arch == "arm64" {
		for off := f.Start; off+4 <= f.End && off+4 <= len(img.Code); off += 4 {
			w := binary.LittleEndian.Uint32(img.Code[off:])
			out = append(out, nline{off - f.Start, img.Code[off : off+4], arm64.Disasm(w, off-f.Start)})
		}
		return out
	}
	sub := &jit.Image{Arch: img.Arch, Code: img.Code[f.Start:f.End], Base: img.Base + uint64(f.Start),
		Funcs: []jit.Func{{Name: f.Name, Start: 0, End: f.End - f.Start, BodyStart: f.BodyStart - f.Start}}}
	for _, l := range x86.Dump(sub) {
		out = append(out, nline{l.Off, l.Bytes, l.Text})
	}
	return out
}

// slotLines splits the xlated listing of p into what each slot prints: its
// C source line when that changes, and its pseudo-C line with the slot
// number (and the tail call note).
func slotLines(obj *core.Object, lay *maps.Layout, p *core.Program) (map[int][]string, error) {
	var buf bytes.Buffer
	if err := writeNoted(&buf, obj, lay, p, false, false); err != nil {
		return nil, err
	}
	out := map[int][]string{}
	var pending []string
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "; ") {
			pending = append(pending, line)
			continue
		}
		head, _, ok := strings.Cut(line, ": (")
		i, err := strconv.Atoi(strings.TrimSpace(head))
		if !ok || err != nil {
			continue // a function label: the listing prints its own
		}
		out[i] = append(pending, line)
		pending = nil
	}
	return out, nil
}

// writeJited lists one JITed program.
func writeJited(w *bufio.Writer, obj *core.Object, lay *maps.Layout, e *sim.Engine, j sim.JITed, cfg jitConfig, opcodes bool) error {
	img, p := j.Image, j.Prog
	bpf, err := slotLines(obj, lay, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# %s: %s; %d bytes at %#x, tail calls enter at +%#x\n", p.Name, cfg, len(img.Code), img.Base, img.TailCallOffset)
	notes := siteNotes(obj, img)
	for fi, f := range img.Funcs {
		bf := p.Funcs[fi]
		fmt.Fprintf(w, "%s:\n", f.Name)
		next := bf.Start // the first slot not printed yet
		slot := -1
		for _, nl := range nativeLines(cfg.arch, img, f) {
			abs := f.Start + nl.off
			if abs >= f.BodyStart {
				for slot < bf.End-1 && (slot < bf.Start || img.InsnOffsets[slot+1] <= abs) {
					slot++
				}
				for ; next <= slot; next++ {
					for _, s := range bpf[next] {
						w.WriteString(s)
						w.WriteByte('\n')
					}
				}
			}
			fmt.Fprintf(w, "\t%4x:\t%s", nl.off, nl.text)
			if n := notes[abs]; n != "" {
				fmt.Fprintf(w, "\t# %s", n)
			} else if n := callNote(e, obj, img, f, nl.text); n != "" {
				fmt.Fprintf(w, "\t# %s", n)
			}
			w.WriteByte('\n')
			if opcodes {
				fmt.Fprintf(w, "\t\t% x\n", nl.raw)
			}
		}
		for ; next < bf.End; next++ {
			for _, s := range bpf[next] {
				w.WriteString(s)
				w.WriteByte('\n')
			}
		}
	}
	return nil
}

// siteNotes marks, by image offset, where tail calls land and the direct
// tail call sites the prog array slots patch.
func siteNotes(obj *core.Object, img *jit.Image) map[int]string {
	notes := map[int]string{}
	if len(img.Funcs) > 0 {
		notes[img.Funcs[0].Start+img.TailCallOffset] = "tail calls enter here"
	}
	for _, pk := range img.Pokes {
		slot := fmt.Sprintf("slot %d", pk.Key)
		if pk.Map >= 0 && pk.Map < len(obj.Maps) {
			slot = fmt.Sprintf("%s[%d]", obj.Maps[pk.Map].Name, pk.Key)
		}
		notes[pk.BypassSite] = "bypass of the direct tail call to " + slot + " (a jmp while the slot is empty)"
		notes[pk.TailCallSite] = "direct tail call to " + slot + " (a jmp to its program once filled)"
	}
	return notes
}

// callNote names the target of a call: a function of the image or a
// helper's trap stub.
func callNote(e *sim.Engine, obj *core.Object, img *jit.Image, f jit.Func, text string) string {
	mn, arg, ok := strings.Cut(text, " ")
	if !ok || (mn != "callq" && mn != "call" && mn != "bl") {
		return ""
	}
	neg := strings.HasPrefix(arg, "-")
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "0x"), 16, 64)
	if err != nil {
		return ""
	}
	addr := v
	if mn == "bl" { // arm64 targets print from the function's start
		addr = img.Base + uint64(f.Start) + v
		if neg {
			addr = img.Base + uint64(f.Start) - v
		}
	}
	for _, g := range img.Funcs {
		if addr == img.Base+uint64(g.Start) {
			return g.Name
		}
	}
	if id, ok := e.HelperAt(addr); ok {
		name, _ := helper.Describe(obj.Helpers, id)
		return name
	}
	return ""
}
