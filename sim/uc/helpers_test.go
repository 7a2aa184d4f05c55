package uc_test

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"

	"jitsim/core/mem"
	"jitsim/sim/uc"
)

// x86 is one hand-encoded instruction and its disassembly, so a wrong byte
// shows up as a wrong mnemonic before anything runs.
type x86 struct{ hex, gnu string }

// x86Code checks each instruction with x86asm and returns the bytes.
func x86Code(t testing.TB, insns ...x86) []byte {
	t.Helper()
	var code []byte
	for _, in := range insns {
		b, err := hex.DecodeString(in.hex)
		if err != nil {
			t.Fatalf("%s: %v", in.hex, err)
		}
		inst, err := x86asm.Decode(b, 64)
		if err != nil || inst.Len != len(b) {
			t.Fatalf("decode %s: len %d, err %v", in.hex, inst.Len, err)
		}
		if got := x86asm.GNUSyntax(inst, 0, nil); got != in.gnu {
			t.Fatalf("%s disassembles as %q, want %q", in.hex, got, in.gnu)
		}
		code = append(code, b...)
	}
	return code
}

// a64 is one arm64 instruction word and its disassembly.
type a64 struct {
	word uint32
	gnu  string
}

func a64Code(t testing.TB, insns ...a64) []byte {
	t.Helper()
	var code []byte
	for _, in := range insns {
		b := binary.LittleEndian.AppendUint32(nil, in.word)
		code = append(code, b...)
		if isLSE(in) {
			continue // arm64asm decodes ARMv8.0 only; see TestLSEEncoding
		}
		inst, err := arm64asm.Decode(b)
		if err != nil {
			t.Fatalf("decode %08x: %v", in.word, err)
		}
		// arm64asm prints operand-less instructions with a trailing space.
		if got := strings.TrimSpace(arm64asm.GNUSyntax(inst)); got != in.gnu {
			t.Fatalf("%08x disassembles as %q, want %q", in.word, got, in.gnu)
		}
	}
	return code
}

// machine is an engine with guest regions from core/mem mapped in through
// MemMapPtr, as the simulator maps them.
type machine struct {
	u     *uc.Unicorn
	space mem.Space
}

func newMachine(t testing.TB, arch uc.Arch, model int) *machine {
	t.Helper()
	mode := uc.Mode64
	if arch == uc.ArchARM64 {
		mode = uc.ModeARM
	}
	u, err := uc.Open(arch, mode)
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{u: u}
	t.Cleanup(func() {
		if err := u.Close(); err != nil {
			t.Error(err)
		}
		if err := m.space.Close(); err != nil {
			t.Error(err)
		}
	})
	if model >= 0 {
		if err := u.SetCPUModel(model); err != nil {
			t.Fatalf("SetCPUModel(%d): %v", model, err)
		}
	}
	return m
}

// region maps size bytes at base into both the space and the engine.
func (m *machine) region(t testing.TB, name string, base uint64, size int, prot uc.Prot) []byte {
	t.Helper()
	r, err := m.space.Map(name, base, size, mem.Prot(prot))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.u.MemMapPtr(r.Base, r.Data, prot); err != nil {
		t.Fatalf("MemMapPtr %s at %#x: %v", name, base, err)
	}
	return r.Data
}

// code maps one page of code at base holding b, and returns its host bytes.
func (m *machine) code(t testing.TB, base uint64, b []byte) []byte {
	t.Helper()
	page := m.region(t, "code", base, mem.PageSize, uc.ProtRead|uc.ProtExec)
	copy(page, b)
	return page
}

func (m *machine) reg(t testing.TB, reg int) uint64 {
	t.Helper()
	v, err := m.u.RegRead(reg)
	if err != nil {
		t.Fatalf("RegRead(%d): %v", reg, err)
	}
	return v
}

func (m *machine) setReg(t testing.TB, reg int, v uint64) {
	t.Helper()
	if err := m.u.RegWrite(reg, v); err != nil {
		t.Fatalf("RegWrite(%d): %v", reg, err)
	}
}

// Guest addresses from core/mem, typed so they print with %#x.
const (
	x86Base    uint64 = mem.X86CodeBase
	x86Helper  uint64 = mem.X86HelperBase
	a64Base    uint64 = mem.Arm64CodeBase
	a64Helper  uint64 = mem.Arm64HelperBase
	stackBase  uint64 = mem.StackBase
	stackTop   uint64 = mem.StackTop
	ctxBase    uint64 = mem.CtxBase
	mapBase    uint64 = mem.MapBase
	globalBase uint64 = mem.GlobalBase
)

// uc.Prot and mem.Prot share bit values (read 1, write 2, exec 4).
const rw = uc.ProtRead | uc.ProtWrite

func le64(b []byte) uint64     { return binary.LittleEndian.Uint64(b) }
func put64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }
