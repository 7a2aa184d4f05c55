package helper

import (
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// Packet helpers over the simulated struct sk_buff that core/ctx builds
// (offsets in core/kabi): the load helpers xlate's LD_ABS/LD_IND rewrite
// calls. They read the skb the program passes in r1, as the kernel's do,
// so a program that changed nothing of it sees what the context builder
// put there.
func init() {
	for id, size := range map[int32]int{kabi.FnSkbLoadHelper8: 1, kabi.FnSkbLoadHelper16: 2, kabi.FnSkbLoadHelper32: 4} {
		kernelHelpers[id] = Helper{kabi.InternalHelperName(id), skbLoadHelper(kabi.InternalHelperName(id), size)}
	}
}

const efault = 14

// skbView is what the packet helpers read of a struct sk_buff.
type skbView struct {
	head, data   uint64
	len, dataLen uint32
	mac, network uint16
}

func readSkb(env *Env, what string, addr uint64) (skbView, error) {
	b, err := env.Bytes(what+" skb", addr, kabi.SkbSize, mem.Read)
	if err != nil {
		return skbView{}, err
	}
	return skbView{
		head:    mem.LoadLE(b[kabi.SkbHead:], 8),
		data:    mem.LoadLE(b[kabi.SkbData:], 8),
		len:     uint32(mem.LoadLE(b[kabi.SkbLen:], 4)),
		dataLen: uint32(mem.LoadLE(b[kabi.SkbDataLen:], 4)),
		mac:     uint16(mem.LoadLE(b[kabi.SkbMacHeader:], 2)),
		network: uint16(mem.LoadLE(b[kabi.SkbNetworkHeader:], 2)),
	}, nil
}

// headlen is skb_headlen: the bytes in the linear part. jitsim's skbs are
// linear; a program that grew data_len would find the rest missing, as
// skb_copy_bits would find no fragments.
func (s skbView) headlen() int64 { return int64(s.len) - int64(s.dataLen) }

// skbLoadHelper is bpf_skb_load_helper_{8,16,32}_no_cache(skb, offset):
// the value in network byte order turned to host order, or -EFAULT when
// the bytes are outside the packet. Negative offsets address the network
// header (SKF_NET_OFF) or the link-layer header (SKF_LL_OFF), as
// bpf_internal_load_pointer_neg_helper does.
func skbLoadHelper(name string, size int) Func {
	return func(env *Env, a *[5]uint64) (uint64, error) {
		s, err := readSkb(env, name, a[0])
		if err != nil {
			return 0, err
		}
		off := int64(int32(a[1]))
		var p uint64
		switch {
		case off >= 0:
			if s.headlen()-off < int64(size) {
				return negErrno(efault), nil
			}
			p = s.data + uint64(off)
		default:
			var hdr int64
			switch {
			case off >= kabi.SkfNetOff:
				hdr = int64(s.network) + off - kabi.SkfNetOff
			case off >= kabi.SkfLLOff && s.mac != 0xffff:
				hdr = int64(s.mac) + off - kabi.SkfLLOff
			default:
				return negErrno(efault), nil
			}
			tail := int64(s.data-s.head) + s.headlen()
			if hdr < 0 || hdr+int64(size) > tail {
				return negErrno(efault), nil
			}
			p = s.head + uint64(hdr)
		}
		b, err := env.Bytes(name, p, uint64(size), mem.Read)
		if err != nil {
			return 0, err
		}
		var v uint64
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		return v, nil
	}
}
