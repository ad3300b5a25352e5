package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// fileState is what the last scan saw of one file.
type fileState struct {
	size    int64
	modTime time.Time
	hash    string
	id      string // registered id, "" when the file is not registered
	// conflict is the id this file could not take because another file has it; the file
	// is loaded again when that id becomes free.
	conflict string
}

// Watch rescans the directory every PollInterval until ctx is done.
func (r *Registry) Watch(ctx context.Context) {
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Rescan(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("rescan failed", "dir", r.opts.Dir, "error", err)
			}
		}
	}
}

// Rescan brings the registry in line with the directory: new and changed files are
// loaded, removed files unregistered. Files that need a full load (compile and
// instantiate) are loaded in parallel, up to GOMAXPROCS at once, and registered in file
// name order as soon as every file before them is done, so the first file of an id wins
// as in a sequential scan.
func (r *Registry) Rescan(ctx context.Context) error {
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	names, seen, err := moduleFiles(r.opts.Dir)
	if err != nil {
		return err
	}
	// Forget removed files first, so that a file taking over their id registers now.
	for _, name := range r.goneFiles(seen) {
		r.forgetFile(name)
	}
	defer r.meta.flush()
	r.meta.prune(r.opts.Dir, seen)
	var steps []*scanStep
	for _, name := range names {
		step, err := r.planFile(name)
		if err != nil {
			r.discard(steps)
			return err
		}
		if step != nil {
			steps = append(steps, step)
		}
	}
	return r.loadAndApply(ctx, steps)
}

// moduleFiles lists the .wasm files of dir, sorted by file name (the first file of an id
// wins), and as a set.
func moduleFiles(dir string) ([]string, map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("registry: read plugins dir: %w", err)
	}
	var names []string
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".wasm") {
			continue
		}
		names = append(names, e.Name())
		seen[e.Name()] = true
	}
	return names, seen, nil
}

// goneFiles returns the files the last scan saw that are not in seen any more.
func (r *Registry) goneFiles(seen map[string]bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gone []string
	for name := range r.files {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	return gone
}

// scanStep is what one new or changed file needs: planned by planFile, loaded by
// loadAndApply (in parallel when full), applied in file name order.
type scanStep struct {
	name, path string
	st         os.FileInfo
	prev, fs   *fileState
	// mod is the module registered by the step: described from the metadata cache by
	// planFile, or loaded in full (full is then set, and wasm holds the bytes when
	// planFile read them).
	mod  *sandbox.Module
	full bool
	wasm []byte
	// loadErr is why a full load failed.
	loadErr string
	// err is a failure of the scan itself (not of the module) found while loading.
	err error
}

// planFile decides what file name needs; nil when nothing (unchanged, or only recorded:
// unloadable files and identical content under a new identity are settled here, since
// they register no id).
func (r *Registry) planFile(name string) (*scanStep, error) {
	path := filepath.Join(r.opts.Dir, name)
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // removed between ReadDir and Stat: the next scan forgets it
		}
		return nil, fmt.Errorf("registry: stat %s: %w", path, err)
	}
	r.mu.Lock()
	prev := r.files[name]
	r.mu.Unlock()
	if prev != nil && prev.size == st.Size() && prev.modTime.Equal(st.ModTime()) {
		return nil, nil
	}
	if why := unloadable(name, st); why != "" {
		r.setProblem(name, &fileState{size: st.Size(), modTime: st.ModTime()}, why)
		return nil, nil
	}
	hash, wasm, err := r.hashFile(name, path, st)
	if hash == "" {
		return nil, err
	}
	fs := &fileState{size: st.Size(), modTime: st.ModTime(), hash: hash}
	if prev != nil && prev.hash == fs.hash {
		fs.id = prev.id
		r.mu.Lock()
		r.files[name] = fs
		r.mu.Unlock()
		return nil, nil
	}
	step := &scanStep{name: name, path: path, st: st, prev: prev, fs: fs, wasm: wasm}
	if step.mod = r.loadDescribed(name, path, fs); step.mod == nil {
		step.full = true
	}
	return step, nil
}

// loadAndApply loads the full steps in parallel and applies every step in order, each
// once it and all before it are loaded. A scan failure stops at that step: the steps
// after it are discarded (the next scan plans them again).
func (r *Registry) loadAndApply(ctx context.Context, steps []*scanStep) error {
	done := make([]chan struct{}, len(steps))
	var full []int
	for i, step := range steps {
		done[i] = make(chan struct{})
		if step.full {
			full = append(full, i)
		} else {
			close(done[i])
		}
	}
	var loaded atomic.Int64
	work := make(chan int)
	workers := min(runtime.GOMAXPROCS(0), len(full))
	for range workers {
		go func() {
			for i := range work {
				r.loadFull(ctx, steps[i])
				if r.opts.Progress != nil {
					r.opts.Progress(int(loaded.Add(1)), len(full))
				}
				close(done[i])
			}
		}()
	}
	go func() {
		for _, i := range full {
			work <- i
		}
		close(work)
	}()
	for i, step := range steps {
		<-done[i]
		if step.err != nil {
			for _, d := range done[i+1:] {
				<-d // the workers are done with the steps to discard
			}
			r.discard(steps[i:])
			return step.err
		}
		r.apply(step)
	}
	return nil
}

// loadFull loads a step's module in full (reading the file unless planFile did). A
// module that fails to load leaves step.mod nil and is reported by apply. Once ctx is
// done (the registry closing), the step fails the scan instead, neither loaded nor
// reported: a compile cannot be interrupted, so a scan stopped mid-way loads nothing
// more, and a load the cancellation cut short says nothing of its module.
func (r *Registry) loadFull(ctx context.Context, step *scanStep) {
	if step.err = ctx.Err(); step.err != nil {
		return
	}
	wasm := step.wasm
	if wasm == nil {
		if wasm, step.err = r.readFile(step.name, step.path, step.st); wasm == nil {
			step.full = false // vanished or too large: nothing to apply
			return
		}
		if h := sandbox.Hash(wasm); h != step.fs.hash { // changed behind an unchanged identity
			step.fs.hash = h
			r.meta.forget(step.path)
		}
	}
	step.wasm = nil
	mod, err := r.opts.Runtime.Load(ctx, wasm, step.name)
	if cerr := ctx.Err(); cerr != nil {
		if mod != nil {
			_ = mod.Close(context.Background())
		}
		step.err = cerr
		return
	}
	if err != nil {
		step.loadErr = err.Error()
		return
	}
	r.meta.store(mod.Describe())
	step.mod = mod
}

// apply registers a step's module, or reports why its file is not (or no longer) the
// registered version; the file's previous version, if any, stays registered then.
func (r *Registry) apply(step *scanStep) {
	switch {
	case step.mod != nil:
		r.register(step.name, step.fs, step.mod)
	case step.full:
		if step.prev != nil { // keep serving the old version of this file
			step.fs.id = step.prev.id
		}
		r.setProblem(step.name, step.fs, step.loadErr)
	}
}

// discard closes the modules of steps that will not be applied.
func (r *Registry) discard(steps []*scanStep) {
	for _, step := range steps {
		if step.mod != nil {
			_ = step.mod.Close(context.Background())
		}
	}
}

// unloadable says why a file must not even be read ("" when it may).
func unloadable(name string, st os.FileInfo) string {
	if !st.Mode().IsRegular() {
		// A FIFO would block the scan forever, a device such as /dev/zero (through a
		// symlink) would be read until the host runs out of memory.
		return fmt.Sprintf("%s is not a regular file (%s)", name, st.Mode().Type())
	}
	if st.Size() > MaxModuleBytes {
		return fmt.Sprintf("%s is %d bytes, more than the %d allowed", name, st.Size(), MaxModuleBytes)
	}
	return ""
}

// hashFile returns the content hash of a module file: from the hash index when the file
// is unchanged (wasm is then nil: the file was not read), else by reading it. An empty
// hash means the scan passes over the file (see readFile), err saying why if it must stop.
func (r *Registry) hashFile(name, path string, st os.FileInfo) (hash string, wasm []byte, err error) {
	if hash, known := r.meta.hash(path, st); known {
		return hash, nil, nil
	}
	if wasm, err = r.readFile(name, path, st); wasm == nil {
		return "", nil, err
	}
	hash = sandbox.Hash(wasm)
	r.meta.setHash(path, st, hash)
	return hash, wasm, nil
}

// loadDescribed returns the module of a file from its cached description, without
// compiling it; nil when there is no usable description (an unusable one is dropped).
func (r *Registry) loadDescribed(name, path string, fs *fileState) *sandbox.Module {
	d := r.meta.description(fs.hash)
	if d == nil {
		return nil
	}
	mod, err := r.opts.Runtime.LoadDescribed(d, name, func() ([]byte, error) { return ReadModule(path) })
	switch {
	case err != nil && d.Format != sandbox.DescriptionFormat:
		// Another apflow release described it: expected once after an upgrade.
		r.log.Debug("cached plugin metadata is another release's, loading the module", "file", name, "format", d.Format)
		r.meta.drop(fs.hash)
		return nil
	case err != nil:
		r.log.Warn("cached plugin metadata unusable, loading the module", "file", name, "error", err)
		r.meta.drop(fs.hash)
		return nil
	}
	return mod
}

// readFile reads a module of the plugins directory. It returns nil bytes, with a nil
// error, when the scan should pass over the file: it vanished (the next scan forgets it)
// or it is too large (reported as a problem).
func (r *Registry) readFile(name, path string, st os.FileInfo) ([]byte, error) {
	wasm, err := ReadModule(path)
	switch {
	case err == nil:
		return wasm, nil
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case errors.Is(err, errTooLarge):
		r.setProblem(name, &fileState{size: st.Size(), modTime: st.ModTime()}, err.Error())
		return nil, nil
	}
	return nil, fmt.Errorf("registry: read %s: %w", path, err)
}

// errTooLarge is the error of a module file longer than MaxModuleBytes.
var errTooLarge = fmt.Errorf("module is more than the %d bytes allowed", MaxModuleBytes)

// ReadModule reads a module file, failing when it is longer than MaxModuleBytes (it
// may have grown since it was checked). The buffer is sized to the file as it is now,
// so that a module of megabytes is read once into memory, not copied as a buffer grows.
func ReadModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		buf.Grow(int(min(st.Size(), MaxModuleBytes)) + bytes.MinRead) // MinRead: room for the read that finds the end
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxModuleBytes+1)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if len(b) > MaxModuleBytes {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), errTooLarge)
	}
	return b, nil
}

// setProblem records why a file is not (or no longer) the registered version.
func (r *Registry) setProblem(name string, fs *fileState, why string) {
	r.logProblem("plugin not loaded", "file", name, "error", why)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[name] = fs
	r.problems[name] = why
}

// logProblem logs a file that is not registered: as an error, or at debug level during
// Open's own scan, whose problems the caller shows (see Open). Callers hold scanMu.
func (r *Registry) logProblem(msg string, args ...any) {
	if r.opened {
		r.log.Error(msg, args...)
	} else {
		r.log.Debug(msg, args...)
	}
}
