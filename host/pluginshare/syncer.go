package pluginshare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/executor"
)

// DefaultPollInterval is how often Run makes a pass when no notice arrives.
const DefaultPollInterval = 2 * time.Second

// Local is this node's plugin registry (host/registry.Registry).
type Local interface {
	// Add validates a module, installs it under its id and describes it; a module that
	// does not load fails with an InvalidParams error.
	Add(ctx context.Context, name string, wasm []byte) (*executor.Info, error)
	// Remove uninstalls the plugin registered under id; ExecutorNotFound if none is.
	Remove(ctx context.Context, id string) error
	// List describes the registered plugins; Hash is each one's sha256, hex.
	List() []*executor.Info
	// Problems names the files that failed to load, and why.
	Problems() map[string]string
}

// Shared is the cluster's database (host/store/pgstore.Store).
type Shared interface {
	// PutPlugin makes wasm (sha256 sha) the current version of id.
	PutPlugin(ctx context.Context, id, sha string, wasm []byte, by string) error
	// RemovePlugin tombstones id and reports whether it had a current version.
	RemovePlugin(ctx context.Context, id, by string) (bool, error)
	// SharedPlugins lists every id held, current or tombstoned.
	SharedPlugins(ctx context.Context) ([]cluster.SharedPlugin, error)
	// PluginBlob returns the module stored under sha, unchecked.
	PluginBlob(ctx context.Context, sha string) ([]byte, error)
	// HasPluginBlob reports whether a module is stored under sha.
	HasPluginBlob(ctx context.Context, sha string) (bool, error)
}

// Options configure a Syncer.
type Options struct {
	// Local is the node's registry and Shared the cluster's database. Required.
	Local  Local
	Shared Shared
	// NodeID is recorded in the database as who made a change. Required.
	NodeID string
	// PollInterval is the period of Run's passes (default DefaultPollInterval).
	PollInterval time.Duration
	// Logger receives what passes install, remove and fail to load; nil discards.
	Logger hclog.Logger
}

// Syncer keeps a node's registry in step with the database and is the node's plugin
// manager for the API (Add, Remove, List). It is safe for concurrent use.
type Syncer struct {
	opts Options
	log  hclog.Logger

	mu sync.Mutex // serialises passes, Add and Remove; guards the maps
	// failed holds, by id, the shared sha256 that failed to load here: not tried again
	// until the database holds another.
	failed map[string]string
	// kept holds, by tombstoned id, the change and local sha256 of a version left
	// alone (the database never held it), so the decision is not remade every pass.
	kept map[string]keptVersion
}

type keptVersion struct {
	change int64
	sha    string
}

// New returns a Syncer; call Run to keep the node in step.
func New(opts Options) (*Syncer, error) {
	if opts.Local == nil || opts.Shared == nil || opts.NodeID == "" {
		return nil, errors.New("pluginshare: Local, Shared and NodeID are required")
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Syncer{opts: opts, log: opts.Logger.Named("plugins"),
		failed: map[string]string{}, kept: map[string]keptVersion{}}, nil
}

// Add installs wasm on this node (refusing, with the registry's InvalidParams error, a
// module that does not load: nothing reaches the database), then stores it in the
// database as the current version of its id, for every node.
func (s *Syncer) Add(ctx context.Context, name string, wasm []byte) (*executor.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, err := s.opts.Local.Add(ctx, name, wasm)
	if err != nil {
		return nil, err
	}
	if err := s.opts.Shared.PutPlugin(ctx, info.ID, info.Hash, wasm, s.opts.NodeID); err != nil {
		return nil, fmt.Errorf("plugin %s is installed on this node only (other nodes will not load it): %w", info.ID, err)
	}
	delete(s.failed, info.ID)
	return info, nil
}

// Remove tombstones id in the database, so every node removes it, then removes it
// here. Running tasks finish on the version they hold. It fails with ExecutorNotFound
// when id is neither shared nor installed here.
func (s *Syncer) Remove(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	shared, err := s.opts.Shared.RemovePlugin(ctx, id, s.opts.NodeID)
	if err != nil {
		return err
	}
	delete(s.failed, id)
	err = s.opts.Local.Remove(ctx, id)
	if shared && isNotFound(err) {
		return nil // shared, but not loaded here
	}
	return err
}

// List describes the plugins registered on this node.
func (s *Syncer) List() []*executor.Info { return s.opts.Local.List() }

// Problems names this node's plugin files that failed to load (Local.Problems).
func (s *Syncer) Problems() map[string]string { return s.opts.Local.Problems() }

// Run makes a pass (Sync) at once, at every value from notices and every poll
// interval, until ctx ends; a failed pass is logged and the next one tries again.
// notices may be nil or closed: passes then run on the poll alone.
func (s *Syncer) Run(ctx context.Context, notices <-chan struct{}) {
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	for {
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("syncing the cluster's plugins failed; trying again", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-notices:
			if !ok {
				notices = nil
			}
		case <-tick.C:
		}
	}
}

// Sync makes one pass: it installs every shared plugin whose sha256 differs from this
// node's version and removes the tombstoned ones this node holds a shared version of.
// A plugin that fails to load is logged, not returned; the error is what kept the pass
// from reading the database or changing the registry, for the next pass to retry.
func (s *Syncer) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	shared, err := s.opts.Shared.SharedPlugins(ctx)
	if err != nil {
		return err
	}
	local := map[string]string{}
	for _, info := range s.opts.Local.List() {
		if info.Hash != "" {
			local[info.ID] = info.Hash
		}
	}
	var errs []error
	for _, p := range shared {
		if p.Removed {
			errs = append(errs, s.applyRemoval(ctx, p, local[p.ID]))
		} else {
			errs = append(errs, s.install(ctx, p, local[p.ID]))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// install makes p's version this node's, unless it is already or failed before.
func (s *Syncer) install(ctx context.Context, p cluster.SharedPlugin, have string) error {
	delete(s.kept, p.ID)
	if have == p.SHA256 {
		delete(s.failed, p.ID)
		return nil
	}
	if s.failed[p.ID] == p.SHA256 {
		return nil
	}
	wasm, err := s.opts.Shared.PluginBlob(ctx, p.SHA256)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.ID, err)
	}
	if got := sha256Hex(wasm); got != p.SHA256 {
		s.fail(p, fmt.Sprintf("the module stored under sha256 %s hashes to %s: refused", p.SHA256, got))
		return nil
	}
	info, err := s.opts.Local.Add(ctx, p.ID, wasm)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.fail(p, err.Error())
		return nil
	}
	if info.ID != p.ID {
		s.fail(p, fmt.Sprintf("the module declares the id %q (installed under it)", info.ID))
		return nil
	}
	delete(s.failed, p.ID)
	s.log.Info("plugin installed from the cluster", "id", p.ID, "sha256", p.SHA256, "replaced", have, "changed_by", p.ChangedBy)
	return nil
}

// fail records that p's version does not load here, and logs why once.
func (s *Syncer) fail(p cluster.SharedPlugin, why string) {
	s.failed[p.ID] = p.SHA256
	s.log.Error("plugin shared by the cluster not loaded on this node (tried again when its sha256 changes)",
		"id", p.ID, "sha256", p.SHA256, "changed_by", p.ChangedBy, "error", why)
}

// applyRemoval removes tombstoned p here when this node's version (have) is one the
// database holds, and leaves a version deployed to this node's directory alone.
func (s *Syncer) applyRemoval(ctx context.Context, p cluster.SharedPlugin, have string) error {
	delete(s.failed, p.ID)
	if have == "" {
		delete(s.kept, p.ID)
		return nil
	}
	if s.kept[p.ID] == (keptVersion{p.Change, have}) {
		return nil
	}
	known := have == p.SHA256
	if !known {
		var err error
		if known, err = s.opts.Shared.HasPluginBlob(ctx, have); err != nil {
			return fmt.Errorf("plugin %s: %w", p.ID, err)
		}
	}
	if !known {
		s.kept[p.ID] = keptVersion{p.Change, have}
		s.log.Info("plugin removed from the cluster kept on this node: its version was deployed to this node's directory, never shared",
			"id", p.ID, "sha256", have, "removed_by", p.ChangedBy)
		return nil
	}
	if err := s.opts.Local.Remove(ctx, p.ID); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove plugin %s: %w", p.ID, err)
	}
	s.log.Info("plugin removed: the cluster removed it", "id", p.ID, "sha256", have, "removed_by", p.ChangedBy)
	return nil
}

func isNotFound(err error) bool {
	return err != nil && apferr.CodeOf(err) == apferr.ExecutorNotFound
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
