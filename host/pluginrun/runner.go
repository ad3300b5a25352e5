package pluginrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// Options configure a [Runner].
type Options struct {
	// Defaults are the limits of a call that sets none (zero fields: the sandbox's
	// defaults); Max their ceilings (zero fields: the sandbox's maxima).
	Defaults, Max task.Limits
	// HookTimeoutMS is the wall-time limit of a hook call whose Call.Limits set none:
	// give the one hooks run under in production (hooks.DefaultTimeoutMS, unless the
	// operator's hook_limits say otherwise), so that a hook too slow to deploy fails
	// here too. Zero leaves hook calls to Defaults.
	HookTimeoutMS int64
	// Logger receives the runtime's and registry's own lines; nil discards them.
	Logger hclog.Logger
	// CacheDir is the persistent compilation cache to use (the user's, shared with
	// apflow run and serve), so that calling a module again does not compile it again;
	// empty means an in-memory cache. Nothing else is written.
	CacheDir string
	// CompileWorker and CompileTimeout are sandbox.Config's: with a CacheDir, a
	// module's first compile runs in a process of its own, bounded in time.
	CompileWorker  []string
	CompileTimeout time.Duration
	// LLM answers the llm_complete calls of plugins given the llm grant (typically the
	// operator's configured providers); nil answers them llm_not_configured.
	LLM llm.Completer
}

// Runner calls plugins one call at a time in its own sandbox runtime, with the grants of
// the call in progress.
type Runner struct {
	rt          *sandbox.Runtime
	log         hclog.Logger
	hookTimeout int64                   // Options.HookTimeoutMS
	mu          sync.Mutex              // one call at a time
	cur         atomic.Pointer[callEnv] // the grants and kv store of the call in progress
}

// callEnv is what the runtime's grants and kv lookups answer during one call.
type callEnv struct {
	grants sandbox.Grants
	kv     *memstore.Store
}

// New creates a Runner (with the compilation cache of Options.CacheDir). Close it when
// done.
func New(ctx context.Context, opts Options) (*Runner, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	r := &Runner{log: log, hookTimeout: opts.HookTimeoutMS}
	rt, err := sandbox.New(ctx, sandbox.Config{
		CacheDir: opts.CacheDir, CompileWorker: opts.CompileWorker, CompileTimeout: opts.CompileTimeout,
		Defaults: opts.Defaults, Max: opts.Max, Logger: log.Named("sandbox"),
		Grants: r.grants, KV: kvOfCall{r}, LLM: opts.LLM,
	})
	if err != nil {
		return nil, err
	}
	r.rt = rt
	return r, nil
}

// Close closes the runtime; targets must be closed first.
func (r *Runner) Close(ctx context.Context) error { return r.rt.Close(ctx) }

func (r *Runner) grants(string) sandbox.Grants {
	if env := r.cur.Load(); env != nil {
		return env.grants
	}
	return sandbox.Grants{}
}

// kvOfCall serves the kv_* calls from the in-memory store of the call in progress.
type kvOfCall struct{ r *Runner }

func (k kvOfCall) store() sandbox.KVStore {
	if env := k.r.cur.Load(); env != nil && env.kv != nil {
		return env.kv
	}
	return memstore.New()
}

func (k kvOfCall) KVGet(ctx context.Context, sp store.KVSpace, key string, now time.Time) (store.KVEntry, bool, error) {
	return k.store().KVGet(ctx, sp, key, now)
}

func (k kvOfCall) KVSet(ctx context.Context, req store.KVSetRequest) (bool, error) {
	return k.store().KVSet(ctx, req)
}

func (k kvOfCall) KVDelete(ctx context.Context, sp store.KVSpace, key string, now time.Time) (bool, error) {
	return k.store().KVDelete(ctx, sp, key, now)
}

func (k kvOfCall) KVList(ctx context.Context, sp store.KVSpace, prefix, after string, limit int, now time.Time) ([]string, bool, error) {
	return k.store().KVList(ctx, sp, prefix, after, limit, now)
}

// Target is a loaded plugin: an executor, a hook, or both.
type Target struct {
	// Info describes the plugin (its id, schemas, kind).
	Info  *executor.Info
	exec  executor.Executor
	hook  hookCaller
	close func()
}

// hookCaller is the part of a hook module a call uses.
type hookCaller interface {
	CallHook(ctx context.Context, call *sandbox.HookCall) (json.RawMessage, error)
}

// Close releases the plugin.
func (t *Target) Close() {
	if t.close != nil {
		t.close()
		t.close = nil
	}
}

// ErrInvalidPlugin marks an error of Open about the plugin itself (not found, not
// loadable), as opposed to the directory or the machine.
var ErrInvalidPlugin = errors.New("invalid plugin")

// Open loads a plugin: ref is a module file (a path ending in .wasm, or any existing
// file), loaded by the sandbox alone, or a plugin id looked up in pluginsDir, which is
// opened as a registry (without metadata cache: nothing is written to it). Errors about
// the plugin wrap ErrInvalidPlugin.
func (r *Runner) Open(ctx context.Context, ref, pluginsDir string) (*Target, error) {
	if st, err := os.Stat(ref); (err == nil && st.Mode().IsRegular()) || strings.HasSuffix(ref, ".wasm") {
		return r.openFile(ctx, ref)
	}
	return r.openID(ctx, ref, pluginsDir)
}

func (r *Runner) openFile(ctx context.Context, path string) (*Target, error) {
	wasm, err := registry.ReadModule(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPlugin, err)
	}
	m, err := r.rt.Load(ctx, wasm, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidPlugin, path, err)
	}
	t := &Target{Info: m.Info(), close: func() { _ = m.Close(context.Background()) }}
	if m.IsExecutor() {
		t.exec = m
	}
	if len(m.HookExports()) > 0 {
		t.hook = m
	}
	return t, nil
}

func (r *Runner) openID(ctx context.Context, id, dir string) (*Target, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: %q is not a file, and no plugins directory was given to look it up in", ErrInvalidPlugin, id)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %q is not a file, and the plugins directory %s does not exist", ErrInvalidPlugin, id, dir)
	}
	if t := r.openCanonical(ctx, id, dir); t != nil {
		return t, nil
	}
	reg, err := registry.Open(ctx, registry.Options{Runtime: r.rt, Dir: dir, Logger: r.log, NoMetadataCache: true})
	if err != nil {
		return nil, err
	}
	t := &Target{}
	var releases []func()
	t.close = func() {
		for _, f := range releases {
			f()
		}
		_ = reg.Close(context.Background())
	}
	h, lookupErr := reg.Lookup(id)
	if lookupErr == nil {
		t.exec, t.Info = h, h.Info()
		releases = append(releases, h.Release)
	}
	if hh, err := reg.Hook(id); err == nil {
		t.hook, t.Info = hh.Module, hh.Info()
		releases = append(releases, hh.Release)
	}
	if t.Info == nil {
		t.Close()
		msg := lookupErr.Error()
		if e := apferr.As(lookupErr); e != nil {
			msg = e.Message
		}
		return nil, fmt.Errorf("%w: %s in %s%s", ErrInvalidPlugin, msg, dir, problems(reg.Problems()))
	}
	return t, nil
}

// openCanonical loads <dir>/<id>.wasm alone (the name registry.Add gives a plugin) and
// returns it when it declares id; nil otherwise, and the caller opens the directory.
func (r *Runner) openCanonical(ctx context.Context, id, dir string) *Target {
	if strings.ContainsAny(id, `/\`) {
		return nil
	}
	path := filepath.Join(dir, id+".wasm")
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	t, err := r.openFile(ctx, path)
	if err != nil {
		return nil
	}
	if t.Info.ID != id {
		t.Close()
		return nil
	}
	return t
}

// problems lists the files of a plugins directory that did not load.
func problems(ps map[string]string) string {
	if len(ps) == 0 {
		return ""
	}
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("; files that did not load:")
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %s: %s", n, ps[n])
	}
	return b.String()
}
