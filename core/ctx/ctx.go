// Package ctx builds the context a kernel would hand a program, from packet
// bytes: for socket filters and tc programs a struct sk_buff, for XDP a
// struct xdp_buff, at mem.CtxBase with the packet at mem.PacketBase, laid
// out at core/kabi's offsets (the ones xlate rewrites __sk_buff and xdp_md
// accesses into). What goes in each field is what BPF_PROG_TEST_RUN
// (net/bpf/test_run.c) puts there, so a program sees what the kernel
// selftests' runs see:
//
//   - sk_buff (bpf_prog_test_run_skb): eth_type_trans on the loopback
//     device gives protocol (the EtherType, or ETH_P_802_3/802_2 for
//     length fields), pkt_type (HOST for the all-zero address lo has,
//     BROADCAST, MULTICAST, else OTHERHOST) and dev (ifindex 1). tc
//     programs see the whole frame (data at the Ethernet header, len the
//     packet's size); socket filters see it from the network header, as
//     test_run pushes the link-layer header back only for tc (len is the
//     size less 14). data_end (tc) is data + len. Everything else is 0
//     unless Options set it (test_run's ctx_in).
//   - xdp_buff (bpf_prog_test_run_xdp): data and data_meta at the packet,
//     data_end after it; rxq is queue 0 of the loopback device.
//
// The packet starts at mem.PacketBase: jitsim leaves no headroom.
package ctx

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"jitsim/core"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// Kind is the context a program gets.
type Kind uint8

const (
	// Raw: r1 points at the bytes given, whatever the program type (the
	// conformance suite's convention; programs without KernelCtx).
	Raw Kind = iota
	// Skb: a struct sk_buff, seen through struct __sk_buff.
	Skb
	// Xdp: a struct xdp_buff, seen through struct xdp_md.
	Xdp
)

func (k Kind) String() string {
	switch k {
	case Skb:
		return "__sk_buff"
	case Xdp:
		return "xdp_md"
	}
	return "raw"
}

// KindOf is the context p gets.
func KindOf(p *core.Program) Kind {
	if p == nil || !p.KernelCtx {
		return Raw
	}
	switch p.Type {
	case core.ProgTypeSocketFilter, core.ProgTypeSchedCLS, core.ProgTypeSchedAct:
		return Skb
	case core.ProgTypeXDP:
		return Xdp
	}
	return Raw
}

// Limits on a packet: test_run refuses less than an Ethernet header
// (bpf_test_init); jitsim's headers offsets are 16 bits, as the kernel's.
const (
	EthHLen   = 14
	MaxPacket = 0xffff
)

// Options are the context fields user space may set (test_run's ctx_in),
// by their __sk_buff / xdp_md names.
type Options struct {
	Mark, Priority, Hash uint32
	// Ifindex is the device's (skb->dev, xdp rxq->dev); 0 and 1 are the
	// loopback device, 1, as test_run takes them.
	Ifindex        uint32
	IngressIfindex uint32 // skb_iif
	RxQueueIndex   uint32 // XDP
	QueueMapping   uint16
	TCIndex        uint16
	TCClassid      uint16
	VlanTCI        uint16
	VlanProto      uint16 // as the program reads it (the __be16's bytes, little-endian)
	Cb             [5]uint32
}

// fieldNames are the names Set accepts, for messages.
var fieldNames = []string{"mark", "priority", "hash", "ifindex", "ingress_ifindex", "rx_queue_index",
	"queue_mapping", "tc_index", "tc_classid", "vlan_tci", "vlan_proto", "cb[0]", "cb[1]", "cb[2]", "cb[3]", "cb[4]"}

// Set sets one field by name ("mark", "cb[2]", ...).
func (o *Options) Set(name string, v uint64) error {
	u32 := func(p *uint32) error {
		if v > 0xffffffff {
			return fmt.Errorf("%s = %d does not fit in 32 bits", name, v)
		}
		*p = uint32(v)
		return nil
	}
	u16 := func(p *uint16) error {
		if v > 0xffff {
			return fmt.Errorf("%s = %d does not fit in the kernel's 16-bit field", name, v)
		}
		*p = uint16(v)
		return nil
	}
	switch name {
	case "mark":
		return u32(&o.Mark)
	case "priority":
		return u32(&o.Priority)
	case "hash":
		return u32(&o.Hash)
	case "ifindex":
		return u32(&o.Ifindex)
	case "ingress_ifindex":
		return u32(&o.IngressIfindex)
	case "rx_queue_index":
		return u32(&o.RxQueueIndex)
	case "queue_mapping":
		return u16(&o.QueueMapping)
	case "tc_index":
		return u16(&o.TCIndex)
	case "tc_classid":
		return u16(&o.TCClassid)
	case "vlan_tci":
		return u16(&o.VlanTCI)
	case "vlan_proto":
		return u16(&o.VlanProto)
	}
	if rest, ok := strings.CutPrefix(name, "cb["); ok {
		if k, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil && strings.HasSuffix(rest, "]") && k >= 0 && k < 5 {
			return u32(&o.Cb[k])
		}
	}
	return fmt.Errorf("unknown context field %q (fields: %s)", name, strings.Join(fieldNames, ", "))
}

// ParseOptions reads "name=value,name=value" (values decimal or 0x hex).
func ParseOptions(s string) (Options, error) {
	var o Options
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, val, ok := strings.Cut(f, "=")
		if !ok {
			return o, fmt.Errorf("%q: want FIELD=VALUE", f)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(val), 0, 64)
		if err != nil {
			return o, fmt.Errorf("%q: %v", f, err)
		}
		if err := o.Set(strings.TrimSpace(name), v); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Build returns the input of a run of p on packet pkt. For a Raw program
// the packet bytes are the context memory itself.
func Build(p *core.Program, pkt []byte, o Options) (core.Input, error) {
	kind := KindOf(p)
	if kind == Raw {
		if o != (Options{}) {
			return core.Input{}, fmt.Errorf("program %s gets raw memory, not a kernel context: context fields cannot be set", p.Name)
		}
		return core.Input{Ctx: pkt}, nil
	}
	if len(pkt) < EthHLen {
		return core.Input{}, fmt.Errorf("a %d-byte packet: a %s needs at least an Ethernet header (%d bytes), as BPF_PROG_TEST_RUN does", len(pkt), kind, EthHLen)
	}
	if len(pkt) > MaxPacket {
		return core.Input{}, fmt.Errorf("a %d-byte packet: jitsim takes at most %d", len(pkt), MaxPacket)
	}
	c := make([]byte, kabi.CtxSize)
	le := binary.LittleEndian
	ifindex := max(o.Ifindex, 1)
	le.PutUint32(c[kabi.CtxNetDevOff+kabi.NetDevIfindex:], ifindex)
	dev := uint64(mem.CtxBase + kabi.CtxNetDevOff)
	head := uint64(mem.PacketBase)
	if kind == Xdp {
		if o.Mark|o.Priority|o.Hash|o.IngressIfindex != 0 || o.QueueMapping|o.TCIndex|o.TCClassid|o.VlanTCI|o.VlanProto != 0 || o.Cb != [5]uint32{} {
			return core.Input{}, fmt.Errorf("an XDP context has ifindex and rx_queue_index only")
		}
		rxq := uint64(mem.CtxBase + kabi.CtxRxqOff)
		le.PutUint64(c[kabi.XdpBuffData:], head)
		le.PutUint64(c[kabi.XdpBuffDataEnd:], head+uint64(len(pkt)))
		le.PutUint64(c[kabi.XdpBuffDataMeta:], head)
		le.PutUint64(c[kabi.XdpBuffDataHardStart:], head)
		le.PutUint64(c[kabi.XdpBuffRxq:], rxq)
		le.PutUint32(c[kabi.XdpBuffFrameSz:], mem.PageSize)
		le.PutUint64(c[kabi.CtxRxqOff+kabi.XdpRxqDev:], dev)
		le.PutUint32(c[kabi.CtxRxqOff+kabi.XdpRxqQueueIndex:], o.RxQueueIndex)
		return core.Input{Ctx: c, Packet: append([]byte(nil), pkt...)}, nil
	}
	if o.RxQueueIndex != 0 {
		return core.Input{}, fmt.Errorf("rx_queue_index is an XDP context field")
	}
	data, n := head, uint32(len(pkt))
	if p.Type == core.ProgTypeSocketFilter {
		data, n = head+EthHLen, n-EthHLen
	}
	le.PutUint64(c[kabi.SkbDev:], dev)
	le.PutUint32(c[kabi.SkbLen:], n)
	le.PutUint16(c[kabi.SkbQueueMapping:], o.QueueMapping)
	c[kabi.SkbPktType] = pktType(pkt)
	le.PutUint16(c[kabi.SkbTCIndex:], o.TCIndex)
	le.PutUint32(c[kabi.SkbPriority:], o.Priority)
	le.PutUint32(c[kabi.SkbIif:], o.IngressIfindex)
	le.PutUint32(c[kabi.SkbHash:], o.Hash)
	le.PutUint16(c[kabi.SkbVlanProto:], o.VlanProto)
	le.PutUint16(c[kabi.SkbVlanTCI:], o.VlanTCI)
	le.PutUint32(c[kabi.SkbMark:], o.Mark)
	copy(c[kabi.SkbProtocol:], protocol(pkt))
	le.PutUint16(c[kabi.SkbMacHeader:], 0)
	le.PutUint16(c[kabi.SkbNetworkHeader:], EthHLen)
	le.PutUint64(c[kabi.SkbHead:], head)
	le.PutUint64(c[kabi.SkbData:], data)
	cb := c[kabi.SkbCb:]
	le.PutUint16(cb[kabi.QdiscCbTCClassid:], o.TCClassid)
	for k, v := range o.Cb {
		le.PutUint32(cb[kabi.QdiscCbData+4*k:], v)
	}
	// bpf_compute_data_pointers: no metadata, data_end after the linear part.
	le.PutUint64(cb[kabi.SkbCbDataMeta:], data)
	le.PutUint64(cb[kabi.SkbCbDataEnd:], data+uint64(n))
	return core.Input{Ctx: c, Packet: append([]byte(nil), pkt...)}, nil
}

// The packet types eth_type_trans gives (uapi/linux/if_packet.h).
const (
	PacketHost      = 0
	PacketBroadcast = 1
	PacketMulticast = 2
	PacketOtherHost = 3
)

// pktType is eth_type_trans's pkt_type on the loopback device, whose
// address is all zeros.
func pktType(pkt []byte) byte {
	dst := pkt[:6]
	switch {
	case dst[0]&1 != 0 && string(dst) == "\xff\xff\xff\xff\xff\xff":
		return PacketBroadcast
	case dst[0]&1 != 0:
		return PacketMulticast
	case string(dst) != "\x00\x00\x00\x00\x00\x00":
		return PacketOtherHost
	}
	return PacketHost
}

// protocol is eth_type_trans's skb->protocol, in network order: the
// EtherType when it is one (>= ETH_P_802_3_MIN), else ETH_P_802_3 for raw
// 802.3 (payload starting 0xffff) or ETH_P_802_2.
func protocol(pkt []byte) []byte {
	if binary.BigEndian.Uint16(pkt[12:]) >= 0x600 {
		return pkt[12:14]
	}
	if len(pkt) >= EthHLen+2 && pkt[14] == 0xff && pkt[15] == 0xff {
		return []byte{0x00, 0x01}
	}
	return []byte{0x00, 0x04}
}

// Field is one context field after a run.
type Field struct {
	Name  string
	Value uint64
}

// Read lists the fields of p's context a program may write (tc: mark,
// priority, tc_index, tc_classid, queue_mapping, cb[]; socket filters:
// cb[]) as the run left them in ctx (core.Result.Ctx). XDP contexts and
// raw memory give none.
func Read(p *core.Program, ctx []byte) []Field {
	if KindOf(p) != Skb || len(ctx) < kabi.CtxSize {
		return nil
	}
	le := binary.LittleEndian
	cb := ctx[kabi.SkbCb:]
	var out []Field
	if p.Type != core.ProgTypeSocketFilter {
		out = append(out,
			Field{"mark", uint64(le.Uint32(ctx[kabi.SkbMark:]))},
			Field{"priority", uint64(le.Uint32(ctx[kabi.SkbPriority:]))},
			Field{"tc_index", uint64(le.Uint16(ctx[kabi.SkbTCIndex:]))},
			Field{"tc_classid", uint64(le.Uint16(cb[kabi.QdiscCbTCClassid:]))},
			Field{"queue_mapping", uint64(le.Uint16(ctx[kabi.SkbQueueMapping:]))})
	}
	for k := range 5 {
		out = append(out, Field{fmt.Sprintf("cb[%d]", k), uint64(le.Uint32(cb[kabi.QdiscCbData+4*k:]))})
	}
	return out
}

// PktV4 is the selftests' canned IPv4/TCP packet (pkt_v4 in
// tools/testing/selftests/bpf/network_helpers.h): 54 bytes, all-zero
// MAC and IP addresses, EtherType IPv4, ihl 5 (version left 0), tot_len
// 123, protocol TCP, TCP doff 5 and urg_ptr 123 (stored unswapped).
func PktV4() []byte {
	p := make([]byte, 54)
	p[12], p[13] = 0x08, 0x00 // ETH_P_IP
	ip := p[14:]
	ip[0] = 5 // ihl 5, version 0
	ip[2], ip[3] = 0, 123
	ip[9] = 6 // IPPROTO_TCP
	tcp := ip[20:]
	tcp[12] = 5 << 4 // doff
	tcp[18], tcp[19] = 123, 0
	return p
}
