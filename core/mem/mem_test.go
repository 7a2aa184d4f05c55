package mem

import (
	"strings"
	"testing"
)

func TestSpace(t *testing.T) {
	var s Space
	defer s.Close()
	stack, err := s.Map("stack", StackBase, 100, Read|Write)
	if err != nil {
		t.Fatal(err)
	}
	if len(stack.Data) != PageSize || stack.End() != StackBase+PageSize {
		t.Fatalf("stack region %d bytes, end %#x", len(stack.Data), stack.End())
	}
	ro, err := s.Map("rodata", GlobalBase, PageSize, Read)
	if err != nil {
		t.Fatal(err)
	}
	ro.Data[8] = 0x5a

	if !s.Store(StackBase+8, 8, 0x1122334455667788) {
		t.Fatal("store in the stack failed")
	}
	if v, ok := s.Load(StackBase+8, 4); !ok || v != 0x55667788 {
		t.Fatalf("load = %#x, %v", v, ok)
	}
	if stack.Data[8] != 0x88 || stack.Data[15] != 0x11 {
		t.Fatalf("bytes not little-endian: % x", stack.Data[8:16])
	}
	if v, ok := s.Load(GlobalBase+8, 1); !ok || v != 0x5a {
		t.Fatalf("rodata load = %#x, %v", v, ok)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"store to read-only", s.Store(GlobalBase, 1, 1)},
		{"access straddling the end", s.Store(StackBase+PageSize-4, 8, 1)},
		{"unmapped address", s.Store(0, 1, 1)},
		{"address wrapping around", s.Store(^uint64(0)-2, 8, 1)},
	} {
		if tc.ok {
			t.Errorf("%s succeeded", tc.name)
		}
	}
	if _, ok := s.Load(StackBase+PageSize, 1); ok {
		t.Error("load one past the end succeeded")
	}
}

func TestMapErrors(t *testing.T) {
	var s Space
	defer s.Close()
	if _, err := s.Map("a", CtxBase, PageSize, Read); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		base uint64
		size int
		want string
	}{
		{CtxBase + PageSize/2, PageSize, "not page aligned"},
		{CtxBase, PageSize, "overlaps a"},
		{CtxBase - PageSize, 2 * PageSize, "overlaps a"},
		{CtxBase + PageSize, 0, "size 0"},
		{^uint64(0) - PageSize + 1, 2 * PageSize, "wraps"},
	} {
		if _, err := s.Map("b", tc.base, tc.size, Read); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("map %#x+%d: err %v, want %q", tc.base, tc.size, err, tc.want)
		}
	}
}

func TestUnmap(t *testing.T) {
	var s Space
	r, _ := s.Map("a", CtxBase, PageSize, Read|Write)
	if !s.Store(CtxBase, 4, 7) {
		t.Fatal("store")
	}
	if err := s.Unmap(r); err != nil {
		t.Fatal(err)
	}
	if s.Store(CtxBase, 4, 7) {
		t.Fatal("store after unmap succeeded")
	}
	if err := s.Unmap(r); err == nil {
		t.Fatal("second unmap succeeded")
	}
	if _, err := s.Map("a again", CtxBase, PageSize, Read); err != nil {
		t.Fatalf("remap after unmap: %v", err)
	}
	s.Close()
	if len(s.Regions()) != 0 {
		t.Fatal("regions left after Close")
	}
}

func BenchmarkLoad(b *testing.B) {
	var s Space
	defer s.Close()
	s.Map("stack", StackBase, StackSize, Read|Write)
	s.Map("ctx", CtxBase, PageSize, Read|Write)
	var sum uint64
	for i := 0; b.Loop(); i++ {
		v, _ := s.Load(StackBase+uint64(i&1023)*8, 8)
		sum += v
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "loads/s")
	_ = sum
}
