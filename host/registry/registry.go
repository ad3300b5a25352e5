// Package registry keeps the plugins of a plugins directory loaded and registered under
// their ids, and swaps versions while the host runs (hot-load).
//
// Every `.wasm` file of the directory is loaded through the sandbox, keyed by its content
// hash, and registered under its metadata id (the file name without `.wasm` when the
// module has no metadata). Adding, replacing or removing a file takes effect on the next
// scan ([Registry.Rescan], or every PollInterval under [Registry.Watch]); [Registry.Add] and
// [Registry.Remove] do the same through the API and CLI and take effect at once.
//
// Guarantees:
//   - A [executor.Handle] from Lookup runs on the version that was current when it was
//     looked up, until it is released; a newer version takes only later lookups. A
//     replaced or removed version is closed once its last handle is released.
//   - A file that fails to load never replaces a working version: the old version stays
//     registered and the failure is reported by [Registry.Problems] and logged.
//   - Two files declaring the same id: the first by file name wins, the other is reported.
//
// # Metadata cache
//
// Loading a module means compiling it and instantiating it once to read its metadata
// (tens of milliseconds for a Go plugin), which a process that runs one task would pay for
// every plugin of the directory. So the registry keeps, in a metadata cache directory
// (Options.MetadataDir, by default <compilation cache dir>/meta), the
// [sandbox.Description] of every module that loaded, keyed by content hash, and a hash
// index keyed by file identity (path, size, modification time, inode, change time). A
// scan registers a file whose description is cached with [sandbox.Runtime.LoadDescribed]:
// without reading an unchanged file, compiling or instantiating it. The first Lookup or
// Hook of such a plugin compiles and checks it ([sandbox.Module.Ready]); if that fails
// (the file changed behind an identical identity, the cache lies) the lookup returns an
// error naming the plugin and file, the plugin is unregistered, the file reported by
// Problems, its cache entries dropped, and the next scan loads the file in full. Add
// always loads in full, so an invalid upload is refused as before.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// DefaultPollInterval is how often Watch rescans the directory.
const DefaultPollInterval = time.Second

// MaxModuleBytes caps the size of one plugin file (64 MiB).
const MaxModuleBytes = 64 << 20

// Options configure a Registry.
type Options struct {
	// Runtime loads modules. Required.
	Runtime *sandbox.Runtime
	// Dir is the plugins directory; it is created if missing. Required.
	Dir string
	// Logger receives load, swap and failure lines. Defaults to a null logger.
	Logger hclog.Logger
	// PollInterval is the period of Watch (default DefaultPollInterval).
	PollInterval time.Duration
	// PluginLimits returns the operator's limits for one plugin (config file); a task's own
	// limits override them field by field, and they override the runtime's defaults.
	// Nil means none.
	PluginLimits func(pluginID string) task.Limits
	// Reserved are ids a plugin may not take (the built-in executors); such a plugin is
	// reported as a problem instead of being registered.
	Reserved []string
	// MetadataDir is the metadata cache directory (see the package doc). Empty means
	// <Runtime.CacheDir()>/meta when the runtime has a persistent compilation cache, and
	// no metadata cache otherwise.
	MetadataDir string
	// NoMetadataCache disables the metadata cache: every module is loaded in full.
	NoMetadataCache bool
}

// Registry is the set of loaded plugins. It implements executor.Catalog for executors and
// offers hook modules through Hooks. It is safe for concurrent use.
type Registry struct {
	opts Options
	log  hclog.Logger
	meta *metaCache // nil: no metadata cache

	scanMu sync.Mutex // serialises scans, Add and Remove

	mu       sync.Mutex
	byID     map[string]*version // current version of every id
	files    map[string]*fileState
	problems map[string]string // file name → why it is not registered
	closed   bool
}

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

// version is one registered module and the handles that pin it.
type version struct {
	mod     *sandbox.Module
	file    string
	refs    int
	retired bool
}

// Open creates the directory if needed, loads every plugin in it and returns the
// registry. Files that fail to load are reported by Problems, not returned as errors;
// Open fails only when the directory cannot be used.
func Open(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Runtime == nil || opts.Dir == "" {
		return nil, errors.New("registry: Runtime and Dir are required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry: create plugins dir: %w", err)
	}
	if abs, err := filepath.Abs(opts.Dir); err == nil {
		opts.Dir = abs // the hash index is keyed by absolute path
	}
	r := &Registry{
		opts: opts, log: opts.Logger.Named("plugins"),
		byID: map[string]*version{}, files: map[string]*fileState{}, problems: map[string]string{},
	}
	if metaDir := opts.MetadataDir; !opts.NoMetadataCache {
		if metaDir == "" && opts.Runtime.CacheDir() != "" {
			metaDir = filepath.Join(opts.Runtime.CacheDir(), "meta")
		}
		if metaDir != "" {
			mc, err := openMetaCache(metaDir, r.log)
			if err != nil {
				return nil, err
			}
			r.meta = mc
		}
	}
	if err := r.Rescan(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Dir returns the plugins directory.
func (r *Registry) Dir() string { return r.opts.Dir }

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
// loaded, removed files unregistered.
func (r *Registry) Rescan(ctx context.Context) error {
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	entries, err := os.ReadDir(r.opts.Dir)
	if err != nil {
		return fmt.Errorf("registry: read plugins dir: %w", err)
	}
	var names []string // sorted by file name: the first file of an id wins
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".wasm") {
			continue
		}
		names = append(names, e.Name())
		seen[e.Name()] = true
	}
	// Forget removed files first, so that a file taking over their id registers now.
	r.mu.Lock()
	var gone []string
	for name := range r.files {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	r.mu.Unlock()
	for _, name := range gone {
		r.forgetFile(name)
	}
	defer r.meta.flush()
	r.meta.prune(r.opts.Dir, seen)
	for _, name := range names {
		if err := r.scanFile(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// scanFile loads name if it is new or changed since the last scan.
func (r *Registry) scanFile(ctx context.Context, name string) error {
	path := filepath.Join(r.opts.Dir, name)
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed between ReadDir and Stat: the next scan forgets it
		}
		return fmt.Errorf("registry: stat %s: %w", path, err)
	}
	r.mu.Lock()
	prev := r.files[name]
	r.mu.Unlock()
	if prev != nil && prev.size == st.Size() && prev.modTime.Equal(st.ModTime()) {
		return nil
	}
	if !st.Mode().IsRegular() {
		// A FIFO would block the scan forever, a device such as /dev/zero (through a
		// symlink) would be read until the host runs out of memory.
		r.setProblem(name, &fileState{size: st.Size(), modTime: st.ModTime()},
			fmt.Sprintf("%s is not a regular file (%s)", name, st.Mode().Type()))
		return nil
	}
	if st.Size() > MaxModuleBytes {
		r.setProblem(name, &fileState{size: st.Size(), modTime: st.ModTime()},
			fmt.Sprintf("%s is %d bytes, more than the %d allowed", name, st.Size(), MaxModuleBytes))
		return nil
	}
	// An unchanged file's hash comes from the hash index, without reading the file.
	hash, known := r.meta.hash(path, st)
	var wasm []byte
	if !known {
		if wasm, err = r.readFile(name, path, st); wasm == nil {
			return err
		}
		hash = sandbox.Hash(wasm)
		r.meta.setHash(path, st, hash)
	}
	fs := &fileState{size: st.Size(), modTime: st.ModTime(), hash: hash}
	if prev != nil && prev.hash == fs.hash {
		fs.id = prev.id
		r.mu.Lock()
		r.files[name] = fs
		r.mu.Unlock()
		return nil
	}
	if d := r.meta.description(hash); d != nil {
		mod, err := r.opts.Runtime.LoadDescribed(d, name, func() ([]byte, error) { return readModule(path) })
		if err == nil {
			r.register(name, fs, mod)
			return nil
		}
		r.log.Warn("cached plugin metadata unusable, loading the module", "file", name, "error", err)
		r.meta.drop(hash)
	}
	if wasm == nil {
		if wasm, err = r.readFile(name, path, st); wasm == nil {
			return err
		}
		if h := sandbox.Hash(wasm); h != hash { // changed behind an unchanged identity
			fs.hash = h
			r.meta.forget(path)
		}
	}
	mod, err := r.opts.Runtime.Load(ctx, wasm, name)
	if err != nil {
		if prev != nil { // keep serving the old version of this file
			fs.id = prev.id
		}
		r.setProblem(name, fs, err.Error())
		return nil
	}
	r.meta.store(mod.Describe())
	r.register(name, fs, mod)
	return nil
}

// readFile reads a module of the plugins directory. It returns nil bytes, with a nil
// error, when the scan should pass over the file: it vanished (the next scan forgets it)
// or it is too large (reported as a problem).
func (r *Registry) readFile(name, path string, st os.FileInfo) ([]byte, error) {
	wasm, err := readModule(path)
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

// setProblem records why a file is not (or no longer) the registered version.
// errTooLarge is the error of a module file longer than MaxModuleBytes.
var errTooLarge = fmt.Errorf("module is more than the %d bytes allowed", MaxModuleBytes)

// readModule reads a module file, failing when it is longer than MaxModuleBytes (it
// may have grown since it was checked).
func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxModuleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxModuleBytes {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), errTooLarge)
	}
	return b, nil
}

func (r *Registry) setProblem(name string, fs *fileState, why string) {
	r.log.Error("plugin not loaded", "file", name, "error", why)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[name] = fs
	r.problems[name] = why
}

// register makes mod the current version of its id, retiring the version it replaces.
func (r *Registry) register(name string, fs *fileState, mod *sandbox.Module) {
	id := mod.ID()
	r.mu.Lock()
	if reason := r.reservedLocked(id); reason != "" {
		r.files[name] = fs
		r.problems[name] = reason
		r.mu.Unlock()
		r.log.Error("plugin not registered", "file", name, "id", id, "error", reason)
		_ = mod.Close(context.Background())
		return
	}
	if cur, ok := r.byID[id]; ok && cur.file != name && r.files[cur.file] != nil {
		why := fmt.Sprintf("plugin id %q is already provided by %s", id, cur.file)
		fs.conflict = id
		r.files[name] = fs
		r.problems[name] = why
		r.mu.Unlock()
		r.log.Error("plugin not registered", "file", name, "id", id, "error", why)
		_ = mod.Close(context.Background())
		return
	}
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
	toClose := r.retireLocked(old)
	r.mu.Unlock()
	closeAll(toClose)
	r.log.Info("plugin registered", "id", id, "file", name, "sha256", mod.Hash(), "kind", mod.Info().Kind)
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
	if err := v.mod.Ready(context.Background()); err != nil {
		err = r.notReady(v, err)
		r.release(v)
		return nil, err
	}
	return &handle{r: r, v: v}, nil
}

// Hook pins the current version of a hook module.
func (r *Registry) Hook(id string) (*HookHandle, error) {
	v, err := r.acquire(id)
	if err != nil {
		return nil, err
	}
	if len(v.mod.HookExports()) == 0 {
		r.release(v)
		return nil, fmt.Errorf("plugin %q is not a hook: it exports none of %s, or its metadata kind does not list hook", id, strings.Join(sandbox.HookExportNames(), ", "))
	}
	if err := v.mod.Ready(context.Background()); err != nil {
		err = r.notReady(v, err)
		r.release(v)
		return nil, err
	}
	return &HookHandle{Module: v.mod, release: func() { r.release(v) }}, nil
}

func (r *Registry) acquire(id string) (*version, error) {
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

// Add validates a module, writes it into the directory as <id>.wasm (atomically,
// replacing the file that provided that id before) and registers it. A module that does
// not load is refused and nothing is written.
func (r *Registry) Add(ctx context.Context, name string, wasm []byte) (*executor.Info, error) {
	if len(wasm) > MaxModuleBytes {
		return nil, apferr.New(apferr.InvalidParams, fmt.Sprintf("plugin %s is %d bytes, more than the %d allowed", name, len(wasm), MaxModuleBytes))
	}
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	mod, err := r.opts.Runtime.Load(ctx, wasm, name)
	if err != nil {
		return nil, apferr.New(apferr.InvalidParams, err.Error()).WithData(map[string]any{"field": "wasm", "plugin": name})
	}
	id := mod.ID()
	if reason := func() string { r.mu.Lock(); defer r.mu.Unlock(); return r.reservedLocked(id) }(); reason != "" {
		_ = mod.Close(ctx)
		return nil, apferr.New(apferr.InvalidParams, reason).WithData(map[string]any{"field": "id", "plugin": id})
	}
	file := id + ".wasm"
	if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		_ = mod.Close(ctx)
		return nil, apferr.New(apferr.InvalidParams, fmt.Sprintf("plugin id %q cannot be a file name", id))
	}
	tmp, err := os.CreateTemp(r.opts.Dir, ".upload-*")
	if err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("registry: write plugin: %w", err)
	}
	_, werr := tmp.Write(wasm)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("registry: write plugin: %w", err)
	}
	// Another file providing the same id is replaced by the canonical <id>.wasm.
	r.mu.Lock()
	var stale string
	if cur := r.byID[id]; cur != nil && cur.file != file {
		stale = cur.file
	}
	r.mu.Unlock()
	if err := os.Rename(tmp.Name(), filepath.Join(r.opts.Dir, file)); err != nil {
		_ = os.Remove(tmp.Name())
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("registry: install plugin: %w", err)
	}
	if stale != "" {
		_ = os.Remove(filepath.Join(r.opts.Dir, stale))
		r.forgetFile(stale)
	}
	st, err := os.Stat(filepath.Join(r.opts.Dir, file))
	if err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("registry: install plugin: %w", err)
	}
	r.meta.store(mod.Describe())
	r.meta.setHash(filepath.Join(r.opts.Dir, file), st, mod.Hash())
	r.meta.flush()
	r.register(file, &fileState{size: st.Size(), modTime: st.ModTime(), hash: mod.Hash()}, mod)
	return mod.Info(), nil
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

// Close unregisters everything and closes every module no handle pins; pinned ones close
// when released.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	var vs []*version
	for id, v := range r.byID {
		vs = append(vs, v)
		delete(r.byID, id)
	}
	toClose := r.retireLocked(vs)
	r.mu.Unlock()
	closeAll(toClose)
	return nil
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

// WriteMetrics writes the instance pool figures of every registered plugin in the
// Prometheus text format (GET /metrics).
func (r *Registry) WriteMetrics(w io.Writer) error {
	plugins := r.Plugins()
	series := []struct {
		name, help, kind string
		value            func(sandbox.PoolStats) int64
	}{
		{"apflow_plugin_pool_idle_instances", "Idle instances kept for reuse.", "gauge", func(s sandbox.PoolStats) int64 { return int64(s.Idle) }},
		{"apflow_plugin_instances_created_total", "Instances created.", "counter", func(s sandbox.PoolStats) int64 { return s.Created }},
		{"apflow_plugin_instances_reused_total", "Calls served by a pooled instance.", "counter", func(s sandbox.PoolStats) int64 { return s.Reused }},
		{"apflow_plugin_instances_recycled_total", "Healthy instances closed for age or memory growth.", "counter", func(s sandbox.PoolStats) int64 { return s.Recycled }},
		{"apflow_plugin_instances_discarded_total", "Instances closed after a trap, timeout, limit or bad result.", "counter", func(s sandbox.PoolStats) int64 { return s.Discarded }},
	}
	var b strings.Builder
	for _, s := range series {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", s.name, s.help, s.name, s.kind)
		for _, p := range plugins {
			fmt.Fprintf(&b, "%s{plugin=%q,sha256=%q} %d\n", s.name, p.Info.ID, p.Info.Hash, s.value(p.Pool))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
