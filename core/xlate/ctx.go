package xlate

import (
	"fmt"

	"jitsim/core"
	"jitsim/core/kabi"
)

// Context accesses (convert_ctx_accesses) and legacy packet loads
// (do_misc_fixups' gen_ld_abs), for programs whose r1 is the kernel's
// context (core.Program.KernelCtx: clang-built objects).
//
// A program reads struct __sk_buff or struct xdp_md, the uapi views; the
// kernel hands it a struct sk_buff or struct xdp_buff and the verifier
// rewrites every access through the context pointer into accesses of the
// real object: one load at another offset and size (skb->len), a chain of
// loads (skb->dev->ifindex), a load and a mask (pkt_type), data and
// data_end becoming 64-bit pointers. Which accesses go through the context
// pointer is the verifier's PTR_TO_CTX tracking; here a small forward
// analysis follows the pointer through register moves, 8-byte stack spills
// and bpf-to-bpf call arguments. An access whose base may be the context
// on one path and something else on another is refused, as the verifier
// refuses one instruction used with two pointer types.
//
// LD_ABS and LD_IND become the kernel's call sequence (bpf_gen_ld_abs):
//
//	r2 = imm (LD_IND: r2 = src; r2 += imm)
//	r1 = r6
//	call bpf_skb_load_helper_{8,16,32}_no_cache
//	if r0 s>= 0 goto +2
//	w0 ^= w0
//	exit
//
// so an out-of-range load returns 0 from the function it is in (from the
// program in the entry function, as ___bpf_prog_run's LD_ABS does).
//
// The rewrites insert slots; jumps, calls and function references keep
// their targets and every new slot keeps the position of the slot it
// replaces, as bpf_patch_insn_data does. Fields that are valid for the
// program type but that jitsim does not model are an error naming the
// field, wrapping core.ErrUnsupported; invalid accesses are an error with
// the verifier's reason.

// cval is what a register or stack slot may hold on the paths reaching a
// point, as a set.
type cval uint8

const (
	cCtx   cval = 1 << iota // the context pointer itself (PTR_TO_CTX, off 0)
	cMoved                  // the context pointer plus something
	cOther                  // anything else
)

const ctxStackSlots = kabi.MaxBPFStack / 8

// cstate is the state at one point: registers and the 8-byte stack slots
// of the current frame (slot k is r10-8*(k+1)).
type cstate struct {
	regs  [16]cval
	slots [ctxStackSlots]cval
}

func (s *cstate) join(o *cstate) bool {
	changed := false
	for i := range s.regs {
		if v := s.regs[i] | o.regs[i]; v != s.regs[i] {
			s.regs[i], changed = v, true
		}
	}
	for i := range s.slots {
		if v := s.slots[i] | o.slots[i]; v != s.slots[i] {
			s.slots[i], changed = v, true
		}
	}
	return changed
}

// store records a store of size bytes at r10+off holding v (v only
// survives as a whole 8-byte slot).
func (s *cstate) store(off int16, size int, v cval) {
	lo, hi := int(off), int(off)+size
	if lo%8 != 0 || size != 8 {
		v = cOther
	}
	for k := range s.slots {
		top := -8 * k
		if lo < top && hi > top-8 {
			s.slots[k] = v
		}
	}
}

func (s *cstate) clobber() {
	for r := core.R0; r <= core.R5; r++ {
		s.regs[r] = cOther
	}
}

func freshState() cstate {
	var s cstate
	for i := range s.regs {
		s.regs[i] = cOther
	}
	for i := range s.slots {
		s.slots[i] = cOther
	}
	return s
}

// ctxFlow is one program's context pointer analysis.
type ctxFlow struct {
	insns   []core.Insn
	second  []bool
	blockAt []int32
	starts  []int
	in      []cstate
	queued  []bool
	work    []int
	// base[i] is what the base register of the memory access at slot i
	// (r6 for LD_ABS/LD_IND) may hold; absent: never reached.
	base map[int]cval
}

func (f *ctxFlow) run(leaders, second []bool, callbacks []int) {
	n := len(f.insns)
	f.second = second
	f.blockAt = make([]int32, n+1)
	for i := range f.blockAt {
		f.blockAt[i] = -1
	}
	for i := range n {
		if leaders[i] {
			f.blockAt[i] = int32(len(f.starts))
			f.starts = append(f.starts, i)
		}
	}
	f.in = make([]cstate, len(f.starts))
	f.queued = make([]bool, len(f.starts))
	f.base = make(map[int]cval)
	entry := freshState()
	entry.regs[core.R1] = cCtx
	f.merge(0, &entry)
	for _, c := range callbacks {
		s := freshState()
		f.merge(c, &s)
	}
	for len(f.work) > 0 {
		b := f.work[len(f.work)-1]
		f.work = f.work[:len(f.work)-1]
		f.queued[b] = false
		f.block(b)
	}
}

func (f *ctxFlow) merge(slot int, s *cstate) {
	if slot < 0 || slot >= len(f.insns) {
		return
	}
	b := f.blockAt[slot]
	if b < 0 {
		return
	}
	if f.in[b].join(s) && !f.queued[b] {
		f.queued[b] = true
		f.work = append(f.work, int(b))
	}
}

func (f *ctxFlow) note(i int, v cval) { f.base[i] |= v }

func (f *ctxFlow) block(b int) {
	s := f.in[b]
	n := len(f.insns)
	for i := f.starts[b]; i < n; i++ {
		if i > f.starts[b] && f.blockAt[i] >= 0 {
			f.merge(i, &s)
			return
		}
		ins := f.insns[i]
		dst, src := ins.Dst&15, ins.Src&15
		switch ins.Class() {
		case core.ALU, core.ALU64:
			s.regs[dst] = ctxALU(ins, s.regs[dst], s.regs[src])
		case core.LD:
			if ins.IsLdImm64() {
				s.regs[dst] = cOther
				i++
				continue
			}
			f.note(i, s.regs[core.R6])
			s.clobber()
		case core.LDX:
			f.note(i, s.regs[src])
			v := cOther
			if src == core.R10 && ins.Mode() == core.MEM && ins.Size() == core.DW && ins.Off < 0 && ins.Off%8 == 0 && int(-ins.Off) <= kabi.MaxBPFStack {
				v = s.slots[-int(ins.Off)/8-1]
			}
			s.regs[dst] = v
		case core.ST:
			f.note(i, s.regs[dst])
			if dst == core.R10 {
				s.store(ins.Off, core.SizeBytes(ins.Size()), cOther)
			}
		case core.STX:
			f.note(i, s.regs[dst])
			if ins.IsAtomic() {
				if dst == core.R10 {
					s.store(ins.Off, core.SizeBytes(ins.Size()), cOther)
				}
				switch {
				case ins.Imm == core.AtomicCmpXchg:
					s.regs[core.R0] = cOther
				case ins.Imm&core.Fetch != 0:
					s.regs[src] = cOther
				}
				continue
			}
			if dst == core.R10 {
				s.store(ins.Off, core.SizeBytes(ins.Size()), s.regs[src])
			}
		case core.JMP, core.JMP32:
			switch {
			case ins.IsExit():
				return
			case ins.IsPseudoCall():
				callee := freshState()
				copy(callee.regs[core.R1:core.R6], s.regs[core.R1:core.R6])
				f.merge(ins.CallTarget(i), &callee)
				s.clobber()
			case ins.OpCode() == core.Call || ins.OpCode() == core.TailCall:
				s.clobber()
			case ins.IsJump():
				f.merge(ins.JumpTarget(i), &s)
				if ins.OpCode() == core.JA {
					return
				}
				f.merge(i+1, &s)
				return
			}
		}
	}
}

// ctxALU: a 64-bit move carries the pointer; arithmetic on it moves it
// (the verifier then refuses a dereference); adding it to a scalar too.
func ctxALU(ins core.Insn, d, s cval) cval {
	if ins.Class() != core.ALU64 {
		return cOther
	}
	op := ins.OpCode()
	switch {
	case op == core.Mov && ins.Source() == core.X && ins.Off == 0:
		return s
	case op == core.Mov:
		return cOther
	case (op == core.Add || op == core.Sub) && ins.Source() == core.K && ins.Imm == 0:
		return d
	}
	ptr := d | s
	if ins.Source() == core.K {
		ptr = d
	}
	if ptr&(cCtx|cMoved) != 0 {
		return cMoved | d&cOther
	}
	return cOther
}

// ctxKind is the context a program type gets.
type ctxKind uint8

const (
	ctxNone ctxKind = iota
	ctxSkb
	ctxXdp
)

func ctxKindOf(t core.ProgType) ctxKind {
	switch t {
	case core.ProgTypeSocketFilter, core.ProgTypeSchedCLS, core.ProgTypeSchedAct:
		return ctxSkb
	case core.ProgTypeXDP:
		return ctxXdp
	}
	return ctxNone
}

// kernelCtx rewrites p's context accesses and legacy packet loads.
func (x *xlator) kernelCtx(p *core.Program, leaders []bool, callbacks []int) (*core.Program, error) {
	p.KernelCtx = false // what follows addresses the simulated objects directly
	kind := ctxKindOf(p.Type)
	if kind == ctxNone || len(p.Insns) == 0 {
		return p, nil
	}
	f := &ctxFlow{insns: p.Insns}
	f.run(leaders, x.second, callbacks)
	repl := make(map[int][]core.Insn)
	for i, v := range f.base {
		ins := p.Insns[i]
		if ins.Class() == core.LD {
			seq, err := x.ldAbs(i, ins, v)
			if err != nil {
				return nil, err
			}
			repl[i] = seq
			continue
		}
		if v&(cCtx|cMoved) == 0 {
			continue
		}
		reg := ins.Src
		if ins.Class() != core.LDX {
			reg = ins.Dst
		}
		switch {
		case v&cOther != 0:
			return nil, x.ctxErrorf(i, "%s is the context on some paths and other memory on others (the verifier refuses an instruction used with two pointer types)", reg)
		case v != cCtx:
			return nil, x.ctxErrorf(i, "dereference of modified ctx ptr %s off=%d: the verifier allows context accesses at constant offsets from the context pointer only", reg, ins.Off)
		}
		seq, err := x.ctxAccess(i, ins, kind)
		if err != nil {
			return nil, err
		}
		repl[i] = seq
	}
	if len(repl) == 0 {
		return p, nil
	}
	return x.patch(p, repl)
}

// ctxErrorf is an error at slot i that quotes the C line when the object
// has line info.
func (x *xlator) ctxErrorf(i int, format string, args ...any) error {
	e := x.p.Errorf(i, "xlate", format, args...)
	if src := x.p.PosOf(i).Source; src != "" {
		e.Err = fmt.Errorf("%w; C: %s", e.Err, src)
	}
	return e
}

func (x *xlator) ldAbs(i int, ins core.Insn, r6 cval) ([]core.Insn, error) {
	name := "LD_ABS"
	if ins.Mode() == core.IND {
		name = "LD_IND"
	}
	if ctxKindOf(x.p.Type) != ctxSkb {
		return nil, x.ctxErrorf(i, "%s needs a socket filter or tc program (an sk_buff), not %s", name, ctxTypeName(x.p.Type))
	}
	if r6 != cCtx {
		return nil, x.ctxErrorf(i, "%s reads the context from r6, which may not hold it here (check_ld_abs: at the time of BPF_LD_ABS|IND R6=ctx is required)", name)
	}
	if x.obj.Helpers != core.HelpersKernel {
		return nil, x.ctxErrorf(i, "%s is rewritten into a kernel helper call, but the object uses the %s helper set", name, x.obj.Helpers)
	}
	var fn int32
	switch ins.Size() {
	case core.B:
		fn = kabi.FnSkbLoadHelper8
	case core.H:
		fn = kabi.FnSkbLoadHelper16
	case core.W:
		fn = kabi.FnSkbLoadHelper32
	default:
		return nil, x.ctxErrorf(i, "%s of 8 bytes does not exist (op %#02x)", name, ins.Op)
	}
	var seq []core.Insn
	if ins.Mode() == core.ABS {
		seq = append(seq, core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: core.R2, Imm: ins.Imm})
	} else {
		seq = append(seq, core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: core.R2, Src: ins.Src})
		if ins.Imm != 0 {
			seq = append(seq, core.Insn{Op: core.ALU64 | core.Add | core.K, Dst: core.R2, Imm: ins.Imm})
		}
	}
	return append(seq,
		core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: core.R1, Src: core.R6},
		core.Insn{Op: core.JMP | core.Call, Imm: fn},
		core.Insn{Op: core.JMP | core.JSGE | core.K, Dst: core.R0, Off: 2},
		core.Insn{Op: core.ALU | core.Xor | core.X, Dst: core.R0, Src: core.R0},
		core.Insn{Op: core.JMP | core.Exit},
	), nil
}

// ctxField names a range of a uapi context struct for messages.
type ctxField struct {
	name      string
	off, size int
}

var skbMdFields = []ctxField{
	{"len", kabi.SkbMdLen, 4}, {"pkt_type", kabi.SkbMdPktType, 4}, {"mark", kabi.SkbMdMark, 4},
	{"queue_mapping", kabi.SkbMdQueueMapping, 4}, {"protocol", kabi.SkbMdProtocol, 4},
	{"vlan_present", kabi.SkbMdVlanPresent, 4}, {"vlan_tci", kabi.SkbMdVlanTCI, 4},
	{"vlan_proto", kabi.SkbMdVlanProto, 4}, {"priority", kabi.SkbMdPriority, 4},
	{"ingress_ifindex", kabi.SkbMdIngressIfindex, 4}, {"ifindex", kabi.SkbMdIfindex, 4},
	{"tc_index", kabi.SkbMdTCIndex, 4}, {"cb[0]", kabi.SkbMdCb, 4}, {"cb[1]", kabi.SkbMdCb + 4, 4},
	{"cb[2]", kabi.SkbMdCb + 8, 4}, {"cb[3]", kabi.SkbMdCb + 12, 4}, {"cb[4]", kabi.SkbMdCb + 16, 4},
	{"hash", kabi.SkbMdHash, 4}, {"tc_classid", kabi.SkbMdTCClassid, 4}, {"data", kabi.SkbMdData, 4},
	{"data_end", kabi.SkbMdDataEnd, 4}, {"napi_id", kabi.SkbMdNapiID, 4}, {"family", kabi.SkbMdFamily, 4},
	{"remote_ip4", 92, 4}, {"local_ip4", 96, 4}, {"remote_ip6", 100, 16}, {"local_ip6", 116, 16},
	{"remote_port", 132, 4}, {"local_port", 136, 4}, {"data_meta", kabi.SkbMdDataMeta, 4},
	{"flow_keys", kabi.SkbMdFlowKeys, 8}, {"tstamp", kabi.SkbMdTstamp, 8}, {"wire_len", kabi.SkbMdWireLen, 4},
	{"gso_segs", kabi.SkbMdGsoSegs, 4}, {"sk", kabi.SkbMdSk, 8}, {"gso_size", kabi.SkbMdGsoSize, 4},
	{"tstamp_type", kabi.SkbMdTstampType, 1}, {"hwtstamp", kabi.SkbMdHwtstamp, 8},
}

var xdpMdFields = []ctxField{
	{"data", kabi.XdpMdData, 4}, {"data_end", kabi.XdpMdDataEnd, 4}, {"data_meta", kabi.XdpMdDataMeta, 4},
	{"ingress_ifindex", kabi.XdpMdIngressIfindex, 4}, {"rx_queue_index", kabi.XdpMdRxQueueIndex, 4},
	{"egress_ifindex", kabi.XdpMdEgressIfindex, 4},
}

func fieldName(fields []ctxField, off int) string {
	for _, f := range fields {
		if off >= f.off && off < f.off+f.size {
			return f.name
		}
	}
	return "padding"
}

// access is one memory instruction through the context pointer.
type access struct {
	ins   core.Insn
	write bool
	size  int
	off   int
}

func (a access) verb() string {
	if a.write {
		return "write"
	}
	return "read"
}

// ctxAccess converts the context access at slot i.
func (x *xlator) ctxAccess(i int, ins core.Insn, kind ctxKind) ([]core.Insn, error) {
	a := access{ins: ins, write: ins.Class() != core.LDX, size: core.SizeBytes(ins.Size()), off: int(ins.Off)}
	mode := ins.Mode()
	switch {
	case ins.IsAtomic():
		return nil, x.ctxErrorf(i, "atomic operation on the context: the verifier refuses BPF_ATOMIC stores into ctx")
	case mode != core.MEM && mode != core.MEMSX:
		return nil, x.ctxErrorf(i, "context access with mode %#02x", mode)
	}
	if kind == ctxXdp {
		return x.xdpAccess(i, a)
	}
	return x.skbAccess(i, a)
}

func (x *xlator) invalid(i int, a access, structName string, fields []ctxField, why string) error {
	return x.ctxErrorf(i, "invalid bpf_context access off=%d size=%d: %d-byte %s of %s.%s in a %s program (%s)",
		a.off, a.size, a.size, a.verb(), structName, fieldName(fields, a.off), ctxTypeName(x.p.Type), why)
}

func (x *xlator) unmodelled(i int, a access, structName string, fields []ctxField) error {
	return x.ctxErrorf(i, "%s.%s (offset %d, %d-byte %s) is not modelled by jitsim's context: %w",
		structName, fieldName(fields, a.off), a.off, a.size, a.verb(), core.ErrUnsupported)
}

// The instruction builders the conversions use.
func ldx(size uint8, dst, src core.Reg, off int) core.Insn {
	return core.Insn{Op: core.LDX | core.MEM | size, Dst: dst, Src: src, Off: int16(off)}
}

// emitStore is BPF_EMIT_STORE: the program's store (ST or STX) at another
// offset and size.
func emitStore(ins core.Insn, size uint8, off int) core.Insn {
	return core.Insn{Op: ins.Class() | core.MEM | size, Dst: ins.Dst, Src: ins.Src, Off: int16(off), Imm: ins.Imm}
}

func alu32Imm(op uint8, dst core.Reg, imm int32) core.Insn {
	return core.Insn{Op: core.ALU | op | core.K, Dst: dst, Imm: imm}
}

// skbAccess is tc_cls_act_is_valid_access / sk_filter_is_valid_access
// with bpf_skb_is_valid_access, then bpf_convert_ctx_access (and
// tc_cls_act_convert_ctx_access's ifindex) with convert_ctx_accesses'
// narrow load handling.
func (x *xlator) skbAccess(i int, a access) ([]core.Insn, error) {
	const st = "__sk_buff"
	tc := x.p.Type == core.ProgTypeSchedCLS || x.p.Type == core.ProgTypeSchedAct
	off, size := a.off, a.size
	bad := func(why string) error { return x.invalid(i, a, st, skbMdFields, why) }
	inRange := func(lo, n int) bool { return off >= lo && off < lo+n }
	if off < 0 || off >= kabi.SkbMdSize {
		return nil, bad("outside the struct")
	}
	if off%size != 0 {
		return nil, bad("misaligned")
	}
	// The program type's own rules first.
	switch {
	case inRange(kabi.SkbMdFamily, kabi.SkbMdLocalPortEnd-kabi.SkbMdFamily):
		return nil, bad("socket fields are for sk_skb and cgroup programs")
	case !tc && (inRange(kabi.SkbMdTCClassid, 4) || inRange(kabi.SkbMdData, 4) || inRange(kabi.SkbMdDataMeta, 4) ||
		inRange(kabi.SkbMdDataEnd, 4) || inRange(kabi.SkbMdTstamp, 8) || inRange(kabi.SkbMdWireLen, 4) || inRange(kabi.SkbMdHwtstamp, 8)):
		return nil, bad("socket filters cannot see it")
	}
	cb := inRange(kabi.SkbMdCb, 20)
	if a.write && !cb {
		writable := tc && (inRange(kabi.SkbMdMark, 4) || inRange(kabi.SkbMdTCIndex, 4) || inRange(kabi.SkbMdPriority, 4) ||
			inRange(kabi.SkbMdTCClassid, 4) || inRange(kabi.SkbMdTstamp, 8) || inRange(kabi.SkbMdQueueMapping, 4))
		if !writable {
			return nil, bad("read-only")
		}
	}
	// bpf_skb_is_valid_access.
	narrowOK := false
	switch {
	case cb:
		if off+size > kabi.SkbMdCb+20 {
			return nil, bad("past cb[4]")
		}
	case inRange(kabi.SkbMdData, 4) || inRange(kabi.SkbMdDataMeta, 4) || inRange(kabi.SkbMdDataEnd, 4):
		if size != 4 {
			return nil, bad("packet pointers are read as 32-bit fields")
		}
	case inRange(kabi.SkbMdFlowKeys, 8):
		return nil, bad("flow_keys is for flow dissector programs")
	case inRange(kabi.SkbMdHwtstamp, 8), inRange(kabi.SkbMdSk, 8):
		if a.write || size != 8 {
			return nil, bad("a read-only 64-bit field")
		}
		return nil, x.unmodelled(i, a, st, skbMdFields)
	case inRange(kabi.SkbMdTstamp, 8):
		if size != 8 {
			return nil, bad("a 64-bit field")
		}
		return nil, x.unmodelled(i, a, st, skbMdFields)
	case off >= kabi.SkbMdTstampType && off < kabi.SkbMdHwtstamp:
		if off > kabi.SkbMdTstampType {
			return nil, bad("padding")
		}
		return nil, x.unmodelled(i, a, st, skbMdFields)
	default:
		if a.write && size != 4 {
			return nil, bad("fields are written whole")
		}
		if !a.write && size > 4 {
			return nil, bad("a 32-bit field")
		}
		narrowOK = true
	}

	dst, src := a.ins.Dst, a.ins.Src
	var seq []core.Insn
	target := 0
	field := off
	if narrowOK && !a.write && size < 4 {
		field = off &^ 3 // convert the whole field, then shift and mask
	}
	load := func(sz uint8, skbOff int) {
		seq = append(seq, ldx(sz, dst, src, skbOff))
		target = core.SizeBytes(sz)
	}
	rw := func(sz uint8, skbOff int) {
		if a.write {
			seq = append(seq, emitStore(a.ins, sz, skbOff))
			target = core.SizeBytes(sz)
			return
		}
		load(sz, skbOff)
	}
	switch {
	case cb:
		// qdisc_skb_cb's data, accessed at the program's own size.
		o := kabi.SkbCb + kabi.QdiscCbData + off - kabi.SkbMdCb
		if a.write {
			seq = append(seq, emitStore(a.ins, a.ins.Size(), o))
		} else {
			seq = append(seq, ldx(a.ins.Size(), dst, src, o))
		}
		narrowOK = false
	case field == kabi.SkbMdLen:
		load(core.W, kabi.SkbLen)
	case field == kabi.SkbMdPktType:
		seq = append(seq, ldx(core.B, dst, src, kabi.SkbPktType), alu32Imm(core.And, dst, kabi.PktTypeMax))
		target = 1
	case field == kabi.SkbMdMark:
		rw(core.W, kabi.SkbMark)
	case field == kabi.SkbMdQueueMapping:
		if !a.write {
			load(core.H, kabi.SkbQueueMapping)
			break
		}
		// A write of NO_QUEUE_MAPPING or more is dropped.
		if a.ins.Class() == core.ST && a.ins.Imm >= kabi.NoQueueMapping {
			seq = append(seq, core.Insn{Op: core.JMP | core.JA})
			break
		}
		if a.ins.Class() == core.STX {
			seq = append(seq, core.Insn{Op: core.JMP | core.JGE | core.K, Dst: a.ins.Src, Off: 1, Imm: kabi.NoQueueMapping})
		}
		seq = append(seq, emitStore(a.ins, core.H, kabi.SkbQueueMapping))
	case field == kabi.SkbMdProtocol:
		load(core.H, kabi.SkbProtocol)
	case field == kabi.SkbMdVlanPresent:
		seq = append(seq, ldx(core.W, dst, src, kabi.SkbVlanAll),
			core.Insn{Op: core.JMP | core.JEQ | core.K, Dst: dst, Off: 1},
			core.Insn{Op: core.ALU | core.Mov | core.K, Dst: dst, Imm: 1})
		target = 4
	case field == kabi.SkbMdVlanTCI:
		load(core.H, kabi.SkbVlanTCI)
	case field == kabi.SkbMdVlanProto:
		load(core.H, kabi.SkbVlanProto)
	case field == kabi.SkbMdPriority:
		rw(core.W, kabi.SkbPriority)
	case field == kabi.SkbMdIngressIfindex:
		load(core.W, kabi.SkbIif)
	case field == kabi.SkbMdIfindex:
		// skb->dev->ifindex; socket filters check dev for NULL, tc
		// programs always have a device.
		seq = append(seq, ldx(core.DW, dst, src, kabi.SkbDev))
		if !tc {
			seq = append(seq, core.Insn{Op: core.JMP | core.JEQ | core.K, Dst: dst, Off: 1})
		}
		seq = append(seq, ldx(core.W, dst, dst, kabi.NetDevIfindex))
		target = 4
	case field == kabi.SkbMdTCIndex:
		rw(core.H, kabi.SkbTCIndex)
	case field == kabi.SkbMdHash:
		load(core.W, kabi.SkbHash)
	case field == kabi.SkbMdTCClassid:
		rw(core.H, kabi.SkbCb+kabi.QdiscCbTCClassid)
	case field == kabi.SkbMdData:
		load(core.DW, kabi.SkbData)
	case field == kabi.SkbMdDataMeta:
		load(core.DW, kabi.SkbCb+kabi.SkbCbDataMeta)
	case field == kabi.SkbMdDataEnd:
		load(core.DW, kabi.SkbCb+kabi.SkbCbDataEnd)
	default:
		return nil, x.unmodelled(i, a, st, skbMdFields)
	}
	return x.finishLoad(a, seq, narrowOK, target), nil
}

// finishLoad adds convert_ctx_accesses' shift and mask for a narrow read
// of a wider field and the sign extension of a MEMSX read.
func (x *xlator) finishLoad(a access, seq []core.Insn, narrow bool, target int) []core.Insn {
	if a.write {
		return seq
	}
	dst := a.ins.Dst
	if narrow && a.size < target {
		if shift := (a.off & 3) * 8; shift != 0 { // little-endian bpf_ctx_narrow_access_offset
			seq = append(seq, alu32Imm(core.Rsh, dst, int32(shift)))
		}
		seq = append(seq, alu32Imm(core.And, dst, int32(uint32(1)<<(a.size*8)-1)))
	}
	if a.ins.Mode() == core.MEMSX {
		seq = append(seq, core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: dst, Src: dst, Off: int16(a.size * 8)})
	}
	return seq
}

// xdpAccess is xdp_is_valid_access then xdp_convert_ctx_access.
func (x *xlator) xdpAccess(i int, a access) ([]core.Insn, error) {
	const st = "xdp_md"
	bad := func(why string) error { return x.invalid(i, a, st, xdpMdFields, why) }
	switch {
	case a.off == kabi.XdpMdEgressIfindex:
		return nil, bad("egress_ifindex is for programs attached to a devmap")
	case a.write:
		return nil, bad("read-only")
	case a.off < 0 || a.off >= kabi.XdpMdSize:
		return nil, bad("outside the struct")
	case a.off%a.size != 0:
		return nil, bad("misaligned")
	case a.size != 4:
		return nil, bad("fields are read as 32-bit words")
	}
	dst, src := a.ins.Dst, a.ins.Src
	var seq []core.Insn
	switch a.off {
	case kabi.XdpMdData:
		seq = []core.Insn{ldx(core.DW, dst, src, kabi.XdpBuffData)}
	case kabi.XdpMdDataEnd:
		seq = []core.Insn{ldx(core.DW, dst, src, kabi.XdpBuffDataEnd)}
	case kabi.XdpMdDataMeta:
		seq = []core.Insn{ldx(core.DW, dst, src, kabi.XdpBuffDataMeta)}
	case kabi.XdpMdIngressIfindex:
		seq = []core.Insn{ldx(core.DW, dst, src, kabi.XdpBuffRxq), ldx(core.DW, dst, dst, kabi.XdpRxqDev), ldx(core.W, dst, dst, kabi.NetDevIfindex)}
	case kabi.XdpMdRxQueueIndex:
		seq = []core.Insn{ldx(core.DW, dst, src, kabi.XdpBuffRxq), ldx(core.W, dst, dst, kabi.XdpRxqQueueIndex)}
	}
	return x.finishLoad(a, seq, false, 4), nil
}

// patch replaces slots of p: repl[i] takes slot i's place. Jumps, calls
// and function references keep their targets (a jump to a replaced slot
// lands on its first new slot), positions, symbols and function bounds
// follow, as bpf_patch_insn_data and adjust_subprog_starts do.
func (x *xlator) patch(p *core.Program, repl map[int][]core.Insn) (*core.Program, error) {
	n := len(p.Insns)
	at := make([]int, n+1)
	size := 0
	for i := range n {
		at[i] = size
		if r, ok := repl[i]; ok {
			size += len(r)
		} else {
			size++
		}
	}
	at[n] = size
	if size > core.MaxInsnSlots {
		return nil, x.errorf(0, "the rewritten program has %d instructions, more than the limit of %d", size, core.MaxInsnSlots)
	}
	out := make([]core.Insn, 0, size)
	var pos []core.SlotPos
	if p.SlotPos != nil {
		pos = make([]core.SlotPos, 0, size)
	}
	target := func(t int) (int, bool) {
		if t < 0 || t > n {
			return 0, false
		}
		return at[t], true
	}
	for i := 0; i < n; i++ {
		ins := p.Insns[i]
		if r, ok := repl[i]; ok {
			out = append(out, r...)
		} else {
			switch {
			case x.second[i]:
			case ins.IsLdImm64() && ins.Src == core.PseudoFunc:
				if t, ok := target(i + 1 + int(ins.Imm)); ok {
					ins.Imm = int32(t - at[i] - 1)
				}
			case ins.IsPseudoCall():
				if t, ok := target(ins.CallTarget(i)); ok {
					ins.Imm = int32(t - at[i] - 1)
				}
			case ins.IsJump():
				if t, ok := target(ins.JumpTarget(i)); ok {
					rel := t - at[i] - 1
					if ins.Op == core.JMP32|core.JA {
						ins.Imm = int32(rel)
					} else if rel != int(int16(rel)) {
						return nil, x.errorf(i, "the jump at slot %d needs offset %d after the context rewrites, more than 16 bits hold", i, rel)
					} else {
						ins.Off = int16(rel)
					}
				}
			}
			out = append(out, ins)
		}
		if pos != nil {
			ps := core.SlotPos{Origin: -1}
			if i < len(p.SlotPos) {
				ps = p.SlotPos[i]
			}
			for range at[i+1] - at[i] {
				pos = append(pos, ps)
			}
		}
	}
	q := *p
	q.Insns, q.SlotPos = out, pos
	q.Symbols = make([]core.Symbol, len(p.Symbols))
	for k, s := range p.Symbols {
		if s.Insn >= 0 && s.Insn <= n {
			s.Insn = at[s.Insn]
		}
		q.Symbols[k] = s
	}
	if p.Funcs != nil {
		q.Funcs = make([]core.Func, len(p.Funcs))
		for k, fn := range p.Funcs {
			if fn.Start >= 0 && fn.Start <= n {
				fn.Start = at[fn.Start]
			}
			if fn.End >= 0 && fn.End <= n {
				fn.End = at[fn.End]
			}
			q.Funcs[k] = fn
		}
	}
	return &q, nil
}

func ctxTypeName(t core.ProgType) string {
	switch t {
	case core.ProgTypeSocketFilter:
		return "socket_filter"
	case core.ProgTypeSchedCLS:
		return "sched_cls"
	case core.ProgTypeSchedAct:
		return "sched_act"
	case core.ProgTypeXDP:
		return "xdp"
	}
	return fmt.Sprintf("type %d", t)
}
