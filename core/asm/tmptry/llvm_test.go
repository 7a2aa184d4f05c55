package asmtry

import (
	"encoding/hex"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
)

func TestLLVM(t *testing.T) {
	out, _ := exec.Command("llvm-mc", "-triple", "bpfel", "-mattr=+alu32", "-show-encoding", "/tmp/t.s").CombinedOutput()
	re := regexp.MustCompile(`^\t(.*?)\s+# encoding: \[(.*)\]`)
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		want := strings.ReplaceAll(strings.ReplaceAll(m[2], "0x", ""), ",", "")
		obj, err := asm.Parse("x", []byte(m[1]))
		if err != nil {
			t.Errorf("%s: %v", m[1], err)
			continue
		}
		got := hex.EncodeToString(core.EncodeInsns(obj.Progs[0].Insns))
		if got != want {
			t.Errorf("%s: got %s want %s", m[1], got, want)
		}
		n++
	}
	t.Logf("%d checked", n)
}
