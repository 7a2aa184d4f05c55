package helper

import (
	"fmt"
	"strings"

	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// kernelHelpers are the kernel helper ids (enum bpf_func_id) jitsim serves.
var kernelHelpers = map[int32]Helper{
	kabi.FnMapLookupElem: {"bpf_map_lookup_elem", mapLookupElem},
	kabi.FnMapUpdateElem: {"bpf_map_update_elem", mapUpdateElem},
	kabi.FnMapDeleteElem: {"bpf_map_delete_elem", mapDeleteElem},
	kabi.FnKtimeGetNs:    {"bpf_ktime_get_ns", ktimeGetNs},
	kabi.FnTracePrintk:   {"bpf_trace_printk", tracePrintk},
	kabi.FnGetPrandomU32: {"bpf_get_prandom_u32", getPrandomU32},
}

// kernelUnmodelled are kernel helpers programs call that jitsim does not
// serve yet, named so an error says what was called.
var kernelUnmodelled = map[int32]string{
	// bpf_tail_call is no helper at run time: xlate rewrites the call
	// into JMP|TailCall, which every engine serves itself.
	kabi.FnTailCall:     "bpf_tail_call",
	kabi.FnSkbLoadBytes: "bpf_skb_load_bytes",
}

// errno values helpers return negated in r0.
const einval = 22

func negErrno(e int64) uint64 { return uint64(-e) }

func ktimeGetNs(env *Env, _ *[5]uint64) (uint64, error) {
	t := env.Clock
	env.Clock += ClockStep
	return t, nil
}

// getPrandomU32 steps a splitmix64 generator: deterministic per run (the
// kernel's is seeded per CPU at boot), zero-extended to 64 bits as the
// helper's u32 return is.
func getPrandomU32(env *Env, _ *[5]uint64) (uint64, error) {
	env.Rand += 0x9e3779b97f4a7c15
	z := env.Rand
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return uint64(uint32(z ^ z>>31)), nil
}

// maxTracePrintkArgs is MAX_TRACE_PRINTK_VARARGS.
const maxTracePrintkArgs = 3

// maxBprintfBuf is MAX_BPRINTF_BUF: the output is cut there, and %s
// strings share that much scratch space.
const maxBprintfBuf = 1024

// tracePrintk is bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3). Like
// the kernel's bpf_bprintf_prepare it accepts only %d %i %u %x %X with
// l/ll, %c, %s, %p/%px/%pK and %%, with "[0 +-][width]" flags, at most three
// arguments, and returns -EINVAL for anything else. It returns the length
// of the formatted text (bstr_printf's return) and appends the text to
// env.Printk. %p prints the raw pointer: the kernel's hashing would make
// output differ between runs.
func tracePrintk(env *Env, a *[5]uint64) (uint64, error) {
	if a[1] == 0 {
		return negErrno(einval), nil
	}
	raw, err := env.Bytes("bpf_trace_printk", a[0], a[1], mem.Read)
	if err != nil {
		return 0, err
	}
	end := -1
	for i, c := range raw {
		if c == 0 {
			end = i
			break
		}
	}
	if end < 0 {
		return negErrno(einval), nil
	}
	out, ok := bprintf(env, raw[:end], a[2:5])
	if !ok {
		return negErrno(einval), nil
	}
	n := len(out)
	if len(out) > maxBprintfBuf-1 {
		out = out[:maxBprintfBuf-1]
	}
	env.Printk = append(env.Printk, out...)
	return uint64(n), nil
}

func bprintf(env *Env, f []byte, args []uint64) ([]byte, bool) {
	var out []byte
	used, strBudget := 0, maxBprintfBuf
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c >= 0x80 || (c < ' ' && !isSpace(c)) || c == 0x7f {
			return nil, false
		}
		if c != '%' {
			out = append(out, c)
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			out = append(out, '%')
			continue
		}
		if used == len(args) || used == maxTracePrintkArgs {
			return nil, false
		}
		arg := args[used]
		used++
		start := i
		for i < len(f) && (f[i] == '0' || f[i] == '+' || f[i] == '-' || f[i] == ' ') {
			i++
		}
		if i < len(f) && f[i] >= '1' && f[i] <= '9' {
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
			}
		}
		spec := "%" + string(f[start:i])
		// C ignores '+' and ' ' on unsigned, character and string
		// conversions; Go would print them.
		uspec := strings.NewReplacer("+", "", " ", "").Replace(spec)
		if i >= len(f) {
			return nil, false
		}
		switch f[i] {
		case 'p':
			// %pK and %px are the only extensions served; "%p" followed
			// by other letters is a pointer extension jitsim lacks.
			if i+1 < len(f) && (f[i+1] == 'K' || f[i+1] == 'x') {
				i++
			} else if i+1 < len(f) && isAlnum(f[i+1]) {
				return nil, false
			}
			out = fmt.Appendf(out, uspec+"016x", arg)
			continue
		case 'c':
			out = fmt.Appendf(out, uspec+"s", []byte{byte(arg)}) // one byte, as C %c
			continue
		case 's':
			s, err := env.String("bpf_trace_printk %s", arg)
			if err != nil {
				s = nil // strncpy_from_kernel_nofault failed: the kernel prints ""
			}
			if len(s) > strBudget-1 {
				s = s[:max(strBudget-1, 0)]
			}
			strBudget -= len(s) + 1
			out = fmt.Appendf(out, uspec+"s", s)
			continue
		}
		long := 0
		for long < 2 && i < len(f) && f[i] == 'l' {
			long++
			i++
		}
		if i >= len(f) {
			return nil, false
		}
		conv := f[i]
		switch conv {
		case 'd', 'i':
			if long == 0 {
				out = fmt.Appendf(out, spec+"d", int32(arg))
			} else {
				out = fmt.Appendf(out, spec+"d", int64(arg))
			}
		case 'u', 'x', 'X':
			v := arg
			if long == 0 {
				v = uint64(uint32(arg))
			}
			verb := string(conv)
			if conv == 'u' {
				verb = "d"
			}
			out = fmt.Appendf(out, uspec+verb, v)
		default:
			return nil, false
		}
	}
	return out, true
}

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
