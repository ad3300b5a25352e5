package sandbox

import (
	"context"
	"runtime"
	"strconv"

	"github.com/tetratelabs/wazero/experimental"
)

// A compile worker compiles a module's functions on several goroutines at once
// (wazero's experimental.WithCompilationWorkers), as many as the cores the host may use
// (GOMAXPROCS), shared among the workers in flight: a plugin author's edit, the one
// module compiling, has every core, and a registry compiling a directory, one module a
// core (registry/scan.go), keeps one goroutine a module. A Go module's first compile
// took 0.6 of the time with two (docs/performance.md, thirty-ninth pass). Each
// goroutine has a compiler of its own, so a compile's memory grows with them; a
// worker's is its own process's, freed when it exits.
//
// The host itself compiles on one goroutine (where it has no worker, or a module's
// native code left the cache), whatever a caller's context asks: wazero runs the
// others without recovering their panics, so a defect of its compiler there would end
// the host, where on the calling goroutine it refuses the module (compileRecovered). In
// a worker it ends the worker, and the host refuses the module with its message.

// CompileThreadsEnv is the environment variable that tells a compile worker how many
// goroutines compile its module (CompileWorkerThreads reads it).
const CompileThreadsEnv = "APFLOW_COMPILE_THREADS"

// maxCompileThreads bounds a compile's goroutines, whatever GOMAXPROCS or a worker's
// environment says: each holds a compiler's memory.
const maxCompileThreads = 8

// compileThreads is how many goroutines a compile worker starting now gets: GOMAXPROCS
// shared among the workers in flight, this one included.
func (r *Runtime) compileThreads() int {
	return shareCores(runtime.GOMAXPROCS(0), int(r.compilesInFlight.Load()))
}

// shareCores is procs shared among compiles, at least 1 and at most maxCompileThreads.
func shareCores(procs, compiles int) int {
	return max(1, min(maxCompileThreads, procs/max(1, compiles)))
}

// withCompileThreads has wazero compile with n goroutines under ctx.
func withCompileThreads(ctx context.Context, n int) context.Context {
	return experimental.WithCompilationWorkers(ctx, max(1, min(maxCompileThreads, n)))
}

// CompileWorkerThreads reads the goroutines a compile worker compiles with from
// CompileThreadsEnv's value (getenv is os.Getenv): 1 when it is unset or not a
// positive number.
func CompileWorkerThreads(getenv func(string) string) int {
	n, err := strconv.Atoi(getenv(CompileThreadsEnv))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, maxCompileThreads)
}
