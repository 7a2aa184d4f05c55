package asm_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
)

// sameObject compares what Format promises to keep: programs (name, type,
// slots, symbols), maps (declaration, entries, prog slots), helper set.
func sameObject(a, b *core.Object) error {
	if a.Helpers != b.Helpers {
		return fmt.Errorf("helpers %v, then %v", a.Helpers, b.Helpers)
	}
	if len(a.Progs) != len(b.Progs) {
		return fmt.Errorf("%d programs, then %d", len(a.Progs), len(b.Progs))
	}
	for i, p := range a.Progs {
		q := b.Progs[i]
		switch {
		case p.Name != q.Name || p.Type != q.Type:
			return fmt.Errorf("program %d: %s type %d, then %s type %d", i, p.Name, p.Type, q.Name, q.Type)
		case !slices.Equal(p.Insns, q.Insns):
			return fmt.Errorf("program %s: insns\n%v\nthen\n%v", p.Name, raws(p.Insns), raws(q.Insns))
		case !slices.Equal(p.Symbols, q.Symbols):
			return fmt.Errorf("program %s: symbols %+v, then %+v", p.Name, p.Symbols, q.Symbols)
		case len(q.SlotPos) != len(q.Insns):
			return fmt.Errorf("program %s: %d positions for %d slots", p.Name, len(q.SlotPos), len(q.Insns))
		}
	}
	if len(a.Maps) != len(b.Maps) {
		return fmt.Errorf("%d maps, then %d", len(a.Maps), len(b.Maps))
	}
	for i, m := range a.Maps {
		n := b.Maps[i]
		if m.Name != n.Name || m.Type != n.Type || m.KeySize != n.KeySize || m.ValueSize != n.ValueSize ||
			m.MaxEntries != n.MaxEntries || m.Flags != n.Flags || m.Section != n.Section ||
			!entriesEqual(m.Entries, n.Entries) || !maps.Equal(m.Progs, n.Progs) {
			return fmt.Errorf("map %d: %+v, then %+v", i, m, n)
		}
	}
	return nil
}

func roundTrip(t *testing.T, name string, obj *core.Object) {
	t.Helper()
	text := asm.Format(obj)
	again, err := asm.Parse(name+".formatted", []byte(text))
	if err != nil {
		t.Fatalf("%s: formatted text does not parse: %v\n%s", name, err, text)
	}
	if err := sameObject(obj, again); err != nil {
		t.Fatalf("%s: round trip: %v\n%s", name, err, text)
	}
	if text2 := asm.Format(again); text2 != text {
		t.Fatalf("%s: Format is not stable:\n%s\nthen\n%s", name, text, text2)
	}
}

// TestRoundTripConformance: every program of the suite survives
// Format/Parse.
func TestRoundTripConformance(t *testing.T) {
	for _, c := range conformanceCases(t, "tests") {
		obj, err := asm.ParseOpts([]byte(c.asm), asm.Options{File: c.name, Line: c.line, Helpers: core.HelpersConformance})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		roundTrip(t, c.name, obj)
	}
}

func TestRoundTripFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.s")
	if len(files) == 0 {
		t.Fatal("no testdata/*.s")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := asm.Parse(f, src)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, f, obj)
	}
}

// TestRoundTripRaw: objects that did not come from text (a raw loader, a
// fuzzer) print too: malformed slots as .raw, targets out of range or into
// an ld_imm64 relative.
func TestRoundTripRaw(t *testing.T) {
	obj := &core.Object{Progs: []*core.Program{{
		Name: "raw",
		Insns: []core.Insn{
			in(0x07, 0, 0, 1, 1), // reserved off set
			in(0x05, 0, 0, 100, 0),
			in(0x05, 0, 0, 1, 0), // into the second slot of the ld_imm64
			in(0x18, 1, 0, 0, 5), in(0, 0, 0, 0, 6),
			in(0x18, 1, 4, 0, 2), in(0, 0, 0, 0, 0), // PseudoFunc: no text form
			in(0x85, 0, 1, 0, -8), // pseudo call to slot 0, no symbol there
			in(0xff, 0, 0, 0, 0),
			in(0x18, 2, 0, 0, 0), // truncated ld_imm64
		},
		Symbols: []core.Symbol{{Name: "tail", Insn: 10}},
	}}}
	roundTrip(t, "raw", obj)
	// A label between the two halves of an ld_imm64: only .raw can say it.
	roundTrip(t, "split", mustParse(t, ".raw 18 01 00 00 05 00 00 00\nmid:\n.raw 00 00 00 00 06 00 00 00\ngoto mid"))
}

// TestFormatText pins the printed form of a small object.
func TestFormatText(t *testing.T) {
	obj := mustParse(t, `.map m array key=4 value=4 max=2
.elem m 1 5
.prog p xdp
	mov %r0, 0
	jeq %r1, 0, +1
	call f
	exit
f:	r0 = map[m][0]+4
	exit`)
	want := `.helpers kernel
.map m array key=4 value=4 max=2
.elem m 0x1 0x5

.prog p xdp
	r0 = 0
	if r1 == 0x0 goto .L3
	call f
.L3:
	exit
.func f
	r0 = map[m][0]+4
	exit
`
	if got := asm.Format(obj); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

// TestListingParses: a bpftool-style listing (core.WriteXlated, with and
// without the opcode lines) assembles back to the same slots.
func TestListingParses(t *testing.T) {
	for _, c := range conformanceCases(t, "tests") {
		obj, err := asm.ParseOpts([]byte(c.asm), asm.Options{File: c.name, Helpers: core.HelpersConformance})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, opcodes := range []bool{false, true} {
			var b strings.Builder
			if err := core.WriteXlated(&b, obj, obj.Progs[0], opcodes); err != nil {
				t.Fatal(err)
			}
			src := b.String()
			if opcodes {
				// bpftool's opcode lines are hex bytes: drop them as a reader would.
				var kept []string
				for _, l := range strings.Split(src, "\n") {
					if !strings.HasPrefix(l, "       ") {
						kept = append(kept, l)
					}
				}
				src = strings.Join(kept, "\n")
			}
			again, err := asm.ParseOpts([]byte(src), asm.Options{File: "listing", Helpers: core.HelpersConformance})
			if err != nil {
				t.Fatalf("%s: listing does not parse: %v\n%s", c.name, err, src)
			}
			if !slices.Equal(obj.Progs[0].Insns, again.Progs[0].Insns) {
				t.Fatalf("%s: listing gives other slots\n%s", c.name, src)
			}
		}
	}
}

// TestDocsExample keeps docs/asm.md honest: its example assembles (it is
// testdata/docs_example.s, so it also round-trips) and lists as shown.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/asm.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/docs_example.s")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), string(src)) {
		t.Fatal("testdata/docs_example.s is not the example of docs/asm.md")
	}
	obj := mustParse(t, string(src))
	var b strings.Builder
	core.WriteXlated(&b, obj, obj.Progs[0], false)
	const marker = "`core.WriteXlated` lists one program as bpftool does:\n\n```\n"
	i := strings.Index(string(doc), marker)
	if i < 0 {
		t.Fatal("docs/asm.md lost its listing example")
	}
	listing := string(doc)[i+len(marker):]
	listing = listing[:strings.Index(listing, "```")]
	if !strings.HasPrefix(b.String(), listing) {
		t.Errorf("listing:\n%s\ndocs show:\n%s", b.String(), listing)
	}
}
