package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
)

// Add validates a module, writes it into the directory as <id>.wasm (atomically,
// replacing the file that provided that id before) and registers it. A module that does
// not load is refused and nothing is written.
func (r *Registry) Add(ctx context.Context, name string, wasm []byte) (*executor.Info, error) {
	if len(wasm) > MaxModuleBytes {
		return nil, apferr.New(apferr.InvalidParams, fmt.Sprintf("plugin %s is %d bytes, more than the %d allowed", name, len(wasm), MaxModuleBytes))
	}
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	mod, err := r.validate(ctx, name, wasm)
	if err != nil {
		return nil, err
	}
	file := mod.ID() + ".wasm"
	st, err := r.install(file, mod.ID(), wasm)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	r.meta.store(mod.Describe())
	r.meta.setHash(filepath.Join(r.opts.Dir, file), st, mod.Hash())
	r.meta.flush()
	r.register(file, &fileState{size: st.Size(), modTime: st.ModTime(), hash: mod.Hash()}, mod)
	return mod.Info(), nil
}

// validate loads an uploaded module and checks that its id may be installed as a file.
// On failure the module is closed and the error is an InvalidParams naming the problem.
func (r *Registry) validate(ctx context.Context, name string, wasm []byte) (*sandbox.Module, error) {
	mod, err := r.opts.Runtime.Load(ctx, wasm, name)
	if err != nil {
		return nil, apferr.New(apferr.InvalidParams, err.Error()).WithData(map[string]any{"field": "wasm", "plugin": name})
	}
	id := mod.ID()
	r.mu.Lock()
	reason := r.reservedLocked(id)
	r.mu.Unlock()
	if reason != "" {
		_ = mod.Close(ctx)
		return nil, apferr.New(apferr.InvalidParams, reason).WithData(map[string]any{"field": "id", "plugin": id})
	}
	return mod, nil
}

// install writes wasm into the directory as file, atomically, removes another file that
// provided id (the canonical <id>.wasm replaces it) and returns the new file's info.
func (r *Registry) install(file, id string, wasm []byte) (os.FileInfo, error) {
	tmp, err := r.writeTemp(wasm)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	var stale string
	if cur := r.byID[id]; cur != nil && cur.file != file {
		stale = cur.file
	}
	r.mu.Unlock()
	path := filepath.Join(r.opts.Dir, file)
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("registry: install plugin: %w", err)
	}
	if stale != "" {
		_ = os.Remove(filepath.Join(r.opts.Dir, stale))
		r.forgetFile(stale)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("registry: install plugin: %w", err)
	}
	return st, nil
}

// writeTemp writes wasm, synced, to a temporary file of the directory that scans ignore,
// and returns its path.
func (r *Registry) writeTemp(wasm []byte) (string, error) {
	tmp, err := os.CreateTemp(r.opts.Dir, ".upload-*")
	if err != nil {
		return "", fmt.Errorf("registry: write plugin: %w", err)
	}
	_, werr := tmp.Write(wasm)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("registry: write plugin: %w", err)
	}
	return tmp.Name(), nil
}

// Remove deletes the file that provides id and unregisters it. Tasks running on it
// finish on the version they hold.
func (r *Registry) Remove(ctx context.Context, id string) error {
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	r.mu.Lock()
	v, ok := r.byID[id]
	r.mu.Unlock()
	if !ok {
		return executor.NotFound(id)
	}
	if err := os.Remove(filepath.Join(r.opts.Dir, v.file)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("registry: remove plugin %s: %w", id, err)
	}
	r.forgetFile(v.file)
	return nil
}
