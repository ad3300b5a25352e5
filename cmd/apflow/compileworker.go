package main

import (
	"context"
	"os"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// compileWorker is the command line of this binary as a compile worker
// (sandbox.Config.CompileWorker): a plugin's first compile runs in a process of its
// own, bounded by --compile-timeout, so that a module wazero's compiler would take
// minutes over, or run out of memory on, is refused and the host goes on. On Linux it
// is /proc/self/exe, this process's own binary even once its file is replaced or
// removed (an upgrade in place must not make a newer binary, whose compiled code the
// cache keeps apart, the worker). nil when the executable cannot be found: plugins are
// then compiled in this process.
func compileWorker() []string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return []string{"/proc/self/exe"}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{exe}
}

// serveAsCompileWorker runs the compile worker when this process was started as one
// (sandbox.CompileWorkerEnv set): it compiles the module on standard input and returns
// the process's exit status and true.
func serveAsCompileWorker() (int, bool) {
	dir, ok := os.LookupEnv(sandbox.CompileWorkerEnv)
	if !ok {
		return 0, false
	}
	threads := sandbox.CompileWorkerThreads(os.Getenv)
	return sandbox.CompileWorkerMain(context.Background(), dir, threads, os.Stdin, os.Stdout, os.Stderr), true
}
