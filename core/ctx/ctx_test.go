package ctx_test

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
	"jitsim/core/ctx"
	"jitsim/core/interp"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

func prog(t *testing.T, typ, body string) *core.Object {
	t.Helper()
	obj, err := asm.Parse("t.s", []byte(".helpers kernel\n.prog p "+typ+"\n"+body))
	if err != nil {
		t.Fatal(err)
	}
	obj.Progs[0].KernelCtx = true
	return obj
}

func u64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// TestBuildSkb: test_run's sk_buff for pkt_v4: tc sees the frame from the
// Ethernet header, a socket filter from the IP header (len 54 - 14).
func TestBuildSkb(t *testing.T) {
	for _, tc := range []struct {
		typ       string
		data, len uint64
	}{
		{"tc", mem.PacketBase, 54},
		{"sched_act", mem.PacketBase, 54},
		{"socket", mem.PacketBase + 14, 40},
	} {
		obj := prog(t, tc.typ, "r0 = 0\nexit\n")
		in, err := ctx.Build(obj.Progs[0], ctx.PktV4(), ctx.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := in.Ctx
		if len(c) != kabi.CtxSize || len(in.Packet) != 54 || in.Packet[12] != 0x08 {
			t.Fatalf("%s: ctx %d bytes, packet % x", tc.typ, len(c), in.Packet)
		}
		for _, f := range []struct {
			name      string
			got, want uint64
		}{
			{"data", u64(c, kabi.SkbData), tc.data},
			{"head", u64(c, kabi.SkbHead), mem.PacketBase},
			{"len", uint64(u32(c, kabi.SkbLen)), tc.len},
			{"data_end", u64(c, kabi.SkbCb+kabi.SkbCbDataEnd), tc.data + tc.len},
			{"protocol (network order)", uint64(binary.BigEndian.Uint16(c[kabi.SkbProtocol:])), 0x0800},
			{"pkt_type", uint64(c[kabi.SkbPktType]), ctx.PacketHost},
			{"dev", u64(c, kabi.SkbDev), mem.CtxBase + kabi.CtxNetDevOff},
			{"dev->ifindex (lo)", uint64(u32(c, kabi.CtxNetDevOff+kabi.NetDevIfindex)), 1},
			{"network_header", uint64(binary.LittleEndian.Uint16(c[kabi.SkbNetworkHeader:])), 14},
		} {
			if f.got != f.want {
				t.Errorf("%s: %s = %#x, want %#x", tc.typ, f.name, f.got, f.want)
			}
		}
	}
}

// TestEthTypeTrans: pkt_type and protocol as eth_type_trans gives them on
// the loopback device (address 00:00:00:00:00:00).
func TestEthTypeTrans(t *testing.T) {
	frame := func(dst string, proto uint16, payload ...byte) []byte {
		p := make([]byte, 14, 64)
		copy(p, dst)
		binary.BigEndian.PutUint16(p[12:], proto)
		return append(p, payload...)
	}
	for _, tc := range []struct {
		name     string
		pkt      []byte
		pktType  byte
		protocol uint16
	}{
		{"to lo's own address", frame("\x00\x00\x00\x00\x00\x00", 0x0800), ctx.PacketHost, 0x0800},
		{"broadcast", frame("\xff\xff\xff\xff\xff\xff", 0x0806), ctx.PacketBroadcast, 0x0806},
		{"multicast (group bit)", frame("\x01\x00\x5e\x00\x00\x01", 0x86dd), ctx.PacketMulticast, 0x86dd},
		{"another host", frame("\x02\x00\x00\x00\x00\x01", 0x0800), ctx.PacketOtherHost, 0x0800},
		{"802.3 length, raw IPX payload", frame("\x00\x00\x00\x00\x00\x00", 0x0040, 0xff, 0xff), ctx.PacketHost, 0x0001},
		{"802.3 length, LLC payload", frame("\x00\x00\x00\x00\x00\x00", 0x0040, 0xaa, 0xaa), ctx.PacketHost, 0x0004},
	} {
		obj := prog(t, "tc", "r0 = 0\nexit\n")
		in, err := ctx.Build(obj.Progs[0], tc.pkt, ctx.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := in.Ctx[kabi.SkbPktType]; got != tc.pktType {
			t.Errorf("%s: pkt_type %d, want %d", tc.name, got, tc.pktType)
		}
		if got := binary.BigEndian.Uint16(in.Ctx[kabi.SkbProtocol:]); got != tc.protocol {
			t.Errorf("%s: protocol %#04x, want %#04x", tc.name, got, tc.protocol)
		}
	}
}

// TestFieldsOnInterp: what a program reads of each field, through xlate
// and the reference interpreter. Expected values are test_run's: len 54
// (40 for socket filters), protocol htons(ETH_P_IP) read on little-endian
// (0x0008), ifindex 1 (lo), data_end - data = len.
func TestFieldsOnInterp(t *testing.T) {
	e := interp.New()
	defer e.Close()
	for _, tc := range []struct {
		name, typ, src string
		opts           string
		want           uint64
	}{
		{"len, tc", "tc", "r0 = *(u32 *)(r1 +0)", "", 54},
		{"len, socket filter: from the network header", "socket", "r0 = *(u32 *)(r1 +0)", "", 40},
		{"protocol", "socket", "r0 = *(u32 *)(r1 +16)", "", 0x0008},
		{"protocol, low byte", "tc", "r0 = *(u8 *)(r1 +16)", "", 0x08},
		{"pkt_type", "tc", "r0 = *(u32 *)(r1 +4)", "", ctx.PacketHost},
		{"ifindex", "tc", "r0 = *(u32 *)(r1 +40)", "", 1},
		{"ifindex set", "socket", "r0 = *(u32 *)(r1 +40)", "ifindex=7", 7},
		{"ingress_ifindex", "tc", "r0 = *(u32 *)(r1 +36)", "ingress_ifindex=3", 3},
		{"mark from ctx_in", "tc", "r0 = *(u32 *)(r1 +8)", "mark=0xdeadbeef", 0xdeadbeef},
		{"mark, third byte", "tc", "r0 = *(u8 *)(r1 +10)", "mark=0xdeadbeef", 0xad},
		{"priority", "tc", "r0 = *(u32 *)(r1 +32)", "priority=6", 6},
		{"cb[3]", "socket", "r0 = *(u32 *)(r1 +60)", "cb[3]=0x1234", 0x1234},
		{"tc_classid", "tc", "r0 = *(u32 *)(r1 +72)", "tc_classid=0x10", 0x10},
		{"tc_index", "tc", "r0 = *(u32 *)(r1 +44)", "tc_index=9", 9},
		{"queue_mapping", "tc", "r0 = *(u32 *)(r1 +12)", "queue_mapping=2", 2},
		{"hash", "tc", "r0 = *(u32 *)(r1 +68)", "hash=77", 77},
		{"vlan_present without a tag", "tc", "r0 = *(u32 *)(r1 +20)", "", 0},
		{"vlan_present with a tag", "tc", "r0 = *(u32 *)(r1 +20)", "vlan_tci=5", 1},
		{"vlan_tci", "tc", "r0 = *(u32 *)(r1 +24)", "vlan_tci=5", 5},
		{"data_end - data", "tc", "r2 = *(u32 *)(r1 +76)\nr0 = *(u32 *)(r1 +80)\nr0 -= r2", "", 54},
		{"data_meta = data", "tc", "r2 = *(u32 *)(r1 +76)\nr0 = *(u32 *)(r1 +140)\nr0 -= r2", "", 0},
		{"first packet byte through data: ihl/version", "tc", "r2 = *(u32 *)(r1 +76)\nr0 = *(u8 *)(r2 +14)", "", 0x05},
		{"mark written then read", "tc", "r2 = 42\n*(u32 *)(r1 +8) = r2\nr0 = *(u32 *)(r1 +8)", "", 42},
		{"queue_mapping write of 0xffff is dropped", "tc", "*(u32 *)(r1 +12) = 65535\nr0 = *(u32 *)(r1 +12)", "queue_mapping=3", 3},
		{"xdp data_end - data", "xdp", "r2 = *(u32 *)(r1 +0)\nr0 = *(u32 *)(r1 +4)\nr0 -= r2", "", 54},
		{"xdp ingress_ifindex", "xdp", "r0 = *(u32 *)(r1 +12)", "", 1},
		{"xdp rx_queue_index", "xdp", "r0 = *(u32 *)(r1 +16)", "rx_queue_index=3", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := prog(t, tc.typ, tc.src+"\nexit\n")
			o, err := ctx.ParseOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			in, err := ctx.Build(obj.Progs[0], ctx.PktV4(), o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Run(obj, 0, in, core.RunOptions{})
			if err != nil || res.R0 != tc.want {
				t.Fatalf("r0 = %#x, err %v; want %#x", res.R0, err, tc.want)
			}
		})
	}
}

// TestLdAbsOnInterp: LD_ABS/LD_IND as ___bpf_prog_run and the kernel's
// load helpers define them: big-endian values, offsets from skb->data,
// SKF_NET_OFF and SKF_LL_OFF from the headers, and an out-of-range load
// returning 0 from the program.
func TestLdAbsOnInterp(t *testing.T) {
	e := interp.New()
	defer e.Close()
	for _, tc := range []struct {
		name, typ, src string
		want           uint64
	}{
		{"byte 12: EtherType high byte", "tc", "r0 = *(u8 *)skb[12]", 0x08},
		{"half 12: EtherType, host order", "tc", "r0 = *(u16 *)skb[12]", 0x0800},
		{"word 14: ihl, tos, tot_len", "tc", "r0 = *(u32 *)skb[14]", 0x0500007b},
		{"LD_IND: r7 + 23 = IP protocol", "tc", "r7 = 20\nr0 = *(u8 *)skb[r7 + 3]", 6},
		{"socket filter: offset 0 is the IP header", "socket", "r0 = *(u8 *)skb[0]", 0x05},
		{"SKF_NET_OFF + 9: IP protocol", "socket", "r0 = *(u8 *)skb[-1048567]", 6},
		{"SKF_LL_OFF + 12: EtherType from a socket filter", "socket", "r0 = *(u16 *)skb[-2097140]", 0x0800},
		{"the last byte", "tc", "r0 = *(u8 *)skb[53]", 0},
		{"one past the end: the program returns 0", "tc", "r0 = *(u8 *)skb[54]\nr0 = 99", 0},
		{"a word crossing the end", "tc", "r0 = *(u32 *)skb[52]\nr0 = 99", 0},
		{"SKF_LL_OFF before the frame", "tc", "r0 = *(u8 *)skb[-2097153]\nr0 = 99", 0},
		{"in range, so the program goes on", "tc", "r0 = *(u8 *)skb[0]\nr0 = 99", 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := prog(t, tc.typ, "r6 = r1\n"+tc.src+"\nexit\n")
			in, err := ctx.Build(obj.Progs[0], ctx.PktV4(), ctx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Run(obj, 0, in, core.RunOptions{})
			if err != nil || res.R0 != tc.want {
				t.Fatalf("r0 = %#x, err %v; want %#x", res.R0, err, tc.want)
			}
		})
	}
}

// TestRead: the writable fields after a run.
func TestRead(t *testing.T) {
	obj := prog(t, "tc", "r2 = 5\n*(u32 *)(r1 +8) = r2\n*(u32 *)(r1 +48) = r2\nr0 = 0\nexit\n")
	in, err := ctx.Build(obj.Progs[0], ctx.PktV4(), ctx.Options{Priority: 3})
	if err != nil {
		t.Fatal(err)
	}
	e := interp.New()
	defer e.Close()
	res, err := e.Run(obj, 0, in, core.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range ctx.Read(obj.Progs[0], res.Ctx) {
		got = append(got, f.Name+"="+strconv.FormatUint(f.Value, 10))
	}
	want := "mark=5 priority=3 tc_index=0 tc_classid=0 queue_mapping=0 cb[0]=5 cb[1]=0 cb[2]=0 cb[3]=0 cb[4]=0"
	if strings.Join(got, " ") != want {
		t.Fatalf("Read = %s\nwant   %s", strings.Join(got, " "), want)
	}
	if string(res.Packet) != string(ctx.PktV4()) {
		t.Fatalf("packet after the run: % x", res.Packet)
	}
}

// TestBuildErrors: what test_run refuses and what cannot be set.
func TestBuildErrors(t *testing.T) {
	tc := prog(t, "tc", "r0 = 0\nexit\n")
	xdp := prog(t, "xdp", "r0 = 0\nexit\n")
	raw, err := asm.Parse("r.s", []byte("r0 = 0\nexit\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    *core.Program
		pkt  []byte
		opts string
		want string
	}{
		{"shorter than an Ethernet header", tc.Progs[0], make([]byte, 13), "", "a 13-byte packet: a __sk_buff needs at least an Ethernet header (14 bytes)"},
		{"longer than 64 KiB", xdp.Progs[0], make([]byte, 0x10000), "", "a 65536-byte packet: jitsim takes at most 65535"},
		{"mark in XDP", xdp.Progs[0], ctx.PktV4(), "mark=1", "an XDP context has ifindex and rx_queue_index only"},
		{"rx_queue_index in tc", tc.Progs[0], ctx.PktV4(), "rx_queue_index=1", "rx_queue_index is an XDP context field"},
		{"fields of raw memory", raw.Progs[0], ctx.PktV4(), "mark=1", "gets raw memory, not a kernel context"},
	} {
		o, err := ctx.ParseOptions(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ctx.Build(c.p, c.pkt, o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	for _, s := range []string{"cb[5]=1", "mark", "tc_index=65536", "bogus=1", "mark=x"} {
		if _, err := ctx.ParseOptions(s); err == nil {
			t.Errorf("ParseOptions(%q) succeeded", s)
		}
	}
	in, err := ctx.Build(raw.Progs[0], []byte{1, 2, 3}, ctx.Options{})
	if err != nil || string(in.Ctx) != "\x01\x02\x03" || in.Packet != nil {
		t.Fatalf("raw: %+v, %v: the bytes are the context memory", in, err)
	}
}

// TestPktV4: the selftests' packet, byte for byte: Ethernet (zero MACs,
// ETH_P_IP), IPv4 (ihl 5, tot_len 123, protocol 6), TCP (doff 5, urg_ptr
// 123 as a host-order u16).
func TestPktV4(t *testing.T) {
	want := "0000000000000000000000000800" +
		"0500007b00000000000600000000000000000000" +
		"0000000000000000000000005000000000007b00"
	if got := hex.EncodeToString(ctx.PktV4()); got != want {
		t.Fatalf("pkt_v4 = %s\nwant     %s", got, want)
	}
}
