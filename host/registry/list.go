package registry

import (
	"sort"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
)

// List implements executor.Catalog: every registered executor and hook, sorted by id.
func (r *Registry) List() []*executor.Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*executor.Info, 0, len(r.byID))
	for _, v := range r.byID {
		out = append(out, v.mod.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Plugin describes one registered plugin for operators: its info, file and pool.
type Plugin struct {
	Info  *executor.Info
	File  string
	Hooks []string // hook exports
	Pool  sandbox.PoolStats
}

// Plugins describes every registered plugin, sorted by id.
func (r *Registry) Plugins() []Plugin {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Plugin, 0, len(r.byID))
	for _, v := range r.byID {
		out = append(out, Plugin{Info: v.mod.Info(), File: v.file, Hooks: v.mod.HookExports(), Pool: v.mod.Stats()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.ID < out[j].Info.ID })
	return out
}

// Problems returns, by file name, why files of the directory are not registered.
func (r *Registry) Problems() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.problems))
	for k, v := range r.problems {
		out[k] = v
	}
	return out
}
