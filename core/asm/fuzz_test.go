package asm_test

import (
	"errors"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
)

// FuzzParse: any input either assembles, and then Format/Parse gives the
// same object, or fails with a *core.Error that has a line and column.
// Seeds are in testdata/fuzz/FuzzParse (conformance programs, pseudo-C,
// directives).
func FuzzParse(f *testing.F) {
	f.Add("r0 = 1\nexit")
	f.Add("mov32 %r0, 1\njne %r0, 1, exit\nlock fetch add [%r10-8], %r1\nexit")
	f.Fuzz(func(t *testing.T, src string) {
		obj, err := asm.Parse("fuzz.s", []byte(src))
		if err != nil {
			var e *core.Error
			if !errors.As(err, &e) || e.Op != "parse" || e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("error without a position: %#v", err)
			}
			if obj != nil {
				t.Fatalf("both an object and an error")
			}
			return
		}
		text := asm.Format(obj)
		again, err := asm.Parse("again.s", []byte(text))
		if err != nil {
			t.Fatalf("formatted text does not parse: %v\n%s", err, text)
		}
		if err := sameObject(obj, again); err != nil {
			t.Fatalf("round trip: %v\n%s", err, text)
		}
	})
}
