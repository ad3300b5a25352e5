package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
)

// CompileWorkerEnv is the environment variable that makes a process a compile worker
// (Config.CompileWorker): its value is the compilation cache dir to compile into.
const CompileWorkerEnv = "APFLOW_COMPILE_WORKER"

// Exit statuses of a compile worker (CompileWorkerMain).
const (
	workerCompiled = 0 // in the cache
	workerFailed   = 1 // the worker could not do its work
	workerInvalid  = 3 // the module is invalid: standard error holds why, as Load says it
)

// maxWorkerStderr is how much of a worker's standard error is kept for a refusal.
const maxWorkerStderr = 4 << 10

// CompileWorkerMain is the whole of a compile worker's process, which a program serving
// as Config.CompileWorker runs when CompileWorkerEnv is set (the value is cacheDir) and
// exits with the status it returns. It reads the module from stdin (a module with its
// tables capped, not yet checked), checks and validates it as written, rewrites it and
// compiles the rewrite with the Runtime's own settings, on threads goroutines
// (threads.go), which writes its native code to the compilation cache in cacheDir,
// then writes the rewrite to stdout, for the host to compile from the cache without
// rewriting it again. A module that does not validate is reported on stderr, as Load
// would word it.
func CompileWorkerMain(ctx context.Context, cacheDir string, threads int, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	defer func() {
		if p := recover(); p != nil { // worded as compileRecovered words it in a host
			fmt.Fprintf(stderr, "compiling the module failed, a defect of the host or a refusal of the system: %v\n", p)
			status = workerInvalid
		}
	}()
	wasm, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "compile worker: read the module:", err)
		return workerFailed
	}
	validator := wazero.NewRuntimeWithConfig(ctx, validatorConfig())
	defer validator.Close(ctx)
	if err := validateWith(ctx, validator, wasm); err != nil {
		fmt.Fprintln(stderr, err)
		return workerInvalid
	}
	metered, err := rewrite(wasm)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return workerInvalid
	}
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		fmt.Fprintf(stderr, "compile worker: open the compilation cache %s: %v\n", cacheDir, err)
		return workerFailed
	}
	wz := wazero.NewRuntimeWithConfig(ctx, compilerConfig(cache))
	defer wz.Close(ctx)
	cm, err := wz.CompileModule(withCompileThreads(ctx, threads), metered) // writes the cache before it returns
	if err != nil {
		fmt.Fprintln(stderr, err)
		return workerInvalid
	}
	_ = cm.Close(ctx)
	if _, err := stdout.Write(metered); err != nil {
		fmt.Fprintln(stderr, "compile worker: send the rewritten module:", err)
		return workerFailed
	}
	return workerCompiled
}

// errCallerGone wraps the context error of a caller whose compile in a worker ended
// because the caller went away (compile: the callers waiting for it compile again).
var errCallerGone = errors.New("the compile's caller went away")

// errWorkerUnavailable wraps the failure to start a compile worker: the host's, not the
// module's, so the module is compiled in this process instead (checkAndRewrite).
var errWorkerUnavailable = errors.New("the compile worker could not start")

// hasWorker reports whether the runtime compiles in a compile worker.
func (r *Runtime) hasWorker() bool {
	return len(r.cfg.CompileWorker) > 0 && r.cfg.CacheDir != ""
}

// compileInWorker has a compile worker check, validate, rewrite and compile capped (a
// module with its tables capped) into the compilation cache, and returns the rewrite the
// worker sent back, which the caller compiles, reading the code from the cache. It
// refuses the module as the
// worker says (an invalid module), when the worker fails otherwise (its standard error
// says why: the Go runtime's "fatal error: runtime: out of memory", say), or when it
// runs past Config.CompileTimeout and is killed. A worker that cannot start is
// errWorkerUnavailable.
//
// The worker ends with ctx (errCallerGone: a server shutting down does not wait for a
// compile of minutes), with the runtime (Close kills it) and, on Linux, with this
// process, even killed (workerAttr).
func (r *Runtime) compileInWorker(ctx context.Context, capped []byte) ([]byte, error) {
	if err := checkBounds(capped); err != nil { // refused here, without a process
		return nil, err
	}
	r.compilesInFlight.Add(1)
	defer r.compilesInFlight.Add(-1)
	argv := r.cfg.CompileWorker
	wctx, cancel := context.WithTimeout(ctx, r.cfg.CompileTimeout)
	defer cancel()
	defer context.AfterFunc(r.life, cancel)()
	cmd := exec.CommandContext(wctx, argv[0], argv[1:]...)
	cmd.Env = append(cmd.Environ(), CompileWorkerEnv+"="+r.cfg.CacheDir,
		CompileThreadsEnv+"="+strconv.Itoa(r.compileThreads()))
	cmd.Stdin = bytes.NewReader(capped)
	var metered bytes.Buffer
	cmd.Stdout = &metered
	stderr := &headBuffer{max: maxWorkerStderr}
	cmd.Stderr = stderr
	cmd.SysProcAttr = workerAttr()
	cmd.WaitDelay = time.Second // a killed worker's pipes are not waited on for longer
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	var exit *exec.ExitError
	switch {
	case err == nil && metered.Len() == 0:
		return nil, errors.New("the compile worker exited without sending back the rewritten module")
	case err == nil:
		r.cfg.Logger.Debug("module compiled by a worker", "took", time.Since(start))
		return metered.Bytes(), nil
	case r.life.Err() != nil:
		return nil, errors.New("sandbox runtime is closed")
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: %w", errCallerGone, ctx.Err())
	case cmd.Process == nil: // not started
		return nil, fmt.Errorf("%w: %v", errWorkerUnavailable, err)
	case errors.Is(wctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("compiling took longer than %s (the compile timeout); a module whose compile is this slow is refused", r.cfg.CompileTimeout)
	case errors.As(err, &exit) && exit.ExitCode() == workerInvalid:
		return nil, errors.New(strings.TrimSpace(stderr.String()))
	}
	msg := workerMessage(stderr.String())
	if msg == "" {
		msg = "no message"
	}
	return nil, fmt.Errorf("the compile worker failed (%v): %s", err, msg)
}

// workerMessage is the last non-empty line of s, or the first line of a Go runtime's
// fatal error or panic (which is followed by its goroutines' stacks).
func workerMessage(s string) string {
	for _, start := range []string{"fatal error:", "panic:"} {
		if i := strings.Index(s, start); i >= 0 {
			line, _, _ := strings.Cut(s[i:], "\n")
			return line
		}
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// headBuffer keeps the first max bytes written to it and drops the rest.
type headBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *headBuffer) String() string { return b.buf.String() }
