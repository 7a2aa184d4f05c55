// Package cputime reads the process's CPU time for benchmarks. jitsim is
// measured on shared machines, where wall-clock rates move with other work;
// benchmarks report their rate per CPU second beside the wall-clock one.
package cputime

import (
	"syscall"
	"time"
)

// Now is the process's user + system CPU time so far (0 if the kernel
// cannot say).
func Now() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
