package registry

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// version is one registered module and the handles that pin it.
type version struct {
	mod     *sandbox.Module
	file    string
	refs    int
	retired bool
}

// register makes mod the current version of its id, retiring the version it replaces.
// Callers hold scanMu.
func (r *Registry) register(name string, fs *fileState, mod *sandbox.Module) {
	id := mod.ID()
	r.mu.Lock()
	if why := r.refusalLocked(name, fs, id); why != "" {
		r.files[name] = fs
		r.problems[name] = why
		r.mu.Unlock()
		r.logProblem("plugin not registered", "file", name, "id", id, "error", why)
		_ = mod.Close(context.Background())
		return
	}
	toClose := r.replaceLocked(name, fs, mod)
	r.mu.Unlock()
	closeAll(toClose)
	r.log.Info("plugin registered", "id", id, "file", name, "sha256", mod.Hash(), "kind", mod.Info().Kind)
}

// refusalLocked says why file name may not register id ("" when it may). A file that
// lost id to another file is marked in fs, to load again when the id becomes free.
func (r *Registry) refusalLocked(name string, fs *fileState, id string) string {
	if reason := r.reservedLocked(id); reason != "" {
		return reason
	}
	if cur, ok := r.byID[id]; ok && cur.file != name && r.files[cur.file] != nil {
		fs.conflict = id
		return fmt.Sprintf("plugin id %q is already provided by %s", id, cur.file)
	}
	return ""
}

// replaceLocked makes mod, from file name, the current version of its id and returns the
// versions it replaced that no handle pins.
func (r *Registry) replaceLocked(name string, fs *fileState, mod *sandbox.Module) []*version {
	id := mod.ID()
	// The file may have changed id: drop its old registration.
	var old []*version
	if prev := r.files[name]; prev != nil && prev.id != "" && prev.id != id {
		if v := r.byID[prev.id]; v != nil && v.file == name {
			delete(r.byID, prev.id)
			old = append(old, v)
		}
	}
	if cur := r.byID[id]; cur != nil {
		old = append(old, cur)
	}
	fs.id = id
	r.files[name] = fs
	delete(r.problems, name)
	r.byID[id] = &version{mod: mod, file: name}
	return r.retireLocked(old)
}

func (r *Registry) reservedLocked(id string) string {
	for _, res := range r.opts.Reserved {
		if res == id {
			return fmt.Sprintf("plugin id %q is reserved for a built-in executor", id)
		}
	}
	return ""
}

// forgetFile unregisters the version a removed file provided.
func (r *Registry) forgetFile(name string) {
	r.mu.Lock()
	fs := r.files[name]
	delete(r.files, name)
	delete(r.problems, name)
	var old []*version
	if fs != nil && fs.id != "" {
		if v := r.byID[fs.id]; v != nil && v.file == name {
			delete(r.byID, fs.id)
			old = append(old, v)
			r.freeIDLocked(fs.id)
		}
	}
	toClose := r.retireLocked(old)
	r.mu.Unlock()
	closeAll(toClose)
	if fs != nil && fs.id != "" {
		r.log.Info("plugin unregistered", "id", fs.id, "file", name)
	}
}

// freeIDLocked makes the files that lost id to another file load again on the next scan.
func (r *Registry) freeIDLocked(id string) {
	for other, ofs := range r.files {
		if ofs.conflict == id {
			delete(r.files, other)
		}
	}
}

// notReady handles a registered version whose lazy compilation failed: it unregisters
// it, reports its file, drops its cache entries so that the next scan loads the file in
// full, and returns the error for the lookup.
func (r *Registry) notReady(v *version, err error) error {
	id, hash := v.mod.ID(), v.mod.Hash()
	r.mu.Lock()
	var toClose []*version
	if r.byID[id] == v {
		delete(r.byID, id)
		toClose = r.retireLocked([]*version{v})
		r.freeIDLocked(id)
	}
	if fs := r.files[v.file]; fs != nil && fs.hash == hash {
		r.files[v.file] = &fileState{} // matches no file: the next scan loads it again
		r.problems[v.file] = err.Error()
	}
	r.mu.Unlock()
	closeAll(toClose)
	r.meta.drop(hash)
	r.meta.forget(filepath.Join(r.opts.Dir, v.file))
	r.meta.flush()
	r.log.Error("plugin not loaded", "id", id, "file", v.file, "error", err)
	return fmt.Errorf("registry: plugin %q (file %s) could not be loaded: %w", id, v.file, err)
}

// retireLocked marks versions retired and returns those no handle pins any more.
func (r *Registry) retireLocked(vs []*version) []*version {
	var idle []*version
	for _, v := range vs {
		v.retired = true
		if v.refs == 0 {
			idle = append(idle, v)
		}
	}
	return idle
}

func closeAll(vs []*version) {
	for _, v := range vs {
		_ = v.mod.Close(context.Background())
	}
}
