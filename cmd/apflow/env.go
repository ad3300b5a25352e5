package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api"
	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/config"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/pluginshare"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/store/pgstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// globals are the flags every command shares.
type globals struct {
	dataDir     string
	cacheDir    string
	storeURL    string
	pluginsDir  string
	configPath  string
	logLevel    string
	concurrency int
	taskTimeout time.Duration
	memoryPages uint32
	maxResult   int64
	server      string
	token       string
	// compileTimeout is --compile-timeout: the longest a plugin's first compile may
	// take in its compile worker (compileWorker).
	compileTimeout time.Duration
	// cluster (PostgreSQL store)
	nodeID           string
	lease, heartbeat time.Duration

	// keepIDs, ephemeral and maxTreeBytes are apflow run's --keep-ids, --ephemeral and
	// --max-tree-bytes.
	keepIDs, ephemeral bool
	maxTreeBytes       int
	// treeBytes is the size of the tree apflow run (or generate --run) is about to
	// submit, as compact JSON (compactSize), 0 for other commands: it sizes the Badger
	// store's memtables (memTableSize).
	treeBytes int
	// memTableBytes is --memtable-bytes: the Badger store's memtable size the operator
	// chose, 0 to let memTableSize choose (checkMemTableBytes).
	memTableBytes int64
	// memory is the memory the process may use as the collector's pacer reads it
	// (gcMemory, with main's mounts read once); nil (tests): read afresh when needed.
	memory func() uint64

	stdout, stderr io.Writer
	// newCompleter returns the operator config's language model, or nil when the config
	// names none (generate_executor and tasks.generate then fail with
	// llm.ErrNotConfigured's message). nil: this build wires no provider.
	newCompleter func(cfg *config.Config) (llm.Completer, error)
	// listsProblems is set by a command that shows the plugin files that failed to load
	// in its own output (plugins list); openHost then does not warn about them.
	listsProblems bool
}

func (g *globals) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.dataDir, "data-dir", defaultDataDir(), "data directory: task store, plugins ($APFLOW_HOME, default ~/.apflow)")
	f.StringVar(&g.cacheDir, "cache-dir", envOr("APFLOW_CACHE_DIR", defaultCacheDir()), "compiled plugins and their metadata, shared by every data dir of this user ($APFLOW_CACHE_DIR, default <user cache dir>/apflow)")
	f.StringVar(&g.storeURL, "store", "", "task store shared by several nodes: a PostgreSQL URL, postgres://user:password@host:5432/db ($APFLOW_STORE; default: Badger in <data-dir>/db)")
	f.StringVar(&g.nodeID, "node-id", "", "with --store: this node's name in the cluster, unique per node ($APFLOW_NODE_ID; default <hostname>-<pid>)")
	f.DurationVar(&g.lease, "lease", pgstore.DefaultLease, "with --store: how long a node's leases last without a heartbeat; a dead node's work moves to others after about this long")
	f.DurationVar(&g.heartbeat, "heartbeat", 0, "with --store: how often a node renews its leases (default: a quarter of --lease)")
	f.StringVar(&g.pluginsDir, "plugins", "", "plugins directory (default <data-dir>/plugins)")
	f.StringVar(&g.configPath, "config", "", "operator config file: limits, grants, hooks (default <data-dir>/config.json if present)")
	f.StringVar(&g.logLevel, "log-level", envOr("APFLOW_LOG_LEVEL", "warn"), "log level: trace, debug, info, warn, error, off (logs go to stderr)")
	f.IntVar(&g.concurrency, "concurrency", 0, "tasks running at once (default: config file, else the engine default)")
	f.DurationVar(&g.taskTimeout, "task-timeout", 0, "default wall-time limit of one task, e.g. 30s (default: config file, else 30s)")
	f.DurationVar(&g.compileTimeout, "compile-timeout", sandbox.DefaultCompileTimeout, "longest a plugin's first compile may take, in a process of its own; a module whose compile takes longer is refused")
	f.Uint32Var(&g.memoryPages, "memory-pages", 0, "default memory limit of one task in 64 KiB pages (default: config file, else 256)")
	f.Int64Var(&g.maxResult, "max-result-bytes", 0, "default largest result of one task (default: config file, else 16 MiB)")
	f.Int64Var(&g.memTableBytes, "memtable-bytes", 0, "size of each of the Badger store's two memtables, 1 MiB to 64 MiB: larger ones make large trees faster and hold more memory (default: apflow run sizes them to its tree, other commands take 8 MiB)")
	f.StringVar(&g.server, "server", os.Getenv("APFLOW_SERVER"), "run, generate, tasks and plugins talk to a running apflow server at this URL instead of the local data dir; other commands refuse it, and ignore $APFLOW_SERVER ($APFLOW_SERVER)")
	f.StringVar(&g.token, "token", os.Getenv("APFLOW_TOKEN"), "bearer token for --server ($APFLOW_TOKEN)")
}

// again returns the command line that reaches the tasks this command used ("apflow
// tasks get ID --data-dir /tmp/d") for a command its output suggests (cmd: "tasks get
// ID"), or "" when no later command can (the run was --ephemeral: its tasks were never
// stored). It adds --server or --data-dir when given otherwise than by their environment
// variable or default, and a --store given as a flag as "--store …": the URL may hold a
// password, which output must not show.
func (g *globals) again(cmd string) string {
	if g.ephemeral {
		return ""
	}
	line := "apflow " + cmd
	switch {
	case g.server != "":
		if g.server != os.Getenv("APFLOW_SERVER") {
			line += " --server " + shellQuote(g.server)
		}
	case g.storeURL != "":
		line += " --store …"
	case g.dataDir != defaultDataDir():
		line += " --data-dir " + shellQuote(absPath(g.dataDir))
	}
	return line
}

// resumeLine is the command that continues a run this command interrupted: again's
// "apflow resume", with the flags given that decide how its tasks run (the plugins, the
// config and its grants, the default limits), or "" when nothing was stored.
func (g *globals) resumeLine() string {
	line := g.again("resume")
	if line == "" {
		return ""
	}
	add := func(name, v string) { line += " --" + name + " " + shellQuote(v) }
	if g.pluginsDir != "" {
		add("plugins", absPath(g.pluginsDir))
	}
	if g.configPath != "" {
		add("config", absPath(g.configPath))
	}
	if g.cacheDir != envOr("APFLOW_CACHE_DIR", defaultCacheDir()) {
		add("cache-dir", absPath(g.cacheDir))
	}
	if g.concurrency != 0 {
		add("concurrency", strconv.Itoa(g.concurrency))
	}
	if g.taskTimeout != 0 {
		add("task-timeout", g.taskTimeout.String())
	}
	if g.memoryPages != 0 {
		add("memory-pages", strconv.FormatUint(uint64(g.memoryPages), 10))
	}
	if g.maxResult != 0 {
		add("max-result-bytes", strconv.FormatInt(g.maxResult, 10))
	}
	return line
}

// textOut is where a command's progress and summary go: stdout, or stderr when stdout
// holds its JSON alone (--json).
func (g *globals) textOut(jsonOut bool) io.Writer {
	if jsonOut {
		return g.stderr
	}
	return g.stdout
}

// absPath is path made absolute where it can be: a command printed for later may run
// from another directory.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// shellQuote quotes s for a POSIX shell when it holds anything but letters, digits and
// the few punctuation marks a path or URL commonly holds.
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:@%+=,-", r))
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultDataDir() string {
	if v := os.Getenv("APFLOW_HOME"); v != "" {
		return v
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".apflow")
	}
	return ".apflow"
}

// defaultCacheDir is the user's cache directory for apflow (on Linux
// $XDG_CACHE_HOME/apflow or ~/.cache/apflow), or "" when the platform has none: the
// cache then lives in the data dir (see wasmCacheDir).
func defaultCacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "apflow")
	}
	return ""
}

// compileProgress reports the plugins a scan compiles (a cold cache): a server says so on
// stderr ("compiling 21 plugins… 3/21"), since it answers meanwhile; other commands log it
// at info level.
func (g *globals) compileProgress(role hostRole, log hclog.Logger) func(done, total int) {
	var mu sync.Mutex // the loading goroutines report concurrently
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if role == roleServer {
			fmt.Fprintf(g.stderr, "compiling %d plugins… %d/%d\n", total, done, total)
			return
		}
		log.Info("compiling plugins", "done", done, "total", total)
	}
}

// wasmCacheDir is the compilation cache of this process: --cache-dir, else
// <data dir>/wasm-cache. It is per user, not per data dir, so that a fresh data dir does
// not compile every plugin again; the cache is keyed by module content (and wazero's
// version), so data dirs with different plugins share it safely.
//
// The default (the user cache dir) may not be writable: a system user whose home is
// /nonexistent, a container with a read-only root. The cache is then the data dir's, as
// it used to be; a --cache-dir or $APFLOW_CACHE_DIR given explicitly is used or fails.
func (g *globals) wasmCacheDir() string {
	switch {
	case g.cacheDir != "" && (g.cacheDir != defaultCacheDir() || os.MkdirAll(g.cacheDir, 0o755) == nil):
		return filepath.Join(g.cacheDir, "wasm")
	case g.ephemeral:
		return "" // in memory: an ephemeral run writes nothing in the data dir
	}
	return filepath.Join(g.dataDir, "wasm-cache")
}

// checkEphemeral refuses what an ephemeral run cannot do without touching the data
// dir: another store, or a plugins dir it would have to create.
func (g *globals) checkEphemeral() error {
	if g.storeDSN() != "" {
		return &exitError{code: exitInvalid, msg: "--ephemeral runs in memory: it takes no --store"}
	}
	if _, err := os.Stat(g.pluginsPath()); err != nil {
		return &exitError{code: exitInvalid, msg: fmt.Sprintf("--ephemeral creates nothing: the plugins dir %s must exist (%v)", g.pluginsPath(), err)}
	}
	return nil
}

func (g *globals) logger() hclog.Logger {
	level, ok := logLevel(g.logLevel)
	if !ok {
		level = hclog.Warn // checkValues refused it; tests may build globals without
	}
	return hclog.New(&hclog.LoggerOptions{Name: "apflow", Level: level, Output: g.stderr})
}

// checkClusterFlags refuses the flags of a cluster node given without a cluster
// (--store or $APFLOW_STORE), which would be ignored.
func (g *globals) checkClusterFlags(cmd *cobra.Command) error {
	if g.storeDSN() != "" {
		return nil
	}
	for _, name := range []string{"node-id", "lease", "heartbeat"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return invalidf("--%s sets this node's part in a cluster, which needs --store (or $APFLOW_STORE): drop --%s, or give --store", name, name)
		}
	}
	return nil
}

// logLevel reads a --log-level value: trace, debug, info, warn (or warning), error or
// off, in any case.
func logLevel(s string) (hclog.Level, bool) {
	switch {
	case strings.EqualFold(s, "off"):
		return hclog.Off, true
	case strings.EqualFold(s, "warning"):
		return hclog.Warn, true
	}
	level := hclog.LevelFromString(s)
	return level, level != hclog.NoLevel
}

// checkValues refuses global flag values no command can use, rather than running with
// a default instead of what was asked: an unknown log level, negative limits, a lease
// that never lasts.
func (g *globals) checkValues() error {
	_, levelOK := logLevel(g.logLevel)
	switch {
	case !levelOK:
		return invalidf("--log-level %q (or $APFLOW_LOG_LEVEL): want trace, debug, info, warn, error or off", g.logLevel)
	case g.concurrency < 0:
		return invalidf("--concurrency %d: want 1 or more (0: the config's, else the engine's default)", g.concurrency)
	case g.taskTimeout < 0:
		return invalidf("--task-timeout %s: want a positive duration (0: the config's, else 30s)", g.taskTimeout)
	case g.maxResult < 0:
		return invalidf("--max-result-bytes %d: want 1 or more (0: the config's, else 16 MiB)", g.maxResult)
	case g.compileTimeout <= 0:
		return invalidf("--compile-timeout %s: want a positive duration", g.compileTimeout)
	case g.lease <= 0:
		return invalidf("--lease %s: want a positive duration", g.lease)
	case g.heartbeat < 0:
		return invalidf("--heartbeat %s: want a positive duration (0: a quarter of --lease)", g.heartbeat)
	case g.heartbeat >= g.lease:
		return invalidf("--heartbeat %s: want less than --lease %s, so that a node renews its leases before they run out", g.heartbeat, g.lease)
	}
	return nil
}

// loadConfig reads the operator config and applies the command-line overrides.
func (g *globals) loadConfig() (*config.Config, error) {
	path, optional := g.configPath, false
	if path == "" {
		path, optional = filepath.Join(g.dataDir, "config.json"), true
	}
	cfg, err := config.Load(path, optional)
	if err != nil {
		// Bad input, as a bad flag is (exit status 2): not a failed task.
		return nil, &exitError{code: exitInvalid, msg: err.Error()}
	}
	if g.concurrency > 0 {
		cfg.Concurrency = g.concurrency
	}
	if g.taskTimeout > 0 {
		cfg.Limits.TimeoutMS = g.taskTimeout.Milliseconds()
	}
	if g.memoryPages > 0 {
		cfg.Limits.MemoryPages = g.memoryPages
	}
	if g.maxResult > 0 {
		cfg.Limits.MaxResultBytes = g.maxResult
	}
	return cfg, nil
}

// sandboxConfigExit is err, from making a sandbox runtime, as the command's exit: limits
// that contradict each other (sandbox.ConfigError) are bad input, exit status 2, with
// where to look; other errors are returned as they are.
func sandboxConfigExit(err error) error {
	var bad *sandbox.ConfigError
	if errors.As(err, &bad) {
		return &exitError{code: exitInvalid, msg: err.Error() +
			" (limits and max_limits of the config file, --task-timeout, --memory-pages, --max-result-bytes)"}
	}
	return err
}

// checkPluginsDir refuses a --plugins path that is not a directory, and warns of one
// that does not exist, which the registry creates empty: a new node or a first
// `plugins add` fills it, but a mistyped path would otherwise show only as executors
// that are not registered.
func (g *globals) checkPluginsDir() error {
	if g.pluginsDir == "" {
		return nil
	}
	st, err := os.Stat(g.pluginsDir)
	switch {
	case errors.Is(err, os.ErrNotExist) && g.ephemeral:
		return nil // checkEphemeral refuses it: --ephemeral creates nothing
	case errors.Is(err, os.ErrNotExist):
		g.logger().Warn("the --plugins directory does not exist; it is created empty", "dir", g.pluginsDir)
		return nil
	case err == nil && !st.IsDir():
		err = errors.New("not a directory")
	}
	if err != nil {
		return &exitError{code: exitInvalid, msg: fmt.Sprintf("--plugins %s: %v", g.pluginsDir, err)}
	}
	return nil
}

// pluginsPath is the local plugins directory.
func (g *globals) pluginsPath() string {
	if g.pluginsDir != "" {
		return g.pluginsDir
	}
	return filepath.Join(g.dataDir, "plugins")
}

// host is a local apflow host: the task store, the sandbox runtime, the plugin registry
// and the engine, wired together. Every command that works on the local data dir opens
// one and closes it before it returns.
type host struct {
	log      hclog.Logger
	cfg      *config.Config
	store    store.Store
	keys     store.Keys // the same store: its idempotency keys
	kv       store.KV   // the same store: plugins' key-value entries (docs/kv.md)
	runtime  *sandbox.Runtime
	registry *registry.Registry
	catalog  executor.Catalog
	hooks    *hooks.Runner
	engine   *engine.Engine
	// node is this process's membership of the cluster (PostgreSQL store), or nil.
	node *pgstore.Node
	// taskSchemas compiles tasks' own input schemas for submission and execution alike.
	taskSchemas *schema.Cache
	// completer is the operator's language model, or nil when none is configured.
	completer llm.Completer

	// plugins manages the plugins for the API and the plugins commands: the registry, or
	// in a cluster the Syncer that shares them through the database.
	plugins api.Plugins
	// pluginSync keeps the registry in step with the cluster's shared plugins (a
	// PostgreSQL store), or is nil; stopPluginSync stops its loop (servers and workers).
	pluginSync     *pluginshare.Syncer
	stopPluginSync func()
	// stopKVPurge stops the periodic purge of expired kv entries (servers), or is nil.
	stopKVPurge func()
}

// hostRole is what a command's host does in a cluster (a PostgreSQL store).
type hostRole uint8

const (
	// roleClient: the command reads and changes tasks and may start a run, which it
	// coordinates while it lives, but executes nothing and takes no run over.
	roleClient hostRole = iota
	// roleWorker: a node that also claims and executes tasks (run, resume).
	roleWorker
	// roleServer: a worker that recovers at start-up: on Badger, runs interrupted by a
	// crash are reset and resumed; in a cluster, runs no live node holds are taken over.
	roleServer
)

// completer returns the language model cfg configures, nil when none.
func (g *globals) completer(cfg *config.Config) (llm.Completer, error) {
	if g.newCompleter == nil {
		return nil, nil
	}
	c, err := g.newCompleter(cfg)
	if err != nil {
		return nil, fmt.Errorf("operator config: llm: %w", err)
	}
	return c, nil
}

// prepareHost is what opening any host starts with: the logger (the process's memory
// policy logged), the operator config, and a check of the plugins directory.
func (g *globals) prepareHost() (hclog.Logger, *config.Config, error) {
	log := g.logger()
	g.logProcess(log)
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	return log, cfg, g.checkPluginsDir()
}

// openHost opens the local data dir, or the cluster's database with --store.
func (g *globals) openHost(ctx context.Context, role hostRole) (*host, error) {
	log, cfg, err := g.prepareHost()
	if err != nil {
		return nil, err
	}
	if !g.ephemeral {
		if err := os.MkdirAll(g.dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	} else if err := g.checkEphemeral(); err != nil {
		return nil, err
	}
	st, err := g.openStore(ctx, log.Named("store"))
	if err != nil {
		return nil, err
	}
	h := &host{log: log, cfg: cfg, store: st, keys: st, kv: st}
	ok := false
	defer func() {
		if !ok {
			_ = h.close(context.Background())
		}
	}()
	_, isPG := st.(*pgstore.Store)
	// A server on its own store answers at once and compiles in the background; a
	// cluster node joins only once its plugins are compiled (see below).
	if err := g.loadPlugins(ctx, h, role, role == roleServer && !isPG); err != nil {
		return nil, err
	}
	// The node joins once its plugins, the cluster's included, are compiled, right
	// before its engine starts heartbeating: joined earlier, it would show as dead for
	// as long as compiling takes, and claim tasks it has no plugin for yet.
	if pg, ok := st.(*pgstore.Store); ok {
		id := g.clusterNodeID()
		if err := h.sharePlugins(ctx, pg, id, role); err != nil {
			return nil, err
		}
		if h.node, err = g.joinCluster(ctx, pg, id, cfg, log); err != nil {
			return nil, err
		}
		if role != roleClient {
			h.runPluginSync()
		}
	}
	ecfg := engine.Config{
		Store: st, Catalog: h.catalog, Concurrency: cfg.Concurrency, Logger: log.Named("engine"),
		TaskSchemas: h.taskSchemas, ClusterClient: role == roleClient, Retry: cfg.Retry,
		TaskLogs: store.LogBounds{MaxLines: cfg.TaskLogs.MaxLines, MaxBytes: cfg.TaskLogs.MaxBytes},
	}
	if h.node != nil {
		ecfg.Cluster = h.node
	}
	if len(cfg.Hooks) > 0 {
		h.hooks, err = hooks.New(hooks.Config{
			Registry: h.registry, IDs: cfg.Hooks, Limits: cfg.HookLimits, Store: st, Logger: log.Named("hooks"),
		})
		if err != nil {
			return nil, err
		}
		ecfg.Hooks = h.hooks
	}
	h.engine, err = engine.New(ecfg)
	if err != nil {
		return nil, err
	}
	if role == roleServer {
		if err := h.engine.Recover(ctx); err != nil {
			return nil, fmt.Errorf("recover interrupted runs: %w", err)
		}
	}
	if role != roleClient {
		h.purgeKV(ctx)
	}
	if role == roleServer {
		h.stopKVPurge = h.purgeKVEvery(kvPurgeInterval)
	}
	ok = true
	return h, nil
}

// logProcess logs, at debug level, the process's memory limit and collector policy.
func (g *globals) logProcess(log hclog.Logger) {
	if !log.IsDebug() {
		return
	}
	memory := g.memory
	if memory == nil { // globals built without it (tests)
		memory = processMemory()
	}
	kv := append([]any{"memory_limit", memoryLimit()}, gcPolicy(os.Getenv, memory)...)
	log.Debug("process", append(kv, "gc_percent_now", gcPercentNow())...)
}

// openPluginHost opens the host of a plugins command. With a PostgreSQL store it is a
// client of the cluster, whose plugins are kept in the database. On the embedded store
// it is only the sandbox and the plugins directory: listing, adding or removing plugins
// creates no task store and works while a server holds the data dir's.
func (g *globals) openPluginHost(ctx context.Context) (*host, error) {
	if g.storeDSN() != "" || g.ephemeral {
		return g.openHost(ctx, roleClient)
	}
	log, cfg, err := g.prepareHost()
	if err != nil {
		return nil, err
	}
	h := &host{log: log, cfg: cfg}
	if err := g.loadPlugins(ctx, h, roleClient, false); err != nil {
		_ = h.close(context.Background())
		return nil, err
	}
	return h, nil
}

// loadPlugins starts h's sandbox and loads the plugins directory into h.registry and
// h.catalog (the built-in executors before the plugins). h's log, cfg and kv are set;
// kv may be nil (a host that runs no task). background compiles the directory's modules
// after it returns (a server on its own store).
func (g *globals) loadPlugins(ctx context.Context, h *host, role hostRole, background bool) error {
	var err error
	if h.completer, err = g.completer(h.cfg); err != nil {
		return err
	}
	h.runtime, err = sandbox.New(ctx, sandbox.Config{
		LLM:            h.completer, // plugins with the llm grant reach it through llm_complete
		CacheDir:       g.wasmCacheDir(),
		CompileWorker:  compileWorker(),
		CompileTimeout: g.compileTimeout,
		Defaults:       h.cfg.Limits,
		Max:            h.cfg.MaxLimits,
		Grants:         h.cfg.Grants,
		KV:             h.kv,
		Logger:         h.log.Named("sandbox"),
	})
	if err != nil {
		return sandboxConfigExit(err)
	}
	pluginsDir := g.pluginsPath()
	builtins := builtin.Catalog()
	var reserved []string
	for _, info := range builtins.List() {
		reserved = append(reserved, info.ID)
	}
	h.registry, err = registry.Open(ctx, registry.Options{
		Runtime: h.runtime, Dir: pluginsDir, Logger: h.log, Reserved: reserved, PluginLimits: h.cfg.PluginLimits,
		Background: background, Progress: g.compileProgress(role, h.log),
	})
	if err != nil {
		return err
	}
	if !g.listsProblems && !background {
		g.warnProblems(h.registry)
	}
	if h.completer != nil {
		// generate_executor checks its trees as tasks.create would: the host's store and
		// full catalog (set below, read only when the executor runs).
		builtins = builtin.Catalog(builtin.WithGenerate(h.completer, h.registry,
			func(ctx context.Context, data []byte, userID string, ns task.Namespace) error {
				_, err := api.SubmitPrepare(h.catalog, h.store, nil, h.taskSchemas, 0)(ctx, data, api.Owner{UserID: userID, Namespace: ns})
				return err
			}))
	}
	h.catalog = executor.Chain(builtins, h.registry)
	h.plugins = h.registry
	h.taskSchemas = schema.NewTaskCache(0)
	return nil
}

// taskStore is what a host keeps tasks, idempotency keys and plugins' key-value entries
// in; every backend is all three.
type taskStore interface {
	store.Store
	store.Keys
	store.KV
}

// openStore opens the task store: PostgreSQL when --store (or $APFLOW_STORE) is a
// postgres:// or postgresql:// URL, else Badger in <data-dir>/db.
func (g *globals) openStore(ctx context.Context, log hclog.Logger) (taskStore, error) {
	if g.ephemeral {
		return memstore.New(), nil
	}
	dsn := g.storeDSN()
	if dsn == "" {
		log.Debug("opening the task store", "tree_bytes", g.treeBytes) // the store logs its memtable size
		st, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(g.dataDir, "db"), Logger: log,
			MemTableSize: g.memTableSize()})
		if errors.Is(err, badgerstore.ErrLocked) {
			return nil, fmt.Errorf("%w (stop it, or pass --server to talk to a running apflow serve)", err)
		}
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	if err := checkStoreURL(dsn); err != nil {
		return nil, err
	}
	return pgstore.Open(ctx, pgstore.Options{DSN: dsn, Logger: log})
}

// Memtables sized to the submission (memTableSize).
const (
	// smallTreeBytes is the tree size (as compact JSON, compactSize) below which apflow
	// run opens the Badger store with smallMemTableSize: some 12,000 small tasks.
	smallTreeBytes = 1 << 20
	// smallMemTableSize is the memtable size of such a run.
	smallMemTableSize = 3 << 20
	// bigTreeBytes is the tree size (as compact JSON) from which apflow run opens the
	// Badger store with bigMemTableSize: some 350,000 small tasks. It is also the default
	// --max-tree-bytes (of the file as it is): a larger file needs the flag raised.
	bigTreeBytes = 32 << 20
	// bigMemTableSize is the memtable size of such a run.
	bigMemTableSize = 32 << 20
)

// memTableSize is the size of the Badger store's memtables for a process about to
// submit a tree of treeBytes bytes as compact JSON (apflow run, apflow generate --run;
// 0 when it submits none, as apflow serve and resume), so that indentation changes
// nothing: smallMemTableSize below smallTreeBytes,
// the store's default (badgerstore.DefaultMemTableSize) up to bigTreeBytes,
// bigMemTableSize from there. Each size was measured against its neighbours in one
// sitting (docs/performance.md, thirteenth and fourteenth passes):
//   - Memtables four times larger are flushed into the LSM tree a quarter as often,
//     which is then compacted less, and that pays when a run writes a great deal: a
//     1,000,000-task run took 14% less time for 5% more peak RSS, a 400,000-task run
//     was within the noise on time and peaked 8-10% lower, but a 100,000-task run, up
//     to 11% faster, peaked 40% higher, above the memory a run of that size is meant to
//     take.
//   - Memtables of 3 MiB instead of 8 hold less and build their tables in smaller
//     buffers, and a small run's writes still fit in level 0 (a dozen flushes) without
//     a compaction: a 10,000-task run peaked a fifth lower (86-94 MiB instead of
//     112-119) for up to 10% more time, a 12,400-task run 20% lower for 8% more time. A
//     transaction then takes about 4,900 entries (0.47 MB): a round of 1,000
//     completions is committed in two. From 20,000 tasks on they cost time (12-15%) and, from
//     30,000, memory too: level 0 fills and is compacted. 2 MiB held more than 3.
//
// A process that opens the store after one with larger memtables died opens it with
// theirs until it closes it (badgerstore, recovery.go). --memtable-bytes, when given,
// wins (globals.memTableSize).
func memTableSize(treeBytes int) int64 {
	switch {
	case treeBytes >= bigTreeBytes:
		return bigMemTableSize
	case treeBytes > 0 && treeBytes < smallTreeBytes:
		return smallMemTableSize
	}
	return badgerstore.DefaultMemTableSize
}

// memTableAdvice returns what apflow serve calls with each request body's length
// (api.Config.RequestBody), or nil where it has nothing to say: the server's store is
// not Badger, its memtables are the operator's choice (--memtable-bytes), or maxBody
// refuses a body of bigTreeBytes. Otherwise the first body of bigTreeBytes or more logs,
// once, as a warning (the level a server logs by default), that requests that large are
// faster with bigMemTableSize memtables, as apflow run takes for such a tree. A server
// cannot size its memtables to each request, and larger ones by default would hold more
// for the small requests most servers take (docs/configuration.md, "Memory").
func (g *globals) memTableAdvice(maxBody int64, log hclog.Logger) func(bytes int) {
	if g.ephemeral || g.storeDSN() != "" || g.memTableBytes != 0 || maxBody < bigTreeBytes {
		return nil
	}
	var said atomic.Bool
	return func(bytes int) {
		if bytes < bigTreeBytes || said.Swap(true) {
			return
		}
		log.Warn("a large request: a server of requests this large is faster with --memtable-bytes "+
			strconv.Itoa(bigMemTableSize)+" (docs/configuration.md, Memory); this is said once",
			"request_bytes", bytes)
	}
}

// memTableSize is the memtable size the Badger store opens with: --memtable-bytes when
// given, else the size memTableSize chooses for the tree this command submits.
func (g *globals) memTableSize() int64 {
	if g.memTableBytes != 0 {
		return g.memTableBytes
	}
	return memTableSize(g.treeBytes)
}

// The range of --memtable-bytes: from 1 MiB, the smallest the store is tested with, to
// 64 MiB. Each memtable is one Go allocation of about 1.3 times its size, and its flush
// builds a table in as much again (badgerstore.Options.MemTableSize: 64 MiB memtables
// alone took over 100 MiB of RSS), while nothing above apflow run's 32 MiB
// (bigMemTableSize) was measured faster.
const (
	minMemTableBytes = 1 << 20
	maxMemTableBytes = 64 << 20
)

// checkMemTableBytes refuses a --memtable-bytes out of its range, or given to a command
// that opens no Badger store, which would ignore it: one that never does
// (annotNoBadger), talks to a server (--server or $APFLOW_SERVER, after
// checkServerFlags), keeps its tasks in memory (--ephemeral) or in PostgreSQL (--store,
// $APFLOW_STORE).
func (g *globals) checkMemTableBytes(cmd *cobra.Command) error {
	if !cmd.Flags().Changed("memtable-bytes") {
		return nil
	}
	switch {
	case g.memTableBytes < minMemTableBytes || g.memTableBytes > maxMemTableBytes:
		return invalidf("--memtable-bytes %d: want 1 MiB to 64 MiB (%d to %d bytes)", g.memTableBytes, minMemTableBytes, maxMemTableBytes)
	case marked(cmd, annotNoBadger):
		return invalidf("--memtable-bytes sizes the Badger store, which %s does not open: drop --memtable-bytes", cmd.CommandPath())
	case g.server != "":
		return invalidf("--memtable-bytes sizes the local Badger store; with --server (or $APFLOW_SERVER) the server's store is used: drop --memtable-bytes, or --server")
	case g.ephemeral:
		return invalidf("--memtable-bytes sizes the Badger store; --ephemeral keeps the run in memory: drop one or the other")
	case g.storeDSN() != "":
		return invalidf("--memtable-bytes sizes the Badger store in --data-dir; --store (or $APFLOW_STORE) chooses a PostgreSQL one: drop one or the other")
	}
	return nil
}

// storeDSN is the PostgreSQL store's URL: --store, else $APFLOW_STORE; "" for the
// Badger store in --data-dir.
func (g *globals) storeDSN() string {
	if g.storeURL != "" {
		return g.storeURL
	}
	return os.Getenv("APFLOW_STORE")
}

// checkStoreURL refuses a --store value that is not a postgres:// or postgresql:// URL.
// The value may hold a password: the error names only its scheme.
func checkStoreURL(dsn string) error {
	scheme, _, ok := strings.Cut(dsn, "://")
	if scheme != "postgres" && scheme != "postgresql" {
		actual := "a value without a scheme"
		if ok {
			actual = scheme + "://…"
		}
		return apferr.InvalidParam("store", "want a PostgreSQL URL, postgres://user:password@host:5432/db, or nothing for the Badger store in --data-dir",
			"postgres://…", actual)
	}
	return nil
}

// close shuts the host down: the engine first (running tasks get until ctx is done to
// finish, then go back to pending durably), then plugins, runtime and store.
func (h *host) close(ctx context.Context) error {
	var errs []error
	if h.stopPluginSync != nil {
		h.stopPluginSync()
	}
	if h.stopKVPurge != nil {
		h.stopKVPurge()
	}
	if h.engine != nil {
		errs = append(errs, h.engine.Close(ctx)) // the engine leaves the cluster
	} else if h.node != nil {
		errs = append(errs, h.node.Leave(ctx)) // joined, then failed to start
	}
	if h.registry != nil {
		errs = append(errs, h.registry.Close(ctx))
	}
	if h.runtime != nil {
		// The drain (ctx) belongs to the engine: once it has closed, the plugin calls it
		// interrupted are cancelled and leave within moments, so the runtime gets its
		// own short bound even when the drain's deadline has passed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runtimeCloseGrace)
		errs = append(errs, h.runtime.Close(rctx))
		cancel()
	}
	if h.store != nil {
		errs = append(errs, h.store.Close())
	}
	return errors.Join(errs...)
}

// runtimeCloseGrace bounds how long closing the sandbox waits for the plugin calls the
// engine cancelled to return, and for a plugin's compile in flight (seconds for a Go
// module's first one), which cannot be interrupted.
const runtimeCloseGrace = 5 * time.Second

// shutdown closes the host, giving running tasks shutdownGrace to finish.
func (h *host) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = h.close(ctx)
}

// clusterNodeID is this process's node id: --node-id, $APFLOW_NODE_ID, else
// <hostname>-<pid>.
func (g *globals) clusterNodeID() string {
	id := g.nodeID
	if id == "" {
		id = os.Getenv("APFLOW_NODE_ID")
	}
	if id == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "node"
		}
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return id
}

// joinCluster makes this process node id of the cluster on pg's database.
func (g *globals) joinCluster(ctx context.Context, pg *pgstore.Store, id string, cfg *config.Config, log hclog.Logger) (*pgstore.Node, error) {
	concurrency := cfg.Concurrency
	if concurrency == 0 {
		concurrency = engine.DefaultConcurrency
	}
	node, err := pgstore.Join(ctx, pg, pgstore.NodeOptions{ID: id, Version: version, Concurrency: concurrency,
		Lease: g.lease, Heartbeat: g.heartbeat})
	if err != nil {
		return nil, err
	}
	warnSchemaMismatch(ctx, node, log)
	return node, nil
}

// warnSchemaMismatch warns about live nodes running another schema version than this
// one (a rolling upgrade under way); apflow cluster status marks them too.
func warnSchemaMismatch(ctx context.Context, node *pgstore.Node, log hclog.Logger) {
	st, err := node.Status(ctx)
	if err != nil {
		log.Warn("reading the cluster's nodes failed", "error", err)
		return
	}
	for _, n := range st.Nodes {
		if n.Alive && n.ID != node.NodeID() && n.SchemaVersion != pgstore.SchemaVersion() {
			log.Warn("a live node runs another schema version (another apflow release): finish the upgrade",
				"node", n.ID, "its_schema_version", n.SchemaVersion, "version", n.Version, "this_schema_version", pgstore.SchemaVersion())
		}
	}
}
