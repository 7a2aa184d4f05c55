package sim

import (
	"fmt"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
)

// An engine that has placed renewAfter images starts a fresh Unicorn
// instance before the next new object, and runs it as before.
func TestRenew(t *testing.T) {
	defer func(n int) { renewAfter = n }(renewAfter)
	renewAfter = 3
	for _, arch := range []string{"x86_64", "arm64"} {
		e, err := New(arch)
		if err != nil {
			t.Fatal(err)
		}
		first := e.u
		renewed := false
		for i := range 10 {
			obj, err := asm.Parse("renew.s", fmt.Appendf(nil, "r0 = %d\nr0 += 1\nexit\n", i))
			if err == nil {
				err = analysis.Check(obj)
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{})
			if err != nil || res.R0 != uint64(i+1) {
				t.Fatalf("%s program %d: r0 %v, err %v; want %d", arch, i, res, err, i+1)
			}
			if e.placed > renewAfter {
				t.Fatalf("%s: %d images placed, renew after %d", arch, e.placed, renewAfter)
			}
			renewed = renewed || e.u != first
		}
		if !renewed {
			t.Errorf("%s: never renewed", arch)
		}
		e.Close()
	}
}
