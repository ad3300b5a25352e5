package sandbox

import (
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/task"
)

// Operator defaults, used where Config leaves a field zero.
const (
	// DefaultTimeoutMS is the default wall-time limit of one execution: 30 s.
	DefaultTimeoutMS = 30_000
	// DefaultMemoryPages is the default memory limit: 256 pages of 64 KiB (16 MiB), twice
	// what a Go plugin uses under load.
	DefaultMemoryPages = 256
	// DefaultMaxResultBytes is the default cap on a result document: 16 MiB.
	DefaultMaxResultBytes = 16 << 20

	// MaxTimeoutMS is the default ceiling of a task's timeout_ms: 1 hour.
	MaxTimeoutMS = 3_600_000
	// MaxMetadataBytes bounds each document a module describes itself with (metadata,
	// input and output schema, hook config), whatever max_result_bytes allows a task: a
	// description is read by every load, held for the module's life and shown by
	// apflow plugins inspect.
	MaxMetadataBytes = 1 << 20
	// MaxMemoryPages is the default ceiling of a task's memory_pages: 16384 pages (1 GiB).
	MaxMemoryPages = 16384
	// MaxResultBytes is the default ceiling of a task's max_result_bytes: 256 MiB.
	MaxResultBytes = 256 << 20

	// DefaultPoolSize is how many idle instances a module keeps by default.
	DefaultPoolSize = 4
	// DefaultRecycleAfter is how many executions an instance serves before it is replaced.
	DefaultRecycleAfter = 1000
	// DefaultLoadTimeout bounds the metadata calls Load makes (including _initialize).
	DefaultLoadTimeout = 10 * time.Second
	// DefaultCompileTimeout bounds a module's compile in a process of its own
	// (Config.CompileWorker): ten times a 3.7 MB Go module's on a slow day here.
	DefaultCompileTimeout = 2 * time.Minute
	// DefaultHTTPMaxResponseBytes caps the body of a response to http_request: 4 MiB.
	DefaultHTTPMaxResponseBytes = 4 << 20
	// DefaultHTTPTimeout is the timeout of http_request when the guest sets none.
	DefaultHTTPTimeout = 10 * time.Second

	// pageSize is the WebAssembly page size.
	pageSize = 65536
	// wasm32Pages is the largest memory a 32-bit module can have (4 GiB).
	wasm32Pages = 65536
)

// Config configures a [Runtime]. The zero value is usable: every zero field takes the
// documented default.
type Config struct {
	// CacheDir is the directory of the persistent compilation cache (typically
	// <data dir>/wasm-cache). A restart finds compiled modules there and does not
	// recompile them. Empty means an in-memory cache only.
	CacheDir string

	// Defaults are the operator's limits, used for every limit a task leaves at zero.
	// Zero fields take DefaultTimeoutMS, DefaultMemoryPages and DefaultMaxResultBytes.
	Defaults task.Limits
	// Max are the ceilings of per-task overrides: a task asking for more gets the
	// ceiling. Zero fields take MaxTimeoutMS, MaxMemoryPages and MaxResultBytes. The
	// memory ceiling is also the limit under which Load instantiates a module, so a module
	// declaring a larger minimum memory is rejected at load.
	Max task.Limits

	// PoolSize is how many idle instances each module keeps for reuse (default 4).
	// It does not limit concurrency: more instances are created on demand and the
	// surplus is closed when returned.
	PoolSize int
	// RecycleAfter is how many executions an instance serves before it is closed and
	// replaced (default 1000). Long-lived Go instances bloat; recycling bounds that.
	RecycleAfter int
	// RecycleMemoryPages recycles an instance whose memory grew past this many pages.
	// Zero means the larger of twice the instance's size after initialisation plus 64
	// pages and Defaults.MemoryPages (see the package doc, "Pooling").
	RecycleMemoryPages uint32
	// LoadTimeout bounds instantiation plus the metadata calls of Load (default 10 s):
	// a module whose _initialize never returns is rejected after it.
	LoadTimeout time.Duration

	// CompileWorker, when set with a CacheDir, is the command line of a compile worker:
	// a process that runs CompileWorkerMain when its environment has CompileWorkerEnv
	// (the apflow binary itself). A module this runtime has not compiled before (one
	// whose rewrite is not cached) is then validated, rewritten and compiled to native
	// code in such a process first, which writes the code to the cache, and refused if
	// the process says the module is invalid, fails, or runs past CompileTimeout; the
	// runtime then compiles the rewrite, reading the code from the cache. wazero's
	// compiler takes time quadratic in a function's basic blocks (40,000 sequential ifs,
	// a 200 KB function, took 72 s), cannot be stopped inside a function, and ends the
	// process when it runs out of memory: a worker bounds all three, and the host's
	// wazero never reads a module from outside as written. Nil, or no CacheDir,
	// validates and compiles in this process (a first load is then 10–20 ms faster).
	CompileWorker []string
	// CompileTimeout bounds a compile worker (default DefaultCompileTimeout).
	CompileTimeout time.Duration

	// Grants returns the capability grants of a plugin, by plugin id (its metadata id).
	// It is called for every execution and instantiation, so changes take effect on the
	// next execution. Nil grants nothing: only log and progress are available.
	Grants func(pluginID string) Grants

	// HTTPMaxResponseBytes caps response bodies of http_request (default 4 MiB).
	HTTPMaxResponseBytes int64
	// HTTPTimeout is the timeout of http_request when the guest sets none (default 10 s);
	// every request is also bounded by the task's deadline.
	HTTPTimeout time.Duration

	// KV keeps the entries of the kv_* host functions (docs/kv.md), typically the task
	// store. Nil: kv_* calls of plugins granted kv answer that the host has no kv store.
	KV KVStore
	// LLM answers llm_complete (docs/abi.md) for plugins granted llm. It is called with
	// the context of the guest call (the caller's context, bounded by the task's
	// deadline), so that a Completer finds there what the caller put in it. Nil:
	// llm_complete answers code llm_not_configured.
	LLM llm.Completer
	// Now is the clock of kv_* calls (expiry); nil means time.Now.
	Now func() time.Time

	// Logger receives the runtime's own log lines (loads, recycling). Nil discards them.
	Logger hclog.Logger
}

// withDefaults returns c with every zero field set to its default, or an error naming
// the first inconsistent field.
func (c Config) withDefaults() (Config, error) {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Max.TimeoutMS, MaxTimeoutMS)
	def(&c.Max.MaxResultBytes, MaxResultBytes)
	if c.Max.MemoryPages == 0 {
		c.Max.MemoryPages = MaxMemoryPages
	}
	if c.Max.MemoryPages > wasm32Pages {
		return c, &ConfigError{fmt.Sprintf("max memory_pages %d is above the wasm32 maximum of %d pages (4 GiB)", c.Max.MemoryPages, wasm32Pages)}
	}
	if c.Max.TimeoutMS > math.MaxInt64/int64(time.Millisecond) {
		return c, &ConfigError{fmt.Sprintf("max timeout_ms %d is too large (at most %d)", c.Max.TimeoutMS, math.MaxInt64/int64(time.Millisecond))}
	}
	// The operator's defaults must lie within the ceilings; a built-in default above a
	// ceiling the operator lowered is lowered to it (docs/configuration.md): setting
	// only max_limits.timeout_ms to 10 s gives tasks 10 s.
	for _, l := range []struct {
		name         string
		v            *int64
		builtin, max int64
	}{{"timeout_ms", &c.Defaults.TimeoutMS, DefaultTimeoutMS, c.Max.TimeoutMS},
		{"max_result_bytes", &c.Defaults.MaxResultBytes, DefaultMaxResultBytes, c.Max.MaxResultBytes}} {
		if *l.v <= 0 {
			*l.v = min(l.builtin, l.max)
		} else if *l.v > l.max {
			return c, &ConfigError{fmt.Sprintf("default %s %d is above the maximum %d", l.name, *l.v, l.max)}
		}
	}
	if c.Defaults.MemoryPages == 0 {
		c.Defaults.MemoryPages = min(DefaultMemoryPages, c.Max.MemoryPages)
	} else if c.Defaults.MemoryPages > c.Max.MemoryPages {
		return c, &ConfigError{fmt.Sprintf("default memory_pages %d is above the maximum %d", c.Defaults.MemoryPages, c.Max.MemoryPages)}
	}
	if c.PoolSize <= 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.RecycleAfter <= 0 {
		c.RecycleAfter = DefaultRecycleAfter
	}
	if c.LoadTimeout <= 0 {
		c.LoadTimeout = DefaultLoadTimeout
	}
	if c.CompileTimeout <= 0 {
		c.CompileTimeout = DefaultCompileTimeout
	}
	if c.HTTPMaxResponseBytes <= 0 {
		c.HTTPMaxResponseBytes = DefaultHTTPMaxResponseBytes
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// effective merges a task's limits over the defaults and clamps them to the maxima.
func (c *Config) effective(l task.Limits) task.Limits {
	if l.TimeoutMS <= 0 {
		l.TimeoutMS = c.Defaults.TimeoutMS
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = c.Defaults.MemoryPages
	}
	if l.MaxResultBytes <= 0 {
		l.MaxResultBytes = c.Defaults.MaxResultBytes
	}
	l.TimeoutMS = min(l.TimeoutMS, c.Max.TimeoutMS)
	l.MemoryPages = min(l.MemoryPages, c.Max.MemoryPages)
	l.MaxResultBytes = min(l.MaxResultBytes, c.Max.MaxResultBytes)
	return l
}

// formatPages renders a page count with its size in binary units: "256 pages (16 MiB)",
// "40 pages (2.5 MiB)".
func formatPages(pages uint32) string {
	n := int64(pages) * pageSize
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%d pages (%s)", pages, trimUnit(float64(n)/(1<<30), "GiB"))
	case n >= 1<<20:
		return fmt.Sprintf("%d pages (%s)", pages, trimUnit(float64(n)/(1<<20), "MiB"))
	default:
		return fmt.Sprintf("%d pages (%d KiB)", pages, n>>10)
	}
}

// formatBytes renders a byte count for people: exact binary units when the count is a
// round number of them ("16 MiB"), otherwise decimal units ("100 MB", "1.5 kB").
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1e9:
		return trimUnit(float64(n)/1e9, "GB")
	case n >= 1e6:
		return trimUnit(float64(n)/1e6, "MB")
	case n >= 1e3:
		return trimUnit(float64(n)/1e3, "kB")
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

func trimUnit(v float64, unit string) string {
	s := fmt.Sprintf("%.1f", v)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + unit
}

// ConfigError is a Config whose limits contradict each other or the wasm32 bounds: the
// operator's to fix (the CLI exits as for a bad config file).
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string { return "sandbox config: " + e.msg }
