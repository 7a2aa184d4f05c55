package conformance

import (
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/interp"
)

const runsProgram = `-- asm
.helpers kernel
.map jmp prog_array key=4 value=4 max=2
.slot jmp 0 leaf
.map n array key=4 value=4 max=1 section=.bss
.prog entry tc
	r1 = map[n][0]+0
	r2 = 1
	lock *(u32 *)(r1 +0) += r2
	r2 = map[jmp] ll
	r3 = 0
	call bpf_tail_call
	r0 = 7
	exit
.prog leaf tc
	r0 = 1
	exit
-- runs
`

func TestRunsParse(t *testing.T) {
	c, err := ParseCase("x.data", []byte(runsProgram+`run r0=1 n=1 tail_calls=1   # comment
fixed: delete jmp 0
legacy: update jmp 1 leaf errno=EINVAL
set n 0 -1
run entry error="budget exhausted" n>=3 n[0]=4
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Runs) != 5 {
		t.Fatalf("%d steps", len(c.Runs))
	}
	st := c.Runs[4]
	if st.Op != "run" || st.Prog != "entry" || len(st.Checks) != 3 || st.Checks[0].Text != "budget exhausted" ||
		!st.Checks[1].AtLeast || st.Checks[1].Val != 3 || st.Checks[2].What != "n" || st.Checks[2].Key != 0 {
		t.Fatalf("step %+v", st)
	}
	if s := c.Runs[1]; !s.HasScheme || s.Scheme != core.Fixed || s.Op != "delete" || s.Map != "jmp" || s.Key != 0 {
		t.Fatalf("step %+v", s)
	}
	if s := c.Runs[3]; s.Value != -1 {
		t.Fatalf("set value %d", s.Value)
	}
	for _, tc := range []struct{ runs, want string }{
		{"jump jmp 0\n", `x.data:19: parse: unknown step "jump"`},
		{"delete jmp\n", "x.data:19: parse: delete takes MAP KEY"},
		{"run r0=x\n", `x.data:19: parse: check "r0=x": "x" is not a number`},
		{"run a b\n", "x.data:19: parse: run takes [PROG] then checks"},
		{"delete jmp 0 errno=ENOPE\n", `x.data:19: parse: check "errno=ENOPE": errno is one of`},
		{"delete jmp 0 r0=1\n", `x.data:19: parse: check "r0=1": delete takes only errno=`},
		{"run errno=ENOENT\n", `x.data:19: parse: check "errno=ENOENT": error= goes with run`},
		{"sometimes: run\n", `x.data:19: parse: "sometimes:": a step may start with fixed: or legacy:`},
		{"run error=\"open\n", "x.data:19: parse: unterminated quote"},
		{"# nothing\n", "x.data: parse: the runs section has no step"},
	} {
		_, err := ParseCase("x.data", []byte(runsProgram+tc.runs))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.runs, err, tc.want)
		}
	}
	if _, err := ParseCase("x.data", []byte(runsProgram+"run r0=1\n-- result\n1\n")); err == nil || !strings.Contains(err.Error(), "a runs section carries its own checks") {
		t.Fatalf("runs with result: %v", err)
	}
}

// notHolder is an engine that hides its maps.
type notHolder struct{ core.Engine }

func TestRunsRunner(t *testing.T) {
	for _, tc := range []struct {
		runs string
		pass bool
		want string // the failure, with the step's line
	}{
		{"run r0=1 n=1 tail_calls=1\nrun r0=1 n=2\ndelete jmp 0\nrun r0=7 n=3 tail_calls=0\ndelete jmp 0 errno=ENOENT\nset n 0 40\nrun n=41\n", true, ""},
		{"run r0=2\n", false, "x.data:19: r0 = 1 (0x1), want r0=2"},
		{"run n>=2\n", false, "x.data:19: n = 1 (0x1), want n>=2"},
		{"delete jmp 1\n", false, "x.data:19: delete jmp 1: ENOENT (no such file or directory)"},
		{"update jmp 5 leaf\n", false, "x.data:19: update jmp 5: E2BIG (argument list too long)"},
		{"run nope r0=1\n", false, `x.data:19: no program "nope"`},
		{"run r0=1 missing=1\n", false, `x.data:19: missing=1: no map "missing"`},
		{"run error=budget\n", false, `x.data:19: ran without error (r0 = 0x1), want an error containing "budget"`},
		{"fixed: run r0=1\nlegacy: run r0=9\n", false, "x.data:20: r0 = 1 (0x1), want r0=9"},
		{"delete jmp 0 errno=EEXIST\n", false, "x.data:19: delete jmp 0: no error, want EEXIST"},
	} {
		c, err := ParseCase("x.data", []byte(runsProgram+tc.runs))
		if err != nil {
			t.Fatal(err)
		}
		r := &Runner{Engines: []core.Engine{interp.New()}, Schemes: []core.Scheme{core.Fixed, core.Legacy}, Strict: true}
		reps := r.Run(c)
		if len(reps) != 2 {
			t.Fatalf("%d reports", len(reps))
		}
		failed := ""
		for _, rep := range reps {
			if !rep.Pass && failed == "" {
				failed = rep.Reason
			}
		}
		if tc.pass != (failed == "") || !tc.pass && failed != tc.want {
			t.Errorf("%q: failure %q, want %q", tc.runs, failed, tc.want)
		}
	}
	c, _ := ParseCase("x.data", []byte(runsProgram+"run r0=1\n"))
	r := &Runner{Engines: []core.Engine{notHolder{interp.New()}}, Schemes: []core.Scheme{core.Fixed}}
	if rep := r.Run(c)[0]; rep.Pass || rep.Reason != "engine interp does not give access to its maps (maps.Holder)" {
		t.Fatalf("%+v", rep)
	}
}
