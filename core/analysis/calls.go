package analysis

import (
	"fmt"
	"strings"

	"jitsim/core/kabi"
)

// checkCalls rejects recursion (a call into a function already on the call
// stack, directly or through ld_imm64 function references, which the
// kernel's check_cfg and check_max_stack_depth also treat as calls) and
// orders the functions callees first for the stack analysis.
func (c *checker) checkCalls() error {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(c.funcs))
	var path []int
	var visit func(f int) error
	visit = func(f int) error {
		color[f] = grey
		path = append(path, f)
		for _, e := range c.funcs[f].calls {
			switch color[e.callee] {
			case grey:
				return c.errorf(e.insn, "recursive call: %s calls %s, which is already on the call stack (%s)",
					c.funcs[f].Name, c.funcs[e.callee].Name, c.chain(path))
			case white:
				if err := visit(e.callee); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		color[f] = black
		c.topo = append(c.topo, f)
		return nil
	}
	for f := range c.funcs {
		if color[f] == white {
			if err := visit(f); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) chain(path []int) string {
	names := make([]string, len(path))
	for i, f := range path {
		names[i] = c.funcs[f].Name
	}
	return strings.Join(names, " -> ")
}

// frameDepth is what check_max_stack_depth adds to the chain for a frame:
// round_up_stack_depth() of its stack_depth.
func (c *checker) frameDepth(f int) int {
	d := c.funcs[f].sum.certainDepth()
	if c.opts.JITStackRounding {
		return roundUp(d, 16)
	}
	return roundUp(max(d, 1), 32)
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// checkFrames applies check_max_stack_depth_subprog's limits to every call
// chain from the main function: at most kabi.MaxCallFrames frames, at most
// kabi.MaxBPFStack bytes of combined (rounded) stack, and a subprogram that
// makes a tail call must be entered with less than kabi.MaxTailCallStack
// bytes in the frames above it (the kernel's guard against 33 tail calls
// each keeping a caller's stack alive). The kernel walks every chain; the
// longest chain into each function, found over the call DAG in topological
// order, decides the same.
func (c *checker) checkFrames() error {
	// Reverse post-order from main: callers before callees, reachable only.
	var order []int
	seen := make([]bool, len(c.funcs))
	var visit func(f int)
	visit = func(f int) {
		seen[f] = true
		for _, e := range c.funcs[f].calls {
			if !seen[e.callee] {
				visit(e.callee)
			}
		}
		order = append(order, f)
	}
	visit(0)

	frames := make([]longest, len(c.funcs)) // frame index (main = 0)
	above := make([]longest, len(c.funcs))  // combined stack of the frames above
	frames[0] = longest{via: edge{insn: -1}, set: true}
	above[0] = longest{via: edge{insn: -1}, set: true}
	for k := len(order) - 1; k >= 0; k-- {
		f := order[k]
		if frames[f].v >= kabi.MaxCallFrames {
			return c.errorf(frames[f].via.insn, "the call stack of %d frames is too deep (%s); the limit is %d",
				frames[f].v+1, c.chainVia(frames, f), kabi.MaxCallFrames)
		}
		d := c.frameDepth(f)
		if f != 0 && c.funcs[f].HasTailCall && above[f].v >= kabi.MaxTailCallStack {
			return c.errorf(above[f].via.insn, "%s makes a tail call, but the frames above it use %d bytes of stack (%s); a tail call needs less than %d",
				c.funcs[f].Name, above[f].v, c.stackChain(above, f, false), kabi.MaxTailCallStack)
		}
		if total := above[f].v + d; total > kabi.MaxBPFStack {
			return c.errorf(above[f].via.insn, "the combined stack of %s is %d bytes, more than %d",
				c.stackChain(above, f, true), total, kabi.MaxBPFStack)
		}
		for _, e := range c.funcs[f].calls {
			g := e.callee
			if v := frames[f].v + 1; !frames[g].set || v > frames[g].v {
				frames[g] = longest{v: v, via: e, set: true}
			}
			if v := above[f].v + d; !above[g].set || v > above[g].v {
				above[g] = longest{v: v, via: e, set: true}
			}
		}
	}
	return nil
}

// longest is the longest chain found into a function by some measure.
type longest struct {
	v   int
	via edge // the call into the function on that chain; via.insn < 0 for main
	set bool
}

// callerOf returns the function holding a call edge.
func (c *checker) callerOf(e edge) int { return int(c.funcOf[e.insn]) }

func (c *checker) chainVia(b []longest, f int) string {
	var path []int
	for {
		path = append(path, f)
		if b[f].via.insn < 0 {
			break
		}
		f = c.callerOf(b[f].via)
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return c.chain(path)
}

// stackChain renders the chain into f with each frame's rounded stack,
// including f's own when self is set.
func (c *checker) stackChain(b []longest, f int, self bool) string {
	var parts []string
	if self {
		parts = append(parts, fmt.Sprintf("%s %d", c.funcs[f].Name, c.frameDepth(f)))
	}
	for b[f].via.insn >= 0 {
		f = c.callerOf(b[f].via)
		parts = append(parts, fmt.Sprintf("%s %d", c.funcs[f].Name, c.frameDepth(f)))
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " -> ")
}

// markTailCallReachable computes tail_call_reachable as Linux 6.11+ does:
//
//   - check_subprogs() marks a function that calls bpf_tail_call itself
//     (since "bpf, verifier: Correct tail_call_reachable for bpf prog",
//     6.11; before, the x86 JIT derived the same for its prologue from
//     detect_reg_usage()'s tail_call_seen). So a main function with a tail
//     call and no subprograms is tail_call_reachable, and the x86 JIT gives
//     it the tail call counter (xor rax,rax; emit_prologue_tail_call).
//   - check_max_stack_depth_subprog() walks the calls from main depth first
//     in slot order and keeps one flag for the whole walk, set the first
//     time it enters a callee with a tail call and never cleared. Whenever
//     the walk finishes a function while the flag is set, it marks every
//     caller on the current call stack (ret_prog[0..frame-1]: the callers,
//     not the function itself).
//   - The main function's mark becomes prog->aux->tail_call_reachable and
//     jit_subprogs() copies each subprogram's to its func[i]->aux.
//
// The walk re-enters shared callees, so rather than replay it this finds the
// moment the flag is set (the first entry into a tail-calling callee, at
// call stack A0..Ak) and marks: A0..Ak; every function entered after that
// moment which itself calls something (its callee's end marks it); and the
// tail callers. A function the walk passes before the flag is set, or a
// leaf, stays unmarked unless it tail-calls. Newer kernels (the dinfo
// rewrite of the walk) also mark the function that finishes, leaves
// included; jitsim follows the 6.11-6.18 rule.
func (c *checker) markTailCallReachable() {
	for i := range c.funcs {
		if c.funcs[i].HasTailCall {
			c.funcs[i].TailCallReachable = true
		}
	}
	reaches := make([]bool, len(c.funcs)) // the walk from f enters a tail caller
	for _, f := range c.topo {
		for _, e := range c.funcs[f].calls {
			if c.funcs[e.callee].HasTailCall || reaches[e.callee] {
				reaches[f] = true
			}
		}
	}
	if !reaches[0] {
		return
	}
	// Find the flag's moment: stack A0..Ak and, in each Aj, the position
	// of the call being walked.
	var stack []int
	var pos []int
	f := 0
descend:
	for {
		for k, e := range c.funcs[f].calls {
			if c.funcs[e.callee].HasTailCall || reaches[e.callee] {
				stack = append(stack, f)
				pos = append(pos, k)
				if c.funcs[e.callee].HasTailCall {
					break descend
				}
				f = e.callee
				continue descend
			}
		}
		return // unreachable: reaches[f] promised a tail caller
	}
	after := make([]bool, len(c.funcs)) // entered after the flag is set
	var enter func(g int)
	enter = func(g int) {
		if after[g] {
			return
		}
		after[g] = true
		for _, e := range c.funcs[g].calls {
			enter(e.callee)
		}
	}
	for j, a := range stack {
		c.funcs[a].TailCallReachable = true
		next := pos[j] + 1 // A(j+1) was entered before the flag was set...
		if j == len(stack)-1 {
			next = pos[j] // ...the tail caller as the flag was set
		}
		for _, e := range c.funcs[a].calls[next:] {
			enter(e.callee)
		}
	}
	for g := range c.funcs {
		if after[g] && len(c.funcs[g].calls) > 0 {
			c.funcs[g].TailCallReachable = true
		}
	}
}
