//go:build linux && amd64

package x86

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"jitsim/core"
	bpfasm "jitsim/core/asm"
	"jitsim/core/jit"
	"jitsim/core/kabi"
)

// native runs JIT output on the host CPU (amd64 hosts only): a check of
// the code's semantics that needs no simulator, with expected values from
// the conformance files and the kernel's tail call rules. Code, stack and
// data live in mmap'ed memory; helper calls land on small stubs at the end
// of the code region, HelperAddr(id) = stubs + 64*id.
type native struct {
	code, stack, data []byte
	next              int // next free byte of code
	stubs             uint64
}

const (
	nativeCode  = 4 << 20
	nativeStubs = nativeCode - 4096
	stubStride  = 64
)

func newNative(t *testing.T) *native {
	t.Helper()
	mmap := func(n int) []byte {
		b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			t.Fatalf("mmap: %v", err)
		}
		t.Cleanup(func() { syscall.Munmap(b) })
		return b
	}
	n := &native{code: mmap(nativeCode), stack: mmap(1 << 20), data: mmap(1 << 20)}
	n.stubs = addr(n.code) + nativeStubs
	for k := range n.code[nativeStubs:] {
		n.code[nativeStubs+k] = 0xCC
	}
	a := newAsm()
	stub := func(id int) {
		copy(n.code[nativeStubs+id*stubStride:], a.bytes())
		a.reset()
	}
	// 2: no_op() = 0
	a.xorRegReg32(rax, rax)
	a.ret()
	stub(2)
	// 5: unwind(x) = x; x == 0 ends the program with r0 = 0: back to
	// callNative's return address, below its two pushes.
	a.testRegReg(true, rdi, rdi)
	a.jccRel8(je, 4)
	a.movRegReg(rax, rdi)
	a.ret()
	a.movabs(rsp, n.stackTop()-24)
	a.xorRegReg32(rax, rax)
	a.ret()
	stub(5)
	return n
}

func addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

func (n *native) stackTop() uint64 { return addr(n.stack) + uint64(len(n.stack)) - 64 }

func (n *native) helperAddr(id int32) uint64 {
	if id < 0 || id >= 4096/stubStride {
		return n.stubs + 4096 // out of the stub page: a fault, not a wrong helper
	}
	return n.stubs + stubStride*uint64(id)
}

// load compiles p at the next free place of the code region and copies
// it there; fix may patch the image (poke sites) before it is copied.
func (n *native) load(t *testing.T, b Backend, p *core.Program, opts jit.Options, fix func(*jit.Image)) *jit.Image {
	t.Helper()
	opts.Base = addr(n.code) + uint64(n.next)
	opts.HelperAddr = n.helperAddr
	img, err := b.Compile(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if fix != nil {
		fix(img)
	}
	if n.next+len(img.Code) > nativeStubs {
		t.Fatal("native code region full")
	}
	n.protect(t, syscall.PROT_READ|syscall.PROT_WRITE)
	copy(n.code[n.next:], img.Code)
	n.next = (n.next + len(img.Code) + 15) &^ 15
	return img
}

func (n *native) protect(t *testing.T, prot int) {
	if err := syscall.Mprotect(n.code, prot); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
}

// run calls the image's main function with r1, r2.
func (n *native) run(t *testing.T, img *jit.Image, r1, r2 uint64) uint64 {
	n.protect(t, syscall.PROT_READ|syscall.PROT_EXEC)
	return callNative(uintptr(img.Base), uintptr(r1), uintptr(r2), uintptr(n.stackTop()))
}

// dataCase is one .data file: what the native run needs.
type dataCase struct {
	asm, mem []byte
	result   uint64
	skip     string
}

func parseData(t *testing.T, file string) dataCase {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c dataCase
	secs := map[string]*bytes.Buffer{}
	var cur *bytes.Buffer
	for line := range strings.SplitSeq(string(src), "\n") {
		if name, ok := strings.CutPrefix(line, "-- "); ok {
			cur = new(bytes.Buffer)
			secs[strings.TrimSpace(name)] = cur
			continue
		}
		if cur != nil {
			cur.WriteString(line + "\n")
		}
	}
	switch {
	case secs["error"] != nil:
		c.skip = "must be rejected: the verifier's job, not the JIT's"
	case secs["budget"] != nil:
		c.skip = "about the instruction budget, which native code does not have"
	case secs["asm"] == nil || secs["result"] == nil:
		c.skip = "no asm or no result"
	}
	if c.skip != "" {
		return c
	}
	c.asm = secs["asm"].Bytes()
	if m := secs["mem"]; m != nil {
		var hexs strings.Builder
		for f := range strings.FieldsSeq(m.String()) {
			hexs.WriteString(f)
		}
		if c.mem, err = hex.DecodeString(hexs.String()); err != nil {
			t.Fatalf("%s: mem: %v", file, err)
		}
	}
	res := strings.TrimSpace(strings.Split(secs["result"].String(), "#")[0])
	if c.result, err = strconv.ParseUint(strings.TrimPrefix(res, "0x"), 16, 64); err != nil {
		t.Fatalf("%s: result %q: %v", file, res, err)
	}
	return c
}

// withFuncs splits a program at its pseudo call targets, as analysis
// would, with the largest stack every function may use.
func withFuncs(p *core.Program) *core.Program {
	starts := []int{0}
	for k, ins := range p.Insns {
		if ins.IsPseudoCall() {
			starts = append(starts, ins.CallTarget(k))
		}
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	for k, s := range starts {
		end := len(p.Insns)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		p.Funcs = append(p.Funcs, core.Func{Name: fmt.Sprintf("f%d", k), Start: s, End: end, StackDepth: kabi.MaxBPFStack})
	}
	return p
}

// TestNativeConformance runs the conformance suite (and our own cases) as
// native code in every JIT configuration and compares r0 with the files.
func TestNativeConformance(t *testing.T) {
	var files []string
	for _, dir := range []string{"../../../shared/bpf_conformance/tests", "../../conformance/testdata"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.data"))
		if err != nil || len(m) == 0 {
			t.Fatalf("no .data files in %s (%v)", dir, err)
		}
		files = append(files, m...)
	}
	n := newNative(t)
	ran := 0
	for _, file := range files {
		c := parseData(t, file)
		name := strings.TrimSuffix(filepath.Base(file), ".data")
		if c.skip != "" {
			t.Logf("%s: not run natively: %s", name, c.skip)
			continue
		}
		obj, err := bpfasm.ParseOpts(c.asm, bpfasm.Options{File: file, Helpers: core.HelpersConformance})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		p := withFuncs(obj.Progs[0])
		for _, cfg := range nativeConfigs {
			t.Run(name+"/"+cfg.name, func(t *testing.T) {
				if n.next > nativeStubs/2 {
					n.next = 0 // reuse the region: images run one at a time
				}
				img := n.load(t, cfg.b, p, cfg.opts, nil)
				var r1 uint64
				copy(n.data, c.mem)
				if len(c.mem) > 0 {
					r1 = addr(n.data)
				}
				if got := n.run(t, img, r1, uint64(len(c.mem))); got != c.result {
					t.Errorf("r0 = %#x, want %#x", got, c.result)
				}
				ran++
			})
		}
	}
	if ran < 300*len(nativeConfigs) {
		t.Errorf("only %d native runs", ran)
	}
}

var nativeConfigs = []struct {
	name string
	b    Backend
	opts jit.Options
}{
	{"fixed", Backend{}, jit.Options{Scheme: core.Fixed}},
	{"legacy", Backend{}, jit.Options{Scheme: core.Legacy}},
	{"fixed-ibt", Backend{}, jit.Options{Scheme: core.Fixed, IBT: true}},
	{"legacy-ibt-bmi2", Backend{BMI2: true}, jit.Options{Scheme: core.Legacy, IBT: true}},
	{"fixed-bmi2", Backend{BMI2: true}, jit.Options{Scheme: core.Fixed}},
}

// progArray lays out a struct bpf_array with max_entries slots in data at
// off, and returns its address and a function to fill a slot with a
// struct bpf_prog whose bpf_func is the image's main function.
func progArray(n *native, off, maxEntries int) (uint64, func(slot int, img *jit.Image)) {
	arr := n.data[off:]
	binary.LittleEndian.PutUint32(arr[kabi.ArrayMaxEntriesOff:], uint32(maxEntries))
	progs := off + kabi.ArrayPtrsOff + 8*maxEntries
	return addr(arr), func(slot int, img *jit.Image) {
		obj := n.data[progs+slot*kabi.ProgObjSize:]
		binary.LittleEndian.PutUint64(obj[kabi.ProgBpfFuncOff:], img.Base)
		binary.LittleEndian.PutUint64(arr[kabi.ArrayPtrsOff+8*slot:], addr(obj))
	}
}

// tailCallCase assembles src with its functions' tail_call_reachable set
// and, when direct, turns its tail calls into direct ones on the constant
// slots given in keys (one per tail call, in order).
func tailCallProgram(t *testing.T, src string, direct bool, keys []uint32, fns ...fn) *core.Program {
	t.Helper()
	p := program(t, src, fns...)
	k := 0
	for s, ins := range p.Insns {
		if ins.Op != core.JMP|core.TailCall {
			continue
		}
		if direct {
			p.TailCallPokes = append(p.TailCallPokes, core.TailCallPoke{Key: keys[k]})
			p.Insns[s].Imm = int32(len(p.TailCallPokes))
		}
		k++
	}
	if direct && k != len(keys) {
		t.Fatalf("%d tail calls, %d keys", k, len(keys))
	}
	return p
}

// patchPokes does bpf_tail_call_direct_fixup for the slots that hold a
// program: targets[key] is the target's image, nil for an empty slot.
func patchPokes(t *testing.T, targets map[uint32]*jit.Image) func(*jit.Image) {
	return func(img *jit.Image) {
		for _, p := range img.Pokes {
			tgt, ok := targets[p.Key]
			if !ok {
				continue
			}
			base := img.Base // a program tail-calling itself
			if tgt != nil {
				base = tgt.Base
			}
			fixupDirect(t, img, p, base)
		}
	}
}

func u64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// A program counting its runs in ctx and tail-calling itself runs 1 + 33
// times (MAX_TAIL_CALL_CNT) in both schemes, indirect and direct.
func TestNativeSelfTailCall(t *testing.T) {
	for _, scheme := range []core.Scheme{core.Fixed, core.Legacy} {
		for _, direct := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/direct=%v", scheme, direct), func(t *testing.T) {
				n := newNative(t)
				arr, fill := progArray(n, 4096, 4)
				p := tailCallProgram(t, fmt.Sprintf(`
.prog self
	r6 = r1
	r0 = *(u64 *)(r6 +0)
	r0 += 1
	*(u64 *)(r6 +0) = r0
	r1 = r6
	r2 = %#x ll
	r3 = 0
	tail_call
	r0 = *(u64 *)(r6 +0)
	exit
`, arr), direct, []uint32{0}, fn{depth: 8, tcr: true})
				img := n.load(t, Backend{}, p, jit.Options{Scheme: scheme}, patchPokes(t, map[uint32]*jit.Image{0: nil}))
				fill(0, img)
				if r0 := n.run(t, img, addr(n.data), 0); r0 != 34 || u64(n.data) != 34 {
					t.Errorf("r0 = %d, count %d; want 34 runs", r0, u64(n.data))
				}
			})
		}
	}
}

// The seed's demo of the tailcall hierarchy bug: entry calls sub0 and sub1,
// which tail-call slots 0 and 1, whose programs count and tail-call their
// own slot. Fixed: one count for the whole run, so slot 1 never runs
// (33, 0). Legacy: each subprogram starts from a copy of entry's count
// (33, 33).
func TestNativeTailCallHierarchy(t *testing.T) {
	for _, tc := range []struct {
		scheme         core.Scheme
		count0, count1 uint64
	}{{core.Fixed, 33, 0}, {core.Legacy, 33, 33}} {
		for _, direct := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/direct=%v", tc.scheme, direct), func(t *testing.T) {
				n := newNative(t)
				arr, fill := progArray(n, 4096, 2)
				opts := jit.Options{Scheme: tc.scheme, IBT: direct}
				var progs [2]*jit.Image
				for k := range progs {
					p := tailCallProgram(t, fmt.Sprintf(`
.prog p%d
	r6 = r1
	r0 = *(u64 *)(r6 +%d)
	r0 += 1
	*(u64 *)(r6 +%d) = r0
	r1 = r6
	r2 = %#x ll
	r3 = %d
	tail_call
	r0 = 0
	exit
`, k, 8*k, 8*k, arr, k), direct, []uint32{uint32(k)}, fn{tcr: true})
					progs[k] = n.load(t, Backend{}, p, opts, patchPokes(t, map[uint32]*jit.Image{uint32(k): nil}))
					fill(k, progs[k])
				}
				entry := tailCallProgram(t, fmt.Sprintf(`
.prog entry
	r6 = r1
	r1 = r6
	call sub0
	r1 = r6
	call sub1
	r0 = 7
	exit
.func sub0
	r2 = %#x ll
	r3 = 0
	tail_call
	r0 = 0
	exit
.func sub1
	r2 = %#x ll
	r3 = 1
	tail_call
	r0 = 0
	exit
`, arr, arr), direct, []uint32{0, 1}, fn{tcr: true}, fn{tcr: true}, fn{tcr: true})
				img := n.load(t, Backend{}, entry, opts, patchPokes(t, map[uint32]*jit.Image{0: progs[0], 1: progs[1]}))
				r0 := n.run(t, img, addr(n.data), 0)
				if r0 != 7 || u64(n.data) != tc.count0 || u64(n.data[8:]) != tc.count1 {
					t.Errorf("r0 %d, counts (%d, %d); want 7, (%d, %d)", r0, u64(n.data), u64(n.data[8:]), tc.count0, tc.count1)
				}
			})
		}
	}
}

// The kernel selftest tailcall_hierarchy_1 (fixed scheme only: under the
// legacy scheme it doubles at every level and does not end): entry counts
// and calls a subprogram twice that tail-calls entry. One run: retval 1,
// count 34.
func TestNativeHierarchy1Fixed(t *testing.T) {
	for _, direct := range []bool{false, true} {
		n := newNative(t)
		arr, fill := progArray(n, 4096, 1)
		p := tailCallProgram(t, fmt.Sprintf(`
.prog entry
	r6 = r1
	r0 = *(u64 *)(r6 +0)
	r0 += 1
	*(u64 *)(r6 +0) = r0
	r1 = r6
	call sub
	r1 = r6
	call sub
	r0 = 1
	exit
.func sub
	r2 = %#x ll
	r3 = 0
	tail_call
	r0 = 0
	exit
`, arr), direct, []uint32{0}, fn{tcr: true}, fn{tcr: true})
		img := n.load(t, Backend{}, p, jit.Options{Scheme: core.Fixed}, patchPokes(t, map[uint32]*jit.Image{0: nil}))
		fill(0, img)
		if r0 := n.run(t, img, addr(n.data), 0); r0 != 1 || u64(n.data) != 34 {
			t.Errorf("direct=%v: r0 %d, count %d; want 1, 34", direct, r0, u64(n.data))
		}
	}
}

// A tail call to an empty slot costs a count under legacy (the increment
// comes before the NULL check) but not under fixed (6.11 moved it after):
// a program that first tries empty slot 1, then itself in slot 0, runs 34
// times fixed and 17 times legacy. An index past max_entries never counts.
func TestNativeEmptySlot(t *testing.T) {
	for _, tc := range []struct {
		scheme core.Scheme
		runs   uint64
	}{{core.Fixed, 34}, {core.Legacy, 17}} {
		for _, direct := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/direct=%v", tc.scheme, direct), func(t *testing.T) {
				n := newNative(t)
				arr, fill := progArray(n, 4096, 2)
				p := tailCallProgram(t, fmt.Sprintf(`
.prog self
	r6 = r1
	r0 = *(u64 *)(r6 +0)
	r0 += 1
	*(u64 *)(r6 +0) = r0
	r1 = r6
	r2 = %#x ll
	r3 = 5
	tail_call
	r1 = r6
	r2 = %#x ll
	r3 = 1
	tail_call
	r1 = r6
	r2 = %#x ll
	r3 = 0
	tail_call
	r0 = *(u64 *)(r6 +0)
	exit
`, arr, arr, arr), false, nil, fn{tcr: true})
				if direct {
					// Slot 5 is out of range: the verifier poisons the key
					// and keeps that call indirect.
					p.TailCallPokes = []core.TailCallPoke{{Key: 1}, {Key: 0}}
					p.Insns[13].Imm, p.Insns[18].Imm = 1, 2
				}
				img := n.load(t, Backend{}, p, jit.Options{Scheme: tc.scheme}, patchPokes(t, map[uint32]*jit.Image{0: nil}))
				fill(0, img)
				if r0 := n.run(t, img, addr(n.data), 0); r0 != tc.runs || u64(n.data) != tc.runs {
					t.Errorf("r0 %d, count %d; want %d runs", r0, u64(n.data), tc.runs)
				}
			})
		}
	}
}
