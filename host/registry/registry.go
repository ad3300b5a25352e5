package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

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
	// Progress, when set, is called after each module a scan loads in full (compiles
	// and instantiates), with how many of the scan's full loads are done and their
	// total, from the loading goroutines. Described modules (metadata cache hits) are not
	// counted: they cost nothing.
	Progress func(done, total int)
	// Background makes Open return at once and run its scan in the background (a server
	// then answers at once instead of after compiling every plugin). Until that first
	// scan ends, a Lookup or Hook of an id not registered yet waits for it (files
	// register in name order, so a cached module after one still compiling waits for
	// it too), and List, Plugins and Problems show what is registered so far. Close
	// cancels the scan, which ends those waits. Problems of the first scan are logged
	// as errors, since Open cannot leave them to its caller.
	Background bool
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

	// opened is set once Open's own scan is done; from then on each new problem is
	// logged as an error. Written before Open returns, read under scanMu.
	opened bool
	// firstScan is closed when Open's scan has ended (at once unless Background);
	// stopScan cancels a background one.
	firstScan chan struct{}
	stopScan  context.CancelFunc
}

// Open creates the directory if needed, loads every plugin in it and returns the
// registry. Files that fail to load are reported by Problems, not returned as errors and
// not logged (at debug level only): showing them is the caller's job, so a user sees each
// once. Problems found by later scans, Add or Remove are logged as errors. Open fails only
// when the directory cannot be used.
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
	var err error
	if r.meta, err = openMetaCacheFor(opts, r.log); err != nil {
		return nil, err
	}
	r.firstScan = make(chan struct{})
	if opts.Background {
		r.scanInBackground(ctx)
		return r, nil
	}
	defer close(r.firstScan)
	if err := r.Rescan(ctx); err != nil {
		return nil, err
	}
	r.opened = true
	return r, nil
}

// scanInBackground runs Open's scan in a goroutine (Options.Background). The scan
// outlives ctx's cancellation; Close stops it.
func (r *Registry) scanInBackground(ctx context.Context) {
	r.opened = true
	scanCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stopScan = cancel
	go func() {
		defer close(r.firstScan)
		if err := r.Rescan(scanCtx); err != nil && scanCtx.Err() == nil {
			r.log.Error("scan of the plugins dir failed", "dir", r.opts.Dir, "error", err)
		}
	}()
}

// scanned reports whether Open's scan has ended.
func (r *Registry) scanned() bool {
	select {
	case <-r.firstScan:
		return true
	default:
		return false
	}
}

// openMetaCacheFor opens the metadata cache opts ask for; nil when there is none.
func openMetaCacheFor(opts Options, log hclog.Logger) (*metaCache, error) {
	if opts.NoMetadataCache {
		return nil, nil
	}
	metaDir := opts.MetadataDir
	if metaDir == "" && opts.Runtime.CacheDir() != "" {
		metaDir = filepath.Join(opts.Runtime.CacheDir(), "meta")
	}
	if metaDir == "" {
		return nil, nil
	}
	return openMetaCache(metaDir, log)
}

// Dir returns the plugins directory.
func (r *Registry) Dir() string { return r.opts.Dir }

// Close unregisters everything and closes every module no handle pins; pinned ones close
// when released.
func (r *Registry) Close(ctx context.Context) error {
	if r.stopScan != nil {
		r.stopScan()
		<-r.firstScan
	}
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
