package helper

import (
	"errors"
	"fmt"
	"syscall"

	"jitsim/core"
	"jitsim/core/maps"
	"jitsim/core/mem"
)

// The map helpers take the map as the address of its object (what xlate
// made of ld_imm64 of the map) and the key and value as guest pointers,
// as the kernel's bpf_map_*_elem helpers take struct bpf_map * and void *.
// The verifier guarantees a map pointer and readable key and value of the
// map's sizes; a run that breaks that is stopped with an error rather than
// given a meaning the kernel never had.

// mapArg finds the map r1 points to.
func mapArg(env *Env, name string, addr uint64) (*maps.Map, error) {
	if env.Maps == nil {
		return nil, fmt.Errorf("%s: r1 = %#x is not a map (the object has no maps): %w", name, addr, core.ErrFault)
	}
	m, ok := env.Maps.MapAt(addr)
	if !ok {
		return nil, fmt.Errorf("%s: r1 = %#x is not a map (the verifier passes only a map pointer): %w", name, addr, core.ErrFault)
	}
	if m.Def.Type == core.MapProgArray {
		// check_map_func_compatibility: a prog array reaches only
		// bpf_tail_call.
		return nil, fmt.Errorf("%s: map %s is a prog_array, which only bpf_tail_call takes", name, m.Def.Name)
	}
	return m, nil
}

// errnoRet turns a map operation's error into the helper's r0.
func errnoRet(err error) uint64 {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return negErrno(int64(e))
	}
	return negErrno(einval)
}

// mapLookupElem is bpf_map_lookup_elem(map, key): a pointer to the value
// in guest memory, or 0.
func mapLookupElem(env *Env, a *[5]uint64) (uint64, error) {
	const name = "bpf_map_lookup_elem"
	m, err := mapArg(env, name, a[0])
	if err != nil {
		return 0, err
	}
	key, err := env.Bytes(name+" key", a[1], uint64(m.Def.KeySize), mem.Read)
	if err != nil {
		return 0, err
	}
	return m.LookupAddr(key), nil
}

// mapUpdateElem is bpf_map_update_elem(map, key, value, flags): 0 or a
// negative errno (-EEXIST, -ENOENT, -E2BIG, -EINVAL) as the kernel's map
// types return them.
func mapUpdateElem(env *Env, a *[5]uint64) (uint64, error) {
	const name = "bpf_map_update_elem"
	m, err := mapArg(env, name, a[0])
	if err != nil {
		return 0, err
	}
	key, err := env.Bytes(name+" key", a[1], uint64(m.Def.KeySize), mem.Read)
	if err != nil {
		return 0, err
	}
	value, err := env.Bytes(name+" value", a[2], uint64(m.Def.ValueSize), mem.Read)
	if err != nil {
		return 0, err
	}
	if m.Def.Section == ".rodata" {
		// The verifier rejects writes to a frozen map (BPF_F_RDONLY_PROG).
		return 0, fmt.Errorf("%s: map %s is read-only to programs", name, m.Def.Name)
	}
	// Key and value may overlap the map's own memory (a value pointer
	// from a lookup): Update copies them before writing.
	return errnoRet(m.Update(clone(key), clone(value), a[3])), nil
}

// mapDeleteElem is bpf_map_delete_elem(map, key): 0, -ENOENT for a missing
// hash key, -EINVAL for an array.
func mapDeleteElem(env *Env, a *[5]uint64) (uint64, error) {
	const name = "bpf_map_delete_elem"
	m, err := mapArg(env, name, a[0])
	if err != nil {
		return 0, err
	}
	key, err := env.Bytes(name+" key", a[1], uint64(m.Def.KeySize), mem.Read)
	if err != nil {
		return 0, err
	}
	return errnoRet(m.Delete(clone(key))), nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
