package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/apflow-wasm/apflow/host/task"
)

// Runtime is the host process's WebAssembly runtime: one wazero runtime, its compilation
// cache, the compiled modules (one per content hash) and the host modules every plugin
// links against. It is safe for concurrent use. Create one per process with [New].
type Runtime struct {
	cfg   Config
	wz    wazero.Runtime
	cache wazero.CompilationCache
	// validator compiles a module's original bytes (interpreter: cheap, nothing cached)
	// to validate them before the rewrite, which could make an invalid module valid.
	validator wazero.Runtime
	// rewrites keeps rewritten modules next to the compilation cache (rewritecache.go).
	rewrites rewriteCache

	// life is cancelled by Close: every call's context ends with it (callContext).
	life    context.Context
	endLife context.CancelFunc

	// memReserve is the address space each instance's memory reserves, to grow in place
	// (limitedMemory): the ceiling of a task's memory, or nothing where the process's
	// address space is bounded.
	memReserve uint64

	// hostFuncs maps "module\x00name" to the signature every import must have.
	hostFuncs map[string]api.FunctionDefinition

	// Counters for Stats.
	loads, described, compiles, instances atomic.Int64
	// rewritten counts modules validated as written and rewritten (not read back from
	// the rewrite cache).
	rewritten atomic.Int64
	// compilesInFlight counts the compile workers running (compileInWorker), which share
	// the cores among their goroutines (threads.go).
	compilesInFlight atomic.Int64

	mu       sync.Mutex
	compiled map[string]*compiledEntry // by sha256 hex
	// poisoned refuses, by sha256 hex, the modules whose compile panicked (see compile).
	poisoned map[string]error
	closed   bool
	// calls counts guest calls, loads, compiles and inspections in flight (enter..leave);
	// Close waits for them before closing the wazero runtimes, which must not close a
	// module a guest still runs in, nor be closed under a compile. Add happens under mu
	// while not closed, so it never races with Close's Wait.
	calls sync.WaitGroup
	// testBeforeCompile, when a test sets it, runs at the start of each compileChecked,
	// given the context this process compiles under.
	testBeforeCompile func(ctx context.Context)
	// shutdownOnce closes wz, cache and validator after the last call; shutdownErr is
	// what that returned.
	shutdownOnce sync.Once
	shutdownErr  error
}

// RuntimeStats counts the work a Runtime did since it was created.
type RuntimeStats struct {
	// Loads is how many modules Load accepted (each compiled and instantiated once).
	Loads int64
	// Described is how many modules LoadDescribed accepted (neither compiled nor
	// instantiated until their first Ready).
	Described int64
	// Compiles is how many times a module was compiled (or read back from the
	// compilation cache): once per content hash while some Module uses it.
	Compiles int64
	// Instances is how many instances were created: metadata reads of Load and pooled
	// instances of calls.
	Instances int64
}

// Stats returns the runtime's counters.
func (r *Runtime) Stats() RuntimeStats {
	return RuntimeStats{Loads: r.loads.Load(), Described: r.described.Load(),
		Compiles: r.compiles.Load(), Instances: r.instances.Load()}
}

// CacheDir returns the directory of the persistent compilation cache (Config.CacheDir),
// or "" when the cache is in memory only.
func (r *Runtime) CacheDir() string { return r.cfg.CacheDir }

// compiledEntry is a compiled module shared by every Module loaded from the same bytes.
type compiledEntry struct {
	ready chan struct{} // closed when mod or err is set
	mod   wazero.CompiledModule
	err   error
	refs  int
}

// New creates the runtime: the compilation cache (persistent when cfg.CacheDir is set),
// the wazero runtime, WASI preview 1 and the apflow host module. The runtime does not
// close modules on context done: a runaway guest is stopped by the interrupt checks the
// module rewrite inserts (interrupt.go), which cost far less.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("sandbox: create compilation cache dir: %w", err)
		}
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("sandbox: open compilation cache %s: %w", cfg.CacheDir, err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	rc := compilerConfig(cache)
	life, endLife := context.WithCancel(context.Background())
	r := &Runtime{
		cfg:       cfg,
		life:      life,
		endLife:   endLife,
		wz:        wazero.NewRuntimeWithConfig(ctx, rc),
		cache:     cache,
		validator: wazero.NewRuntimeWithConfig(ctx, validatorConfig()),
		compiled:  map[string]*compiledEntry{},
		poisoned:  map[string]error{},
		rewrites:  rewriteCache{dir: rewriteDir(cfg.CacheDir), compiler: compilerTag()},
		hostFuncs: map[string]api.FunctionDefinition{},
	}
	if !addressSpaceLimited() {
		r.memReserve = uint64(cfg.Max.MemoryPages) * pageSize
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.wz); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("sandbox: instantiate WASI: %w", err)
	}
	host, err := r.instantiateHostModule(ctx)
	if err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("sandbox: instantiate host module %s: %w", hostModuleName, err)
	}
	for _, m := range []api.Module{r.wz.Module(wasiModuleName), host} {
		for name, def := range m.ExportedFunctionDefinitions() {
			r.hostFuncs[m.Name()+"\x00"+name] = def
		}
	}
	return r, nil
}

// Effective returns the limits an execution runs under: l's non-zero fields over the
// operator defaults, each clamped to the operator maximum.
func (r *Runtime) Effective(l task.Limits) task.Limits { return r.cfg.effective(l) }

// Close closes every module, the wazero runtime and the compilation cache. Executions
// still running are interrupted, including those blocked in a host call (a sleep, an
// HTTP request): they fail with KindCancelled.
//
// Close ends the calls in flight first and waits for them before closing the runtime
// underneath (wazero must not close a module a guest still runs in), and for the
// compiles in flight, which cannot be interrupted (a Go module's first compile takes
// seconds). When ctx ends first, Close returns ctx.Err() at once; the runtime is closed
// in the background once the cancelled calls and the compiles have returned. Calls and
// loads after Close fail with KindClosed. Close may be called more than once; the
// runtime is closed once.
func (r *Runtime) Close(ctx context.Context) error {
	r.endLife()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	drained := make(chan struct{})
	go func() {
		r.calls.Wait()
		r.shutdown()
		close(drained)
	}()
	select {
	case <-drained:
		return r.shutdownErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown closes the wazero runtimes and the compilation cache, once, when no call is
// in flight.
func (r *Runtime) shutdown() {
	r.shutdownOnce.Do(func() {
		ctx := context.Background() // the caller's may be done: closing must happen anyway
		r.shutdownErr = errors.Join(r.wz.Close(ctx), r.cache.Close(ctx), r.validator.Close(ctx))
	})
}

// enter registers a guest call (or a load, a compile, an inspection) in flight, or
// reports that the runtime is closed. Each successful enter must be followed by one
// leave; enters may nest.
func (r *Runtime) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.calls.Add(1)
	return true
}

// isClosed reports whether Close was called.
func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// closedError is the error of a load or call refused or ended because the runtime is
// closing or closed; cause is what the load failed with, if anything.
func (r *Runtime) closedError(plugin, hash string, cause error) error {
	return &Error{Plugin: plugin, Hash: hash, Kind: KindClosed, Msg: "the sandbox runtime is closed", Err: cause}
}

// leave ends what enter registered.
func (r *Runtime) leave() { r.calls.Done() }

// Hash returns the content hash of a module: sha256, lower-case hex.
func Hash(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// compilerConfig is the configuration of the runtime that compiles and runs modules, and
// of a compile worker's (isolate.go): the same, so that the worker's compiled code is
// found in the cache under the key the runtime looks for.
func compilerConfig(cache wazero.CompilationCache) wazero.RuntimeConfig {
	// Limits are enforced per instance by limitedMemory; the runtime keeps wazero's
	// default (the wasm32 maximum) so that no module is refused for declaring a large
	// maximum it never uses.
	return wazero.NewRuntimeConfig().WithCoreFeatures(coreFeatures).WithCompilationCache(cache).
		WithDebugInfoEnabled(false) // see validatorConfig
}

// validatorConfig is the configuration of the runtime that validates modules as written
// (validate). Without debug info: wazero would parse a module's DWARF sections with Go's
// debug/dwarf as it decodes, in time and memory quadratic in their units (26,000 units,
// a 451 KB module, took over 22 GB), and the rewrite drops them anyway (stack.go), so
// no trap of a guest ever shows their source lines.
func validatorConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(coreFeatures).WithDebugInfoEnabled(false)
}

// coreFeatures are the WebAssembly features of the runtime and of its validator.
const coreFeatures = api.CoreFeaturesV2

// compile returns the compiled module of orig (rewritten and validated by
// compileChecked), compiling it at most once per content hash however many goroutines
// ask at the same time. The caller owns one reference and must release it.
//
// A compile counts as a call in flight (enter): Close waits for it, up to a cold
// compile's length (seconds for a Go module), before it closes the wazero runtimes,
// which would otherwise be closed under it (Module.Ready compiles outside any call).
// A panic while compiling (a defect of wazero or of the host, or an mmap the system
// refused) refuses the module with the panic's message instead of ending the process,
// wakes the callers waiting for the same hash, is logged with its stack, and refuses
// every later compile of that hash in this runtime: wazero may have kept a half-made
// entry for it, which a later compile would reuse. A compile in a worker ends with the
// caller's ctx (errCallerGone); a caller waiting for it then compiles again itself.
func (r *Runtime) compile(ctx context.Context, hash string, orig []byte) (wazero.CompiledModule, error) {
	if !r.enter() {
		return nil, errors.New("sandbox runtime is closed")
	}
	defer r.leave()
	r.mu.Lock()
	if err := r.poisoned[hash]; err != nil {
		r.mu.Unlock()
		return nil, err
	}
	e, ok := r.compiled[hash]
	if ok {
		e.refs++
		r.mu.Unlock()
		<-e.ready
		if errors.Is(e.err, errCallerGone) && ctx.Err() == nil {
			return r.compile(ctx, hash, orig) // the caller that compiled went away: compile for this one
		}
		return e.mod, e.err
	}
	e = &compiledEntry{ready: make(chan struct{}), refs: 1}
	r.compiled[hash] = e
	r.mu.Unlock()

	r.compiles.Add(1)
	e.mod, e.err = r.compileRecovered(ctx, hash, orig)
	if e.err != nil { // a failed entry holds nothing: it goes before its waiters wake
		r.mu.Lock()
		if r.compiled[hash] == e {
			delete(r.compiled, hash)
		}
		r.mu.Unlock()
	}
	close(e.ready)
	return e.mod, e.err
}

// compileRecovered is compileChecked with a panic turned into the module's refusal, and
// the hash poisoned (see compile).
func (r *Runtime) compileRecovered(ctx context.Context, hash string, orig []byte) (cm wazero.CompiledModule, err error) {
	defer func() {
		if p := recover(); p != nil {
			cm, err = nil, fmt.Errorf("compiling the module failed, a defect of the host or a refusal of the system: %v", p)
			r.cfg.Logger.Error("compiling a module panicked; it is refused until the process restarts",
				"sha256", hash, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r.mu.Lock()
			r.poisoned[hash] = err
			r.mu.Unlock()
		}
	}()
	return r.compileChecked(ctx, hash, orig)
}

// compileChecked rewrites wasm and compiles the result: tables capped (capTables), the
// capped module validated as written, then the stack budget and the interrupt checks
// instrumented and the data segments merged (rewrite), then compiled. A runtime with a
// compile worker has the worker do all of that first (compileInWorker), and compiles
// the rewrite the worker sends back from the cache it filled: wazero then reads only
// the rewrite, which the worker's wazero has read already.
// Validating before limitStack matters: it adds a local to every function and globals
// to the module, so indices out of range in the original would name them once
// rewritten, letting a guest lower the stack level restored after its calls, forge its
// counters or clear its interrupt flag. (Validating while the
// rewrite compiled took 5–12% less time with a spare core, and half as much memory
// again at the peak of a Go module's first load: docs/performance.md, twenty-seventh
// pass.)
//
// A module whose rewrite is in the rewrite cache (hash is the sha256 of wasm) is compiled
// from it, skipping validation and rewrite (rewritecache.go says why that is sound); an
// unusable entry falls back to the full path, which replaces it.
func (r *Runtime) compileChecked(ctx context.Context, hash string, wasm []byte) (wazero.CompiledModule, error) {
	ctx = withCompileThreads(ctx, 1) // whatever a caller's context asks (threads.go)
	if r.testBeforeCompile != nil {
		r.testBeforeCompile(ctx)
	}
	if metered, ok := r.rewrites.get(hash); ok {
		if cm, err := r.wz.CompileModule(ctx, metered); err == nil {
			return cm, nil
		}
	}
	r.rewritten.Add(1)
	capped, err := capTables(wasm)
	if err != nil {
		return nil, err
	}
	metered, err := r.checkAndRewrite(ctx, capped)
	if err != nil {
		return nil, err
	}
	cm, err := r.wz.CompileModule(ctx, metered)
	if err != nil {
		return nil, err
	}
	if err := r.rewrites.put(hash, metered); err != nil {
		r.cfg.Logger.Warn("rewrite cache not written: the module will be validated again by the next process",
			"sha256", hash, "error", err)
	}
	return cm, nil
}

// checkAndRewrite validates capped as written and returns its rewrite (rewrite): both
// done in a compile worker, which also compiles the rewrite into the cache
// (compileInWorker), or in this process when the runtime has no worker or its worker
// cannot start (logged: the module then compiles here, without the worker's bounds).
func (r *Runtime) checkAndRewrite(ctx context.Context, capped []byte) ([]byte, error) {
	if r.hasWorker() {
		metered, err := r.compileInWorker(ctx, capped)
		if !errors.Is(err, errWorkerUnavailable) {
			return metered, err
		}
		r.cfg.Logger.Warn("compiling in this process, without the compile worker's time and memory bounds", "error", err)
	}
	if err := r.validate(ctx, capped); err != nil {
		return nil, err
	}
	return rewrite(capped)
}

// rewrite returns capped, a module validated as written, as the host compiles it: its
// stack budget and interrupt checks instrumented (limitStack), then its data segments
// merged (mergeData).
func rewrite(capped []byte) ([]byte, error) {
	metered, err := limitStack(capped)
	if err != nil {
		return nil, err
	}
	return mergeData(metered), nil
}

// rewriteDir is the rewrite cache's directory for a compilation cache dir ("" for none).
func rewriteDir(cacheDir string) string {
	if cacheDir == "" {
		return ""
	}
	return filepath.Join(cacheDir, RewriteCacheDir)
}

// validate reports whether wasm, as written, is a valid module.
func (r *Runtime) validate(ctx context.Context, wasm []byte) error {
	return validateWith(ctx, r.validator, wasm)
}

// validateWith reports whether wasm, as written, is a valid module for validator.
func validateWith(ctx context.Context, validator wazero.Runtime, wasm []byte) error {
	v, err := validatorCompile(ctx, validator, wasm)
	if err != nil {
		return err
	}
	return v.Close(ctx)
}

// validatorCompile compiles wasm, as written, with validator, once its declared lengths
// are checked (checkBounds): every module from outside reaches wazero here.
func validatorCompile(ctx context.Context, validator wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	if err := checkBounds(wasm); err != nil {
		return nil, err
	}
	return validator.CompileModule(ctx, wasm)
}

// release drops one reference to a compiled module and closes it with the last one.
func (r *Runtime) release(hash string) {
	r.mu.Lock()
	e, ok := r.compiled[hash]
	if !ok {
		r.mu.Unlock()
		return
	}
	e.refs--
	last := e.refs == 0
	if last {
		delete(r.compiled, hash)
	}
	r.mu.Unlock()
	if last && e.mod != nil {
		_ = e.mod.Close(context.Background())
	}
}

// grants returns the grants of plugin id (default deny).
func (r *Runtime) grants(id string) Grants {
	if r.cfg.Grants == nil {
		return Grants{}
	}
	return r.cfg.Grants(id)
}
