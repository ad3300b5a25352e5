package hooks

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// DefaultTimeoutMS is the wall-time limit of one hook call when Config.Limits sets none:
// 2 s. Hooks are meant to be fast (docs/hooks.md, "Which hooks run, and when"); heavy
// work belongs in tasks.
const DefaultTimeoutMS = 2000

// Registry gives the current version of a hook module. *registry.Registry implements it.
type Registry interface {
	// Hook pins the current version of a hook module; the caller releases the handle.
	Hook(id string) (*registry.HookHandle, error)
}

// Config configures a Runner.
type Config struct {
	// Registry resolves hook ids to modules. Required.
	Registry Registry
	// IDs are the hook plugin ids in registration order (the operator config's hooks).
	// A repeated id runs once, at its first position.
	IDs []string
	// Limits are the limits of every hook call. A zero TimeoutMS means DefaultTimeoutMS;
	// other zero fields take the sandbox defaults.
	Limits task.Limits
	// Store backs the repository that hooks granted `repository` use through
	// store_call. Nil makes store_call answer an error to every hook.
	Store store.Store
	// Logger receives hook failures and the hooks' own log lines. Nil discards them.
	Logger hclog.Logger
	// Now is the clock that stamps updated_at on repository updates; nil is time.Now.
	Now func() time.Time
}

// Runner calls the configured hooks. It implements the engine's Hooks interface and is
// safe for concurrent use.
type Runner struct {
	reg    Registry
	ids    []string
	limits task.Limits
	repo   *Repository // nil without a store
	log    hclog.Logger

	mu      sync.Mutex
	missing map[string]bool // hook ids last seen not loaded (logged once)
}

// New returns a Runner for cfg.
func New(cfg Config) (*Runner, error) {
	if cfg.Registry == nil {
		return nil, errors.New("hooks: Config.Registry is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Limits.TimeoutMS <= 0 {
		cfg.Limits.TimeoutMS = DefaultTimeoutMS
	}
	var ids []string
	for _, id := range cfg.IDs {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	r := &Runner{
		reg: cfg.Registry, ids: ids, limits: cfg.Limits,
		log: cfg.Logger.Named("hooks"), missing: map[string]bool{},
	}
	if cfg.Store != nil {
		r.repo = NewRepository(cfg.Store, cfg.Now)
	}
	return r, nil
}

// IDs returns the hook ids the runner calls, in order.
func (r *Runner) IDs() []string { return slices.Clone(r.ids) }

// Limits returns the effective limits of a hook call (zero fields: sandbox defaults).
func (r *Runner) Limits() task.Limits { return r.limits }

// HookInfo describes one configured hook for operators (`apflow hooks list`).
type HookInfo struct {
	// ID is the configured hook id; Order its position (0-based) in the chain.
	ID    string `json:"id"`
	Order int    `json:"order"`
	// Loaded tells whether a module with this id is registered and is a hook; when not,
	// Error says why.
	Loaded bool   `json:"loaded"`
	Error  string `json:"error,omitempty"`
	// Hash is the sha256 of the loaded module, Version its metadata version.
	Hash    string `json:"hash,omitempty"`
	Version string `json:"version,omitempty"`
	// Exports are the hook exports the module has, in ABI order.
	Exports []string `json:"exports,omitempty"`
	// Executors are the executor ids its task hooks are limited to (nil: every task).
	Executors []string `json:"executors,omitempty"`
	// Capabilities are what the module asks for (its metadata); grants decide.
	Capabilities []string `json:"capabilities,omitempty"`
}

// List describes every configured hook, in chain order, as currently loaded.
func (r *Runner) List() []HookInfo {
	out := make([]HookInfo, 0, len(r.ids))
	for i, id := range r.ids {
		hi := HookInfo{ID: id, Order: i}
		h, err := r.reg.Hook(id)
		if err != nil {
			hi.Error = err.Error()
			out = append(out, hi)
			continue
		}
		info := h.Info()
		hi.Loaded, hi.Hash, hi.Version = true, h.Hash(), info.Version
		hi.Exports, hi.Executors = h.HookExports(), h.HookExecutors()
		hi.Capabilities = slices.Clone(info.Capabilities)
		h.Release()
		out = append(out, hi)
	}
	return out
}

// acquire pins hook id, logging once when it goes missing and when it comes back.
func (r *Runner) acquire(id string) (*registry.HookHandle, error) {
	h, err := r.reg.Hook(id)
	r.mu.Lock()
	was := r.missing[id]
	if err != nil {
		r.missing[id] = true
	} else if was {
		delete(r.missing, id)
	}
	r.mu.Unlock()
	switch {
	case err != nil && !was:
		r.log.Error("configured hook is not loaded; tasks record it in hook_errors until it is", "hook", id, "error", err)
	case err == nil && was:
		r.log.Info("configured hook is loaded again", "hook", id, "sha256", h.Hash())
	}
	if err != nil {
		return nil, &Error{Hook: id, Msg: "hook " + id + " is not loaded", Err: err}
	}
	return h, nil
}
