// Command jitsim runs, dumps and checks eBPF programs on jitsim's engines:
// the reference interpreter and the x86-64 and arm64 JITs under Unicorn.
//
//	jitsim demo    [-obj FILE] [-engine E[,E...]]
//	jitsim conform [-engine E[,E...]] [-tcc fixed|legacy|both] [-format text|json|junit] PATH...
//	jitsim run     [-engine E] [-tcc S] [-prog P] [-set MAP[K]=P]... [-mem HEX|-pkt HEX|-pkt-file F] [-ctx F=V,...] [-budget N] [-json] [-trace] FILE
//	jitsim dump    [-stage xlated|input|jited] [-arch A] [-tcc S] [-ibt] [-bti] [-pac] [-lse=false] [-opcodes] [-prog NAME] FILE
//	jitsim frames  [-arch A|interp] [-tcc S] [-at PROG:INSN[:HIT]] [-all] FILE
//	jitsim fuzz    [-engines E[,E...]] [-n N] [-seed S] [-tcc S] [-out DIR] [-budget N]
//
// Exit status: 0 success, 1 a run or case failed, 2 bad usage or unreadable
// input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// usageError is a bad flag or argument: one line on stderr, exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// inputError is input that cannot be read or loaded: exit 2.
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

// errFailed reports that a run or case failed after printing why: exit 1.
var errFailed = errors.New("failed")

type command struct {
	name, args, help string
	run              func(args []string, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	commands = []command{
		{"demo", "[-obj FILE] [-engine E[,E...]]", "the story's tailcall hierarchy demo on every engine, legacy and fixed: the table and why", runDemo},
		{"conform", "[-engine E[,E...]] [-tcc fixed|legacy|both] [-format text|json|junit] [-strict] PATH...", "run conformance .data files or folders of them", runConform},
		{"run", "[-engine E] [-tcc S] [-prog NAME] [-set MAP[KEY]=PROG]... [-mem HEX | -pkt HEX | -pkt-file F] [-ctx FIELD=V,...] [-budget N] [-json] [-trace] FILE", "run a clang-built object, asm, raw or .data file; print r0, the globals, the tail calls", runRun},
		{"dump", "[-stage xlated|input|jited] [-arch x86_64|arm64] [-tcc fixed|legacy] [-ibt] [-bti] [-pac] [-lse=false] [-opcodes] [-addrs] [-prog NAME] FILE", "print a program like bpftool prog dump xlated, or (-arch) dump jited linum", runDump},
		{"frames", "[-arch x86_64|arm64|interp] [-tcc fixed|legacy] [-at PROG:INSN[:HIT]] [-all] [-ibt] [-bti] [-pac] [-mem HEX] [-prog NAME] FILE", "draw the stack frames at a moment of a run (default: the deepest tail call)", runFrames},
		{"fuzz", "[-engines E[,E...]] [-n N] [-seed S] [-first I] [-tcc fixed|legacy|both] [-out DIR] [-budget N] [-minimize=false] [-format text|json|junit]", "run random programs on every engine, compare with the interpreter, write reproducers", runFuzz},
	}
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs jitsim with args and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		var ue usageError
		var ie inputError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			fmt.Fprintf(stderr, "usage: jitsim %s %s\n", c.name, c.args)
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "jitsim %s: %s (usage: jitsim %s %s)\n", c.name, ue.msg, c.name, c.args)
			return 2
		case errors.As(err, &ie):
			fmt.Fprintf(stderr, "jitsim %s: %v\n", c.name, ie.err)
			return 2
		case errors.Is(err, errFailed):
			return 1
		default:
			fmt.Fprintf(stderr, "jitsim %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "jitsim: unknown command %q (commands: %s)\n", args[0], commandNames())
	return 2
}

func commandNames() string {
	var n []string
	for _, c := range commands {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: jitsim COMMAND [flags] ARGS")
	for _, c := range commands {
		fmt.Fprintf(w, "  jitsim %s %s\n      %s\n", c.name, c.args, c.help)
	}
}

// newFlags makes a flag set whose errors come back as usageError rather
// than printing the whole flag list.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}
