package kabi

// Program contexts: the uapi structs programs see (struct __sk_buff, struct
// xdp_md), whose offsets are ABI, and the kernel objects the verifier
// rewrites their accesses into (convert_ctx_accesses: struct sk_buff,
// struct xdp_buff, ...), whose offsets are not. jitsim builds those kernel
// objects in guest memory (core/ctx) and xlate rewrites accesses into
// loads and stores at the offsets below, as bpf_convert_ctx_access and
// xdp_convert_ctx_access do.
//
// The kernel-side offsets follow an x86-64 Linux 6.x build (struct sk_buff
// of 224 bytes, cb at 0x28, len at 0x70, data at 0xd0); they vary with
// version and config and no program sees them except through xlated code,
// so every user takes them from here.

// struct __sk_buff (include/uapi/linux/bpf.h): byte offsets of its fields.
const (
	SkbMdLen            = 0
	SkbMdPktType        = 4
	SkbMdMark           = 8
	SkbMdQueueMapping   = 12
	SkbMdProtocol       = 16
	SkbMdVlanPresent    = 20
	SkbMdVlanTCI        = 24
	SkbMdVlanProto      = 28
	SkbMdPriority       = 32
	SkbMdIngressIfindex = 36
	SkbMdIfindex        = 40
	SkbMdTCIndex        = 44
	SkbMdCb             = 48 // __u32 cb[5]
	SkbMdHash           = 68
	SkbMdTCClassid      = 72
	SkbMdData           = 76
	SkbMdDataEnd        = 80
	SkbMdNapiID         = 84
	SkbMdFamily         = 88 // family .. local_port: sk_skb and cgroup programs only
	SkbMdLocalPortEnd   = 140
	SkbMdDataMeta       = 140
	SkbMdFlowKeys       = 144
	SkbMdTstamp         = 152
	SkbMdWireLen        = 160
	SkbMdGsoSegs        = 164
	SkbMdSk             = 168
	SkbMdGsoSize        = 176
	SkbMdTstampType     = 180
	SkbMdHwtstamp       = 184
	SkbMdSize           = 192 // sizeof(struct __sk_buff)
)

// struct xdp_md (include/uapi/linux/bpf.h).
const (
	XdpMdData           = 0
	XdpMdDataEnd        = 4
	XdpMdDataMeta       = 8
	XdpMdIngressIfindex = 12
	XdpMdRxQueueIndex   = 16
	XdpMdEgressIfindex  = 20
	XdpMdSize           = 24
)

// struct sk_buff (include/linux/skbuff.h), the fields programs reach.
const (
	SkbDev          = 0x10 // struct net_device *
	SkbCb           = 0x28 // char cb[48]: struct qdisc_skb_cb, then bpf_skb_data_end's pointers
	SkbLen          = 0x70 // unsigned int
	SkbDataLen      = 0x74 // unsigned int: bytes in fragments (0: linear)
	SkbQueueMapping = 0x7c // __u16
	// SkbPktType is PKT_TYPE_OFFSET: the byte whose low 3 bits are
	// pkt_type (PKT_TYPE_MAX = 7 on little-endian bitfields).
	SkbPktType       = 0x80
	SkbTCIndex       = 0x88 // __u16
	SkbPriority      = 0x90 // __u32
	SkbIif           = 0x94 // int skb_iif: ingress_ifindex
	SkbHash          = 0x98 // __u32
	SkbVlanAll       = 0x9c // u32 vlan_all = { __be16 vlan_proto; __u16 vlan_tci; }
	SkbVlanProto     = 0x9c
	SkbVlanTCI       = 0x9e
	SkbMark          = 0xa8 // __u32
	SkbProtocol      = 0xb4 // __be16
	SkbNetworkHeader = 0xb8 // __u16, offset from head
	SkbMacHeader     = 0xba // __u16, offset from head
	SkbHead          = 0xc8 // unsigned char *
	SkbData          = 0xd0 // unsigned char *
	SkbSize          = 0xe0
)

// struct qdisc_skb_cb and struct bpf_skb_data_end (include/net/sch_generic.h,
// include/linux/filter.h), at SkbCb: tc programs' cb[], tc_classid and the
// data_meta/data_end pointers bpf_compute_data_pointers stores.
const (
	QdiscCbTCClassid  = 6  // __u16
	QdiscCbData       = 8  // unsigned char data[20]: __sk_buff.cb[0..4]
	SkbCbDataMeta     = 32 // void *data_meta
	SkbCbDataEnd      = 40 // void *data_end
	QdiscCbDataLen    = 20
	PktTypeMax        = 7
	NoQueueMapping    = 0xffff // USHRT_MAX: a queue_mapping write of it is dropped
	VlanTagPresentBit = 0x1000
)

// struct net_device: only ifindex is read.
const NetDevIfindex = 0xe0

// struct xdp_buff (include/net/xdp.h) and struct xdp_rxq_info.
const (
	XdpBuffData          = 0
	XdpBuffDataEnd       = 8
	XdpBuffDataMeta      = 16
	XdpBuffDataHardStart = 24
	XdpBuffRxq           = 32 // struct xdp_rxq_info *
	XdpBuffTxq           = 40
	XdpBuffFrameSz       = 48
	XdpBuffSize          = 56
	XdpRxqDev            = 0 // struct net_device *
	XdpRxqQueueIndex     = 8 // u32
)

// Where core/ctx puts the objects in the context region (mem.CtxBase): the
// program's context pointer, r1, is the region's start.
const (
	CtxNetDevOff = 0x200 // the struct net_device skb->dev and rxq->dev point at
	CtxRxqOff    = 0x400 // the struct xdp_rxq_info xdp_buff.rxq points at
	CtxSize      = 0x500
)

// LD_ABS/LD_IND's negative offsets (SKF_NET_OFF, SKF_LL_OFF in
// uapi/linux/filter.h): relative to the network or link-layer header.
const (
	SkfNetOff = -0x100000
	SkfLLOff  = -0x200000
)

// Helpers the verifier's rewrites call. The kernel calls them by address
// (BPF_EMIT_CALL), so they have no id in enum bpf_func_id; jitsim gives
// them ids past the enum, below the simulator's trap stub count, and
// names them as bpftool does.
const (
	FnSkbLoadHelper8  = 1000 // bpf_skb_load_helper_8_no_cache
	FnSkbLoadHelper16 = 1001 // bpf_skb_load_helper_16_no_cache
	FnSkbLoadHelper32 = 1002 // bpf_skb_load_helper_32_no_cache
)

// InternalHelperName names the helpers above, "" for any other id.
func InternalHelperName(id int32) string {
	switch id {
	case FnSkbLoadHelper8:
		return "bpf_skb_load_helper_8_no_cache"
	case FnSkbLoadHelper16:
		return "bpf_skb_load_helper_16_no_cache"
	case FnSkbLoadHelper32:
		return "bpf_skb_load_helper_32_no_cache"
	}
	return ""
}
