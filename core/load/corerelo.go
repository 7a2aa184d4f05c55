package load

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"jitsim/core"
)

// uapiTypes are the types a CO-RE relocation may name: their layout is the
// kernel's user ABI (include/uapi/linux/bpf.h and the packet headers), so
// the object's own definition is the running kernel's. jitsim has no kernel
// BTF, so a relocation against any other type (struct task_struct from
// vmlinux.h, ...) cannot be resolved and is an error.
var uapiTypes = []string{
	"__sk_buff", "xdp_md", "bpf_sock", "bpf_sock_tuple", "bpf_sock_ops", "sk_msg_md",
	"ethhdr", "iphdr", "ipv6hdr", "tcphdr", "udphdr", "icmphdr", "icmp6hdr", "vlan_hdr",
}

// applyCORE resolves insns' CO-RE relocations against the uapi types, in a
// copy when there are any (the spec's instructions stay as read), or
// reports the first it cannot resolve at its slot.
func (l *loader) applyCORE(p *core.Program, insns asm.Instructions) (asm.Instructions, error) {
	var (
		relos []*btf.CORERelocation
		at    []int // index in insns
		slots []int
	)
	slot := 0
	for i := range insns {
		if r := btf.CORERelocationMetadata(&insns[i]); r != nil {
			relos = append(relos, r)
			at = append(at, i)
			slots = append(slots, slot)
		}
		slot += int(insns[i].Width())
	}
	if len(relos) == 0 {
		return insns, nil
	}
	insns = slices.Clone(insns)
	target, err := l.uapiSpec()
	if err != nil {
		return nil, l.progErrorf(p, slots[0], "CO-RE: %w", err)
	}
	local := l.spec.Types
	fixups, err := btf.CORERelocate(relos, []*btf.Spec{target}, l.spec.ByteOrder, func(t btf.Type) (btf.TypeID, error) {
		return local.TypeID(t)
	})
	if err != nil {
		return nil, l.progErrorf(p, slots[0], "CO-RE relocation: %w", err)
	}
	for k, fx := range fixups {
		// A relocation whose type is not among the uapi types finds no
		// candidate: cilium poisons it, or answers "does not exist" for an
		// existence check. Against the object's own definition of a uapi
		// type an existence check always holds, so a 0 there means the
		// same: the type is not one jitsim knows.
		s := fx.String()
		if strings.HasSuffix(s, "=poison") || (isExistenceCheck(s) && strings.HasSuffix(s, "->0")) {
			return nil, l.progErrorf(p, slots[k], "cannot resolve %s: jitsim has no kernel BTF and resolves CO-RE only against the uapi types (%s): %w",
				relos[k], strings.Join(uapiTypes, ", "), core.ErrUnsupported)
		}
		if err := fx.Apply(&insns[at[k]]); err != nil {
			return nil, l.progErrorf(p, slots[k], "applying CO-RE fixup %s for %s: %w", s, relos[k], err)
		}
	}
	return insns, nil
}

func isExistenceCheck(fixup string) bool {
	for _, k := range []string{"field_exists=", "type_exists=", "enumval_exists=", "type_matches="} {
		if strings.HasPrefix(fixup, k) {
			return true
		}
	}
	return false
}

// uapiSpec builds (once) a BTF spec holding the object's definitions of the
// uapi types.
func (l *loader) uapiSpec() (*btf.Spec, error) {
	if l.uapi != nil || l.uapiErr != nil {
		return l.uapi, l.uapiErr
	}
	var types []btf.Type
	if l.spec.Types != nil {
		for _, name := range uapiTypes {
			ts, err := l.spec.Types.AnyTypesByName(name)
			if err != nil {
				continue
			}
			for _, t := range ts {
				if _, ok := t.(*btf.Struct); ok {
					types = append(types, t)
				}
			}
		}
	}
	b, err := btf.NewBuilder(types, nil)
	if err == nil {
		l.uapi, err = b.Spec()
	}
	if err != nil {
		l.uapiErr = fmt.Errorf("building the uapi type set: %w", err)
	}
	return l.uapi, l.uapiErr
}
