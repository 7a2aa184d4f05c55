package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoSet0, demoSet2 = "jmp_table[0]=classifier_01", "jmp_table[2]=classifier_23"

// TestRunELFTrace: -set fills the story's slots, the globals print by
// their C names, -trace draws the tail calls nested by depth. Expected:
// the kernel's rules (legacy 33 + 33).
func TestRunELFTrace(t *testing.T) {
	code, out, errOut := jitsim(t, "run", "-prog", "entry", "-set", demoSet0, "-set", demoSet2, "-tcc", "legacy", "-trace", demoObject)
	want := "r0 = 0 (0x0)\ncount0 = 33\ncount1 = 33\ntail calls: 66\nentry\n" +
		"   └─ entry -> classifier_01  slot 0, indirect, depth 1, count 0 -> 1\n" +
		"      └─ classifier_01 -> classifier_01  slot 0, direct, depth 2..33, count 1 -> 33  (32 calls)\n" +
		"   └─ entry -> classifier_23  slot 2, indirect, depth 1, count 0 -> 1\n" +
		"      └─ classifier_23 -> classifier_23  slot 2, direct, depth 2..33, count 1 -> 33  (32 calls)\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	// Without -set the slots are empty, as the object leaves them: both
	// tail calls fail and entry returns 0.
	code, out, _ = jitsim(t, "run", "-prog", "entry", "-engine", "x86_64", demoObject)
	if code != 0 || out != "r0 = 0 (0x0)\ncount0 = 0\ncount1 = 0\n" {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

// TestRunJSON: r0, globals, every map, the context and the trace.
func TestRunJSON(t *testing.T) {
	code, out, errOut := jitsim(t, "run", "-json", "-engine", "arm64", "-prog", "entry", "-set", demoSet0, "-set", demoSet2, demoObject)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var res struct {
		Engine, TCC, Prog, Context, Packet string
		R0                                 uint64
		Globals                            []struct {
			Name, Map, Hex string
			Size           uint32
			Value          *uint64
		}
		Maps []struct {
			Name, Type string
			Entries    []struct{ Key, Value, Prog string }
		}
		Ctx       map[string]uint64
		TailCalls []struct {
			From, To    string
			Slot        uint32
			Direct      bool
			CountBefore uint32 `json:"count_before"`
			CountAfter  uint32 `json:"count_after"`
			Depth       int
		} `json:"tail_calls"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if res.Engine != "arm64" || res.TCC != "fixed" || res.Prog != "entry" || res.R0 != 0 || res.Context != "__sk_buff" {
		t.Fatalf("result %+v", res)
	}
	if len(res.Globals) != 2 || res.Globals[0].Name != "count0" || *res.Globals[0].Value != 33 || res.Globals[0].Map != ".bss" ||
		res.Globals[1].Name != "count1" || *res.Globals[1].Value != 0 || res.Globals[1].Hex != "00000000" {
		t.Fatalf("globals %+v", res.Globals)
	}
	if len(res.Maps) != 2 || res.Maps[0].Name != "jmp_table" || res.Maps[0].Type != "prog_array" ||
		len(res.Maps[0].Entries) != 2 || res.Maps[0].Entries[1].Key != "02000000" || res.Maps[0].Entries[1].Prog != "classifier_23" ||
		res.Maps[1].Name != ".bss" || res.Maps[1].Entries[0].Value != "2100000000000000" {
		t.Fatalf("maps %+v", res.Maps)
	}
	if len(res.TailCalls) != 33 || res.TailCalls[0].From != "entry" || res.TailCalls[0].Direct || res.TailCalls[0].Depth != 1 ||
		!res.TailCalls[32].Direct || res.TailCalls[32].CountAfter != 33 || res.TailCalls[32].Depth != 33 {
		t.Fatalf("tail calls %+v", res.TailCalls)
	}
	// The default packet is pkt_v4, unchanged; a tc context lists its
	// writable fields.
	pktV4 := "0000000000000000000000000800" + "0500007b00000000000600000000000000000000" + "0000000000000000000000005000000000007b00"
	if len(res.Ctx) != 10 || res.Ctx["mark"] != 0 || res.Ctx["cb[4]"] != 0 || res.Packet != pktV4 {
		t.Fatalf("ctx %v, packet %s", res.Ctx, res.Packet)
	}
	if res.TailCalls[0].CountBefore != 0 || res.TailCalls[1].CountBefore != 1 {
		t.Fatalf("counts %+v", res.TailCalls[:2])
	}
}

// TestRunPacket: -pkt, -pkt-file and -ctx build the program's context;
// expected values from the programs' C and the kernel's rules.
func TestRunPacket(t *testing.T) {
	tcp := func(port string) string {
		return "000000000000 000000000000 0800" + // Ethernet, IPv4
			"45000028 00000000 4006 0000 0a000001 0a000002" + // IPv4, TCP
			"1234" + port + "00000000 00000000 5002ffff 00000000"
	}
	pktFile := filepath.Join(t.TempDir(), "p.bin")
	if err := os.WriteFile(pktFile, []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x86\xdd"+strings.Repeat("\x00", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		// xdp_drop.c: 8080 is .rodata's default_port: XDP_DROP (1).
		{"xdp drop on 8080", []string{"-pkt", tcp("1f90"), "../../examples/real/xdp_drop.o"},
			"r0 = 1 (0x1)\ndefault_port = 8080\nenabled = 1\ndropped_total = 1\n"},
		{"xdp pass on 80", []string{"-engine", "x86_64", "-pkt", tcp("0050"), "../../examples/real/xdp_drop.o"},
			"r0 = 2 (0x2)\ndefault_port = 8080\nenabled = 1\ndropped_total = 0\n"},
		// counter.c returns skb->len: a socket filter sees 54 - 14.
		{"socket filter len", []string{"-engine", "arm64", "../../examples/real/counter.o"},
			"r0 = 40 (0x28)\ndropped_updates = 0\n"},
		// parse.c on an IPv6 frame: not IPv4, TC_ACT_OK (0), parsed stays 0.
		{"tc from a file", []string{"-pkt-file", pktFile, "../../examples/real/parse.o"},
			"r0 = 0 (0x0)\nparsed = 0\n"},
		{"-ctx on a tc program", []string{"-ctx", "mark=7", "../../examples/real/parse.o"},
			"r0 = 0 (0x0)\nparsed = 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := jitsim(t, append([]string{"run"}, tc.args...)...)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d, stderr %q, output %q; want %q", code, errOut, out, tc.want)
			}
		})
	}
}

// TestRunBadInput: one line, exit 2.
func TestRunBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-set", "jmp_table[0]", demoObject}, `invalid value "jmp_table[0]" for flag -set: want MAP[KEY]=PROG`},
		{[]string{"-set", "jmp_table[x]=entry", demoObject}, `invalid value "jmp_table[x]=entry" for flag -set: slot "x" is not a number`},
		{[]string{"-set", "nope[0]=entry", demoObject}, `-set nope[0]: no prog_array "nope" (prog arrays: jmp_table)`},
		{[]string{"-set", "jmp_table[4]=entry", demoObject}, "-set jmp_table[4]: slot 4 is past max_entries 4"},
		{[]string{"-set", "jmp_table[1]=nope", demoObject}, `-set jmp_table[1]: no program "nope" (programs: classifier_01, classifier_23, entry)`},
		{[]string{"-pkt", "0011", "-prog", "entry", demoObject}, "a 2-byte packet: a __sk_buff needs at least an Ethernet header (14 bytes)"},
		{[]string{"-pkt", "zz", demoObject}, "-pkt: encoding/hex: invalid byte"},
		{[]string{"-mem", "00", "-prog", "entry", demoObject}, "-mem: program entry gets a __sk_buff, not raw memory: give its packet with -pkt"},
		{[]string{"-mem", "00", "-pkt", "00", demoObject}, "-mem is raw context memory"},
		{[]string{"-ctx", "mark", demoObject}, `-ctx: "mark": want FIELD=VALUE`},
		{[]string{"-ctx", "mark=1", "../../examples/real/xdp_drop.o"}, "an XDP context has ifindex and rx_queue_index only"},
	} {
		code, _, errOut := jitsim(t, append([]string{"run"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestRunUnmodelledField: a context field jitsim does not model is one
// line naming the file, section, instruction and C line; exit 2.
func TestRunUnmodelledField(t *testing.T) {
	code, out, errOut := jitsim(t, "run", "-engine", "x86_64", "../../core/xlate/testdata/tstamp.o")
	want := "jitsim run: read_tstamp: ../../core/xlate/testdata/tstamp.o:tc:15:14 (insn 0): xlate: __sk_buff.tstamp (offset 152, 8-byte read) is not modelled by jitsim's context: not supported; C: return skb->tstamp != 0;\n"
	if code != 2 || out != "" || errOut != want {
		t.Fatalf("exit %d, stdout %q, stderr %q\nwant %q", code, out, errOut, want)
	}
}
