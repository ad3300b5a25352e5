package registry

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// Lookup implements executor.Catalog: it pins the current version of an executor. A
// plugin registered from the metadata cache is compiled by its first Lookup or Hook; if
// that fails, the error names the plugin and its file and the plugin is unregistered
// (see the package doc).
func (r *Registry) Lookup(id string) (executor.Handle, error) {
	v, err := r.acquire(id)
	if err != nil {
		return nil, err
	}
	if !v.mod.IsExecutor() {
		r.release(v)
		return nil, apferr.New(apferr.ExecutorNotFound,
			fmt.Sprintf("plugin %q is a hook, not an executor (it does not export execute, or its metadata kind does not list executor)", id)).
			WithData(map[string]any{"field": "schemas.method", "executor": id})
	}
	if err := r.ready(v); err != nil {
		return nil, err
	}
	return &handle{r: r, v: v}, nil
}

// Hook pins the current version of a hook module.
func (r *Registry) Hook(id string) (*HookHandle, error) {
	v, err := r.acquire(id)
	if apferr.CodeOf(err) == apferr.ExecutorNotFound {
		return nil, fmt.Errorf("no plugin of the plugins directory has the id %q (apflow plugins list shows the ids, and the files that did not load)", id)
	}
	if err != nil {
		return nil, err
	}
	if len(v.mod.HookExports()) == 0 {
		r.release(v)
		return nil, fmt.Errorf("plugin %q is not a hook: it exports none of %s, or its metadata kind does not list hook", id, strings.Join(sandbox.HookExportNames(), ", "))
	}
	if err := r.ready(v); err != nil {
		return nil, err
	}
	return &HookHandle{Module: v.mod, release: func() { r.release(v) }}, nil
}

// ready compiles a pinned version registered from the metadata cache; on failure it
// unregisters and releases it (see notReady). A failure because the runtime is closing
// (the process shutting down) says nothing of the module: the version is released
// and stays registered, its description cached.
func (r *Registry) ready(v *version) error {
	err := v.mod.Ready(context.Background())
	switch {
	case err == nil:
		return nil
	case sandbox.KindOf(err) == sandbox.KindClosed:
		r.release(v)
		return fmt.Errorf("registry: plugin %q: %w", v.mod.ID(), err)
	}
	err = r.notReady(v, err)
	r.release(v)
	return err
}

// acquire pins the current version of id. While Open's background scan runs, an id not
// registered yet waits for the scan's end: it may be loading.
func (r *Registry) acquire(id string) (*version, error) {
	v, err := r.acquireNow(id)
	if err != nil && !r.scanned() {
		<-r.firstScan
		v, err = r.acquireNow(id)
	}
	return v, err
}

func (r *Registry) acquireNow(id string) (*version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.byID[id]
	if !ok || r.closed {
		return nil, executor.NotFound(id)
	}
	v.refs++
	return v, nil
}

func (r *Registry) release(v *version) {
	r.mu.Lock()
	v.refs--
	idle := v.retired && v.refs == 0
	r.mu.Unlock()
	if idle {
		_ = v.mod.Close(context.Background())
	}
}

// handle pins one executor version.
type handle struct {
	r    *Registry
	v    *version
	once sync.Once
}

// Execute runs the pinned version, filling the limits the task leaves unset from the
// plugin's configured limits.
func (h *handle) Execute(ctx context.Context, req *executor.Request) (*executor.Response, error) {
	if pl := h.r.opts.PluginLimits; pl != nil {
		own := pl(h.v.mod.ID())
		if own != (task.Limits{}) {
			r := *req
			r.Limits = mergeLimits(req.Limits, own)
			req = &r
		}
	}
	return h.v.mod.Execute(ctx, req)
}

// mergeLimits returns l with its zero fields taken from fallback.
func mergeLimits(l, fallback task.Limits) task.Limits {
	if l.TimeoutMS == 0 {
		l.TimeoutMS = fallback.TimeoutMS
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = fallback.MemoryPages
	}
	if l.MaxResultBytes == 0 {
		l.MaxResultBytes = fallback.MaxResultBytes
	}
	return l
}

func (h *handle) Info() *executor.Info { return h.v.mod.Info() }

func (h *handle) Release() { h.once.Do(func() { h.r.release(h.v) }) }

// HookHandle pins one hook module version; call Release when done.
type HookHandle struct {
	*sandbox.Module
	release func()
	once    sync.Once
}

// Release unpins the version.
func (h *HookHandle) Release() { h.once.Do(h.release) }
