package interp_test

import (
	"errors"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/interp"
)

// run runs insns on a fresh engine with the conformance helper set.
func run(t *testing.T, insns []core.Insn, ctx []byte) (*core.Result, error) {
	t.Helper()
	e := interp.New()
	t.Cleanup(func() { e.Close() })
	return e.Run(object(core.HelpersConformance, insns), 0, core.Input{Ctx: ctx}, core.RunOptions{Budget: 10_000})
}

func TestSmoke(t *testing.T) {
	res, err := run(t, prog(mov(core.R0, 7), alu64(core.Add, core.R0, 5), exit()), nil)
	if err != nil || res.R0 != 12 || res.Insns != 3 {
		t.Fatalf("res %+v err %v; want r0 12 after 3 insns", res, err)
	}
}

func TestFaultSmoke(t *testing.T) {
	_, err := run(t, prog(mov(core.R1, 0), ldx(core.W, core.R0, core.R1, 0), exit()), nil)
	if !errors.Is(err, core.ErrFault) || !strings.Contains(err.Error(), "(insn 1): run: load of 4 bytes at 0x0: memory fault") {
		t.Fatalf("err = %v", err)
	}
}
