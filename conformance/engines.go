package conformance

import (
	"fmt"
	"strings"

	"jitsim/core"
	"jitsim/core/interp"
	"jitsim/sim"
)

// EngineNames are the engines jitsim knows, in the order results are shown.
var EngineNames = []string{"interp", "x86_64", "arm64"}

// builders make each engine; an engine not built yet is absent.
var builders = map[string]func() (core.Engine, error){
	"interp": func() (core.Engine, error) { return interp.New(), nil },
	// The JITs under Unicorn, with a stock kernel's options (sim.DefaultOptions:
	// no IBT; LSE atomics on an ARMv8.1 CPU).
	"x86_64": func() (core.Engine, error) { return sim.New("x86_64") },
	"arm64":  func() (core.Engine, error) { return sim.New("arm64") },
	// arm64 as on a CPU without LSE (ARMv8.0, Cortex-A72): the JIT emits
	// the kernel's LL/SC loops for atomics.
	"arm64-llsc": func() (core.Engine, error) {
		e, err := sim.New("arm64", sim.Options{LSE: false})
		if err != nil {
			return nil, err
		}
		return named{e, "arm64-llsc"}, nil
	},
}

// variantNames are engines built with other options than a stock kernel's;
// they run when named, not by default.
var variantNames = []string{"arm64-llsc"}

// named is an engine under another name, so that reports tell variants of
// one architecture apart. Its other methods (maps.Holder, Close) are the
// engine's own.
type named struct {
	*sim.Engine
	name string
}

func (n named) Name() string { return n.name }

// Available lists the engines this build can run.
func Available() []string {
	var out []string
	for _, n := range EngineNames {
		if builders[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

// NewEngine builds an engine by name.
func NewEngine(name string) (core.Engine, error) {
	b := builders[name]
	if b == nil {
		for _, n := range EngineNames {
			if n == name {
				return nil, fmt.Errorf("engine %s is not available in this build (available: %s)", name, strings.Join(Available(), ", "))
			}
		}
		return nil, fmt.Errorf("unknown engine %q (known: %s)", name, strings.Join(append(EngineNames[:len(EngineNames):len(EngineNames)], variantNames...), ", "))
	}
	return b()
}

// NewEngines builds a comma-separated list of engines.
func NewEngines(list string) ([]core.Engine, error) {
	var out []core.Engine
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		e, err := NewEngine(n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no engine named in %q", list)
	}
	return out, nil
}

// ParseSchemes reads "fixed", "legacy" or "both".
func ParseSchemes(s string) ([]core.Scheme, error) {
	if s == "both" {
		return []core.Scheme{core.Fixed, core.Legacy}, nil
	}
	if sc, ok := core.ParseScheme(s); ok {
		return []core.Scheme{sc}, nil
	}
	return nil, fmt.Errorf("-tcc %q: want fixed, legacy or both", s)
}
