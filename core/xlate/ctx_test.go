package xlate_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
	"jitsim/core/load"
	"jitsim/core/xlate"
)

// kernelCtx parses one program of type typ whose r1 is the kernel's
// context, as a clang-built object's is.
func kernelCtx(t *testing.T, typ, body string) *core.Object {
	t.Helper()
	obj, err := asm.Parse("t.s", []byte(".helpers kernel\n.prog p "+typ+"\n"+body))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range obj.Progs {
		p.KernelCtx = true
	}
	return obj
}

// listing prints every slot of p (but the second halves of ld_imm64).
func listing(p *core.Program) []string {
	var out []string
	for i := 0; i < len(p.Insns); i++ {
		out = append(out, p.Disasm(i))
		if p.Insns[i].IsLdImm64() {
			i++
		}
	}
	return out
}

// TestCtxAccess: each context access becomes what convert_ctx_accesses
// makes of it, at core/kabi's sk_buff / xdp_buff offsets (len 0x70,
// pkt_type byte 0x80, queue_mapping 0x7c, vlan_all 0x9c, mark 0xa8,
// protocol 0xb4, data 0xd0, dev 0x10, cb 0x28; xdp_buff data 0, data_end
// 8, rxq 32; net_device ifindex 0xe0; rxq queue_index 8).
func TestCtxAccess(t *testing.T) {
	for _, tc := range []struct {
		name, typ, src string
		want           []string
	}{
		{"len: one load at sk_buff's offset", "tc", "r0 = *(u32 *)(r1 +0)",
			[]string{"r0 = *(u32 *)(r1 +112)"}},
		{"pkt_type: a byte and PKT_TYPE_MAX", "tc", "r0 = *(u32 *)(r1 +4)",
			[]string{"r0 = *(u8 *)(r1 +128)", "w0 &= 7"}},
		{"pkt_type read as a byte: the target is a byte, no mask", "tc", "r0 = *(u8 *)(r1 +4)",
			[]string{"r0 = *(u8 *)(r1 +128)", "w0 &= 7"}},
		{"protocol: a 16-bit field behind a 32-bit one", "socket", "r0 = *(u32 *)(r1 +16)",
			[]string{"r0 = *(u16 *)(r1 +180)"}},
		{"protocol, second byte: load the field, shift, mask", "socket", "r0 = *(u8 *)(r1 +17)",
			[]string{"r0 = *(u16 *)(r1 +180)", "w0 >>= 8", "w0 &= 255"}},
		// convert_ctx_accesses masks only when the read is narrower than
		// the converted load ("size < target_size"): 2 bytes of a field
		// loaded as 2 bytes get neither shift nor mask, so the kernel
		// returns the protocol itself for its upper half.
		{"protocol, upper half: as wide as the converted load, no shift", "tc", "r0 = *(u16 *)(r1 +18)",
			[]string{"r0 = *(u16 *)(r1 +180)"}},
		{"mark, one byte", "tc", "r0 = *(u8 *)(r1 +9)",
			[]string{"r0 = *(u32 *)(r1 +168)", "w0 >>= 8", "w0 &= 255"}},
		{"mark, sign-extending byte load: mask, then movsx", "tc", "r0 = *(s8 *)(r1 +8)",
			[]string{"r0 = *(u32 *)(r1 +168)", "w0 &= 255", "r0 = (s8)r0"}},
		{"mark written from a register", "tc", "*(u32 *)(r1 +8) = r2",
			[]string{"*(u32 *)(r1 +168) = r2"}},
		{"mark written from an immediate (BPF_ST, 6.4+)", "sched_act", "*(u32 *)(r1 +8) = 7",
			[]string{"*(u32 *)(r1 +168) = 7"}},
		{"cb[2], half written: qdisc_skb_cb data at its own size", "socket", "*(u16 *)(r1 +58) = r3",
			[]string{"*(u16 *)(r1 +58) = r3"}},
		{"cb[4] read", "tc", "r0 = *(u32 *)(r1 +64)",
			[]string{"r0 = *(u32 *)(r1 +64)"}},
		{"tc_classid: a u16 in qdisc_skb_cb", "tc", "r0 = *(u32 *)(r1 +72)",
			[]string{"r0 = *(u16 *)(r1 +46)"}},
		{"data: a 64-bit pointer", "tc", "r2 = *(u32 *)(r1 +76)",
			[]string{"r2 = *(u64 *)(r1 +208)"}},
		{"data_end: bpf_skb_data_end in cb", "tc", "r3 = *(u32 *)(r1 +80)",
			[]string{"r3 = *(u64 *)(r1 +80)"}},
		{"data_meta", "tc", "r3 = *(u32 *)(r1 +140)",
			[]string{"r3 = *(u64 *)(r1 +72)"}},
		{"ifindex, tc: skb->dev->ifindex", "tc", "r0 = *(u32 *)(r1 +40)",
			[]string{"r0 = *(u64 *)(r1 +16)", "r0 = *(u32 *)(r0 +224)"}},
		{"ifindex, socket filter: dev checked for NULL", "socket", "r1 = *(u32 *)(r1 +40)",
			[]string{"r1 = *(u64 *)(r1 +16)", "if r1 == 0x0 goto pc+1", "r1 = *(u32 *)(r1 +224)"}},
		{"vlan_present: vlan_all != 0", "tc", "r0 = *(u32 *)(r1 +20)",
			[]string{"r0 = *(u32 *)(r1 +156)", "if r0 == 0x0 goto pc+1", "w0 = 1"}},
		{"vlan_tci", "tc", "r0 = *(u32 *)(r1 +24)", []string{"r0 = *(u16 *)(r1 +158)"}},
		{"queue_mapping written from a register: NO_QUEUE_MAPPING dropped", "tc", "*(u32 *)(r1 +12) = r2",
			[]string{"if r2 >= 0xffff goto pc+1", "*(u16 *)(r1 +124) = r2"}},
		{"queue_mapping written with 65535: a no-op", "tc", "*(u32 *)(r1 +12) = 65535",
			[]string{"goto pc+0"}},
		{"xdp data", "xdp", "r2 = *(u32 *)(r1 +0)", []string{"r2 = *(u64 *)(r1 +0)"}},
		{"xdp data_end", "xdp", "r3 = *(u32 *)(r1 +4)", []string{"r3 = *(u64 *)(r1 +8)"}},
		{"xdp ingress_ifindex: rxq->dev->ifindex", "xdp", "r0 = *(u32 *)(r1 +12)",
			[]string{"r0 = *(u64 *)(r1 +32)", "r0 = *(u64 *)(r0 +0)", "r0 = *(u32 *)(r0 +224)"}},
		{"xdp rx_queue_index", "xdp", "r0 = *(u32 *)(r1 +16)",
			[]string{"r0 = *(u64 *)(r1 +32)", "r0 = *(u32 *)(r0 +8)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := kernelCtx(t, tc.typ, tc.src+"\nr0 = 0\nexit\n")
			x, err := xlate.Object(obj)
			if err != nil {
				t.Fatal(err)
			}
			got := listing(x.Progs[0])
			want := append(tc.want, "r0 = 0", "exit")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("xlated:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if x.Progs[0].KernelCtx {
				t.Fatal("xlated program still has KernelCtx: xlating it again would convert twice")
			}
		})
	}
}

// TestCtxTracking: the context pointer is followed through moves, stack
// spills and subprogram arguments; other memory is left alone.
func TestCtxTracking(t *testing.T) {
	obj := kernelCtx(t, "tc", `
	*(u64 *)(r10 -16) = r1       # spilled
	r7 = r1
	r2 = r10
	r0 = *(u32 *)(r2 -16)        # the stack, not the context
	r6 = *(u64 *)(r10 -16)
	r0 = *(u32 *)(r6 +8)         # mark, through the reloaded spill
	r0 = *(u32 *)(r7 +0)         # len, through a copy
	r1 = r7
	call sub
	exit
sub:
	r0 = *(u32 *)(r1 +16)        # protocol, in a subprogram
	exit
`)
	if err := analysis.Check(obj); err != nil {
		t.Fatal(err)
	}
	x, err := xlate.Object(obj)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"*(u64 *)(r10 -16) = r1", "r7 = r1", "r2 = r10", "r0 = *(u32 *)(r2 -16)",
		"r6 = *(u64 *)(r10 -16)", "r0 = *(u32 *)(r6 +168)", "r0 = *(u32 *)(r7 +112)",
		"r1 = r7", "call sub", "exit", "r0 = *(u16 *)(r1 +180)", "exit",
	}
	if got := listing(x.Progs[0]); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("xlated:\n%s", strings.Join(got, "\n"))
	}
}

// TestLdAbs: LD_ABS/LD_IND become bpf_gen_ld_abs's sequence; jumps over
// and into it, calls past it, function bounds and positions follow the
// inserted slots.
func TestLdAbs(t *testing.T) {
	obj := kernelCtx(t, "tc", `
	r6 = r1
	if r2 == 0 goto skip            # jumps over the load
	r0 = *(u16 *)skb[12]
skip:
	r0 = *(u32 *)skb[r7 + 4]        # a jump target itself
	r0 = *(u8 *)skb[r7 + 0]
	if r0 != 0 goto skip            # backwards, onto the rewritten load
	call sub
	exit
sub:
	r0 = 2
	exit
`)
	if err := analysis.Check(obj); err != nil {
		t.Fatal(err)
	}
	x, err := xlate.Object(obj)
	if err != nil {
		t.Fatal(err)
	}
	p := x.Progs[0]
	want := []string{
		"r6 = r1",
		"if r2 == 0x0 goto pc+6", // past the 6 slots of the first load
		"r2 = 12", "r1 = r6", "call bpf_skb_load_helper_16_no_cache#1001", "if r0 s>= 0x0 goto pc+2", "w0 ^= w0", "exit",
		"r2 = r7", "r2 += 4", "r1 = r6", "call bpf_skb_load_helper_32_no_cache#1002", "if r0 s>= 0x0 goto pc+2", "w0 ^= w0", "exit",
		"r2 = r7", "r1 = r6", "call bpf_skb_load_helper_8_no_cache#1000", "if r0 s>= 0x0 goto pc+2", "w0 ^= w0", "exit",
		"if r0 != 0x0 goto pc-14", // back to "r2 = r7" at slot 8
		"call sub", "exit", "r0 = 2", "exit",
	}
	if got := listing(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("xlated:\n%s", strings.Join(got, "\n"))
	}
	if p.Insns[22].CallTarget(22) != 24 || len(p.Funcs) != 2 || p.Funcs[1].Start != 24 || p.Funcs[0].End != 24 || p.Funcs[1].End != 26 {
		t.Fatalf("call target %d, funcs %+v: want the subprogram at 24", p.Insns[22].CallTarget(22), p.Funcs)
	}
	if len(p.SlotPos) != len(p.Insns) || p.PosOf(2).Line != 6 || p.PosOf(7).Line != 6 || p.PosOf(8).Line != 8 {
		t.Fatalf("positions %v: each new slot keeps the line of the slot it replaces", p.SlotPos)
	}
	again, err := xlate.Object(x)
	if err != nil || strings.Join(listing(again.Progs[0]), "\n") != strings.Join(want, "\n") {
		t.Fatalf("xlate of xlated code changed it: %v", err)
	}
}

// TestCtxErrors: what the verifier refuses, and the fields jitsim does
// not model, are errors at the instruction.
func TestCtxErrors(t *testing.T) {
	for _, tc := range []struct {
		name, typ, src, want string
		unsupported          bool
	}{
		{"socket filters cannot read data", "socket", "r0 = *(u32 *)(r1 +76)",
			"t.s:3:1 (insn 0): xlate: invalid bpf_context access off=76 size=4: 4-byte read of __sk_buff.data in a socket_filter program (socket filters cannot see it)", false},
		{"len is read-only", "tc", "*(u32 *)(r1 +0) = r2",
			"invalid bpf_context access off=0 size=4: 4-byte write of __sk_buff.len in a sched_cls program (read-only)", false},
		{"a 64-bit read of a 32-bit field", "tc", "r0 = *(u64 *)(r1 +8)",
			"invalid bpf_context access off=8 size=8: 8-byte read of __sk_buff.mark in a sched_cls program (a 32-bit field)", false},
		{"a narrow write", "tc", "*(u8 *)(r1 +8) = r2",
			"invalid bpf_context access off=8 size=1: 1-byte write of __sk_buff.mark in a sched_cls program (fields are written whole)", false},
		{"socket fields in tc", "tc", "r0 = *(u32 *)(r1 +92)",
			"__sk_buff.remote_ip4 in a sched_cls program (socket fields are for sk_skb and cgroup programs)", false},
		{"misaligned", "tc", "r0 = *(u16 *)(r1 +5)",
			"invalid bpf_context access off=5 size=2", false},
		{"past the end", "tc", "r0 = *(u32 *)(r1 +192)",
			"invalid bpf_context access off=192 size=4: 4-byte read of __sk_buff.padding", false},
		{"tstamp is valid but not modelled", "tc", "r0 = *(u64 *)(r1 +152)",
			"t.s:3:1 (insn 0): xlate: __sk_buff.tstamp (offset 152, 8-byte read) is not modelled by jitsim's context: not supported", true},
		{"napi_id is valid but not modelled", "tc", "r0 = *(u32 *)(r1 +84)",
			"__sk_buff.napi_id (offset 84, 4-byte read) is not modelled", true},
		{"xdp_md is read-only", "xdp", "*(u32 *)(r1 +0) = r2",
			"invalid bpf_context access off=0 size=4: 4-byte write of xdp_md.data in a xdp program (read-only)", false},
		{"egress_ifindex needs a devmap program", "xdp", "r0 = *(u32 *)(r1 +20)",
			"xdp_md.egress_ifindex in a xdp program (egress_ifindex is for programs attached to a devmap)", false},
		{"a moved context pointer", "tc", "r1 += 4\nr0 = *(u32 *)(r1 +0)",
			"t.s:4:1 (insn 1): xlate: dereference of modified ctx ptr r1 off=0", false},
		{"the context on one path only", "tc", "if r2 == 0 goto +1\nr1 = r10\nr0 = *(u32 *)(r1 -8)",
			"t.s:5:1 (insn 2): xlate: r1 is the context on some paths and other memory on others", false},
		{"atomics on the context", "tc", "lock *(u32 *)(r1 +8) += r2",
			"atomic operation on the context", false},
		{"LD_ABS without the context in r6", "tc", "r6 = 0\nr0 = *(u8 *)skb[0]",
			"t.s:4:1 (insn 1): xlate: LD_ABS reads the context from r6, which may not hold it here", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := kernelCtx(t, tc.typ, tc.src+"\nr0 = 0\nexit\n")
			_, err := xlate.Object(obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
			if errors.Is(err, core.ErrUnsupported) != tc.unsupported {
				t.Fatalf("errors.Is(err, ErrUnsupported) = %v, want %v", !tc.unsupported, tc.unsupported)
			}
			if _, ok := errors.AsType[*core.Error](err); !ok {
				t.Fatalf("%T is not a *core.Error", err)
			}
		})
	}
}

// TestCtxRawUntouched: without KernelCtx (assembler and conformance
// programs), a typed program's r1 is plain memory and LD_ABS is left for
// the engines to refuse.
func TestCtxRawUntouched(t *testing.T) {
	obj, err := asm.Parse("t.s", []byte(".prog p tc\nr6 = r1\nr0 = *(u32 *)(r1 +0)\nr0 = *(u8 *)skb[0]\nexit\n"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := xlate.Object(obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(listing(x.Progs[0]), "\n"); got != "r6 = r1\nr0 = *(u32 *)(r1 +0)\nr0 = *(u8 *)skb[0]\nexit" {
		t.Fatalf("xlated:\n%s", got)
	}
}

// TestCtxErrorELF: an unmodelled field in a clang-built object names the
// file, section, instruction and C line.
func TestCtxErrorELF(t *testing.T) {
	data, err := os.ReadFile("testdata/tstamp.o")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := load.ELF("testdata/tstamp.o", data)
	if err != nil {
		t.Fatal(err)
	}
	_, err = xlate.Object(obj)
	want := "read_tstamp: testdata/tstamp.o:tc:15:14 (insn 0): xlate: __sk_buff.tstamp (offset 152, 8-byte read) is not modelled by jitsim's context: not supported; C: return skb->tstamp != 0;"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}
