package sim_test

import (
	"errors"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/interp"
)

// TestLLSCAddressClobber pins a behaviour of the kernel's arm64 JIT that
// jitsim reproduces on purpose: emit_ll_sc_atomic addresses [dst] directly
// when off is 0 and loads the old value into src inside the loop
// ("ldxr src, [reg]; ...; stlxr tmp3, tmp2, [reg]"). With src == dst the
// load overwrites the address, and the store-exclusive goes to the loaded
// value. The verifier lets a privileged program do this with a stack
// pointer. LSE (ldaddal src, src, [dst]) and x86 (lock xadd) read the
// address first and give RFC 9669's result, as the interpreter does.
func TestLLSCAddressClobber(t *testing.T) {
	obj := load(t, `
		*(u64 *)(r10 - 8) = 5
		r2 = r10
		r2 += -8
		r2 = atomic_fetch_add((u64 *)(r2 + 0), r2)
		r0 = r2
		exit
	`)
	want, err := interp.New().Run(obj, 0, core.Input{}, core.RunOptions{})
	if err != nil || want.R0 != 5 {
		t.Fatalf("interp: r0 %v, err %v; want 5 (the old value)", want, err)
	}
	for _, name := range []string{"x86_64", "arm64"} {
		res, err := getEngine(t, name).Run(obj, 0, core.Input{}, core.RunOptions{})
		if err != nil || res.R0 != 5 {
			t.Errorf("%s: r0 %v, err %v; want 5", name, res, err)
		}
	}
	_, err = getEngine(t, "arm64-llsc").Run(obj, 0, core.Input{}, core.RunOptions{})
	if !errors.Is(err, core.ErrFault) || !strings.Contains(err.Error(), "(insn 3)") || !strings.Contains(err.Error(), "at 0x5") {
		t.Fatalf("arm64-llsc: err %v; want the kernel's sequence to fault at insn 3 storing to address 0x5", err)
	}
}
