package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// hookExports are the exports that make a module a hook, in ABI order.
var hookExports = []string{"pre_hook", "post_hook", "on_tree_created", "on_tree_started", "on_tree_completed", "on_tree_failed"}

// HookExportNames returns the exports that make a module a hook, in ABI order:
// pre_hook, post_hook, on_tree_created, on_tree_started, on_tree_completed, on_tree_failed.
func HookExportNames() []string { return slices.Clone(hookExports) }

// Module is one loaded plugin version: a compiled module, its metadata and schemas, and a
// pool of instances. It implements executor.Executor. It is safe for concurrent use; each
// instance serves one call at a time.
type Module struct {
	rt       *Runtime
	hash     string
	compiled wazero.CompiledModule
	info     *executor.Info
	hooks    []string
	hookFor  []string // get_hook_config executors; nil: every task
	minPages uint32   // declared minimum memory

	pool      pool
	transport *http.Transport

	mu       sync.Mutex
	active   int
	closed   bool
	released bool
}

// metadata is what get_metadata returns.
type metadata struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Version      string   `json:"version"`
	Tags         []string `json:"tags"`
	Capabilities []string `json:"capabilities"`
}

// Load compiles wasm (once per content hash; the persistent cache makes a restart cheap),
// checks its exports and imports against the ABI, instantiates it once under the
// operator's maximum limits and LoadTimeout to read its metadata, schemas and hook config,
// and compiles its input schema. name is the file name, used as the plugin id when the
// module has no metadata and in error messages. Every rejection is an *Error of
// KindInvalid naming the plugin and the problem.
func (r *Runtime) Load(ctx context.Context, wasm []byte, name string) (*Module, error) {
	hash := Hash(wasm)
	fileID := strings.TrimSuffix(name, ".wasm")
	invalid := func(format string, args ...any) error {
		return &Error{Plugin: fileID, Hash: hash, Kind: KindInvalid, Msg: fmt.Sprintf(format, args...)}
	}
	compiled, err := r.compile(ctx, hash, wasm)
	if err != nil {
		return nil, &Error{Plugin: fileID, Hash: hash, Kind: KindInvalid, Msg: "does not compile: " + err.Error(), Err: err}
	}
	m := &Module{rt: r, hash: hash, compiled: compiled}
	m.pool.m = m
	ok := false
	defer func() {
		if !ok {
			m.releaseCompiled()
		}
	}()
	if err := m.checkImports(); err != nil {
		return nil, invalid("%v", err)
	}
	isExec, err := m.checkExports()
	if err != nil {
		return nil, invalid("%v", err)
	}
	// A placeholder id until the metadata is read, so that errors name the file.
	m.info = &executor.Info{ID: fileID, Hash: hash}
	if err := m.readMetadata(ctx, isExec, fileID); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, &Error{Plugin: fileID, Hash: hash, Kind: KindInvalid, Msg: "rejected at load: " + e.Msg, Err: err}
		}
		return nil, invalid("%v", err)
	}
	m.transport = newTransport()
	ok = true
	r.cfg.Logger.Debug("plugin loaded", "plugin", m.info.ID, "sha256", hash, "kind", m.info.Kind)
	return m, nil
}

// checkImports accepts only functions of wasi_snapshot_preview1 and apflow that the host
// provides, with the host's signatures, and no imported memory.
func (m *Module) checkImports() error {
	if mems := m.compiled.ImportedMemories(); len(mems) > 0 {
		mod, name, _ := mems[0].Import()
		return fmt.Errorf("imports memory %s.%s: a plugin must define and export its own memory", mod, name)
	}
	for _, def := range m.compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != wasiModuleName && mod != hostModuleName {
			return fmt.Errorf("imports %s.%s: only %s and %s may be imported", mod, name, wasiModuleName, hostModuleName)
		}
		want, ok := m.rt.hostFuncs[mod+"\x00"+name]
		if !ok {
			return fmt.Errorf("imports %s.%s, which the host does not provide", mod, name)
		}
		if !slices.Equal(want.ParamTypes(), def.ParamTypes()) || !slices.Equal(want.ResultTypes(), def.ResultTypes()) {
			return fmt.Errorf("imports %s.%s with signature %s, the host provides %s",
				mod, name, signature(def), signature(want))
		}
	}
	return nil
}

// exportSigs are the signatures of the ABI's exports.
var exportSigs = func() map[string][2][]api.ValueType {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	call := [2][]api.ValueType{{i32, i32}, {i64}}
	getter := [2][]api.ValueType{nil, {i64}}
	s := map[string][2][]api.ValueType{
		"alloc":             {{i32}, {i32}},
		"dealloc":           {{i32, i32}, nil},
		"_initialize":       {nil, nil},
		"get_metadata":      getter,
		"execute":           call,
		"get_input_schema":  getter,
		"get_output_schema": getter,
		"get_hook_config":   getter,
	}
	for _, h := range hookExports {
		s[h] = call
	}
	return s
}()

// checkExports verifies the exports the ABI requires and the signatures of those it knows.
func (m *Module) checkExports() (isExecutor bool, err error) {
	if _, ok := m.compiled.ExportedMemories()["memory"]; !ok {
		return false, fmt.Errorf("does not export its memory as \"memory\"")
	}
	if mem := m.compiled.ExportedMemories()["memory"]; mem != nil {
		m.minPages = mem.Min()
	}
	funcs := m.compiled.ExportedFunctions()
	for name, want := range exportSigs {
		def, ok := funcs[name]
		if !ok {
			continue
		}
		if !slices.Equal(def.ParamTypes(), want[0]) || !slices.Equal(def.ResultTypes(), want[1]) {
			return false, fmt.Errorf("exports %s with signature %s, the ABI requires %s", name, signature(def), sigString(want[0], want[1]))
		}
	}
	for _, name := range []string{"alloc", "dealloc"} {
		if _, ok := funcs[name]; !ok {
			return false, fmt.Errorf("does not export %s (required of every plugin)", name)
		}
	}
	_, isExecutor = funcs["execute"]
	if isExecutor {
		if _, ok := funcs["get_input_schema"]; !ok {
			return false, fmt.Errorf("exports execute but not get_input_schema")
		}
	}
	for _, h := range hookExports {
		if _, ok := funcs[h]; ok {
			m.hooks = append(m.hooks, h)
		}
	}
	if !isExecutor && len(m.hooks) == 0 {
		return false, fmt.Errorf("is neither an executor (no execute export) nor a hook (none of %s)", strings.Join(hookExports, ", "))
	}
	return isExecutor, nil
}

// readMetadata calls the metadata getters in a throwaway instance and fills m.info.
func (m *Module) readMetadata(ctx context.Context, isExec bool, fileID string) error {
	cfg := &m.rt.cfg
	limits := task.Limits{TimeoutMS: cfg.LoadTimeout.Milliseconds(), MemoryPages: cfg.Max.MemoryPages, MaxResultBytes: cfg.Max.MaxResultBytes}
	getters := []string{"get_metadata", "get_input_schema", "get_output_schema", "get_hook_config"}
	docs, err := m.callGetters(ctx, limits, getters)
	if err != nil {
		return err
	}
	info := &executor.Info{ID: fileID, Hash: m.hash, Kind: "wasm"}
	if !isExec {
		info.Kind = "hook"
	}
	if md := docs["get_metadata"]; md != nil {
		var meta metadata
		if err := json.Unmarshal(md, &meta); err != nil {
			return fmt.Errorf("get_metadata returned invalid metadata: %v", err)
		}
		if meta.ID != "" {
			info.ID = meta.ID
		}
		info.Name, info.Description, info.Version, info.Tags, info.Capabilities =
			meta.Name, meta.Description, meta.Version, meta.Tags, meta.Capabilities
	}
	if info.ID == "" {
		return fmt.Errorf("has no id: get_metadata sets none and the file name is empty")
	}
	info.OutputSchema = docs["get_output_schema"]
	if isExec {
		info.InputSchema = docs["get_input_schema"]
		// {} and true accept anything: nothing to compile or validate.
		if s := string(bytes.TrimSpace(info.InputSchema)); info.InputSchema != nil && s != "{}" && s != "true" {
			c := jsonschema.NewCompiler()
			c.Draft = jsonschema.Draft2020
			url := "apflow-plugin:///" + info.ID + "/input_schema.json"
			if err := c.AddResource(url, bytes.NewReader(info.InputSchema)); err != nil {
				return fmt.Errorf("input schema does not compile: %v", err)
			}
			compiled, err := c.Compile(url)
			if err != nil {
				return fmt.Errorf("input schema does not compile: %v", err)
			}
			info.Compiled = compiled
		}
	}
	if hc := docs["get_hook_config"]; hc != nil {
		var conf struct {
			Executors []string `json:"executors"`
		}
		if err := json.Unmarshal(hc, &conf); err != nil {
			return fmt.Errorf("get_hook_config returned invalid JSON: %v", err)
		}
		m.hookFor = conf.Executors
	}
	m.info = info
	return nil
}

// Info describes the module: id, metadata, schemas (compiled input schema), hash. The
// returned value is shared and must not be modified.
func (m *Module) Info() *executor.Info { return m.info }

// ID returns the plugin id (metadata id, or the file name without .wasm).
func (m *Module) ID() string { return m.info.ID }

// Hash returns the module's sha256, hex.
func (m *Module) Hash() string { return m.hash }

// IsExecutor reports whether the module exports execute.
func (m *Module) IsExecutor() bool { return m.info.Kind == "wasm" }

// HookExports returns the hook exports the module has, in ABI order.
func (m *Module) HookExports() []string { return slices.Clone(m.hooks) }

// HookExecutors returns the executor ids a hook module asked to run around
// (get_hook_config), or nil for every task.
func (m *Module) HookExecutors() []string { return slices.Clone(m.hookFor) }

// Close stops reuse of the module's instances and releases its compiled code once the
// calls in flight have returned. Calls after Close fail with KindClosed. It is idempotent.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	idle := m.active == 0
	m.mu.Unlock()
	m.pool.close(ctx)
	if m.transport != nil {
		m.transport.CloseIdleConnections()
	}
	if idle {
		m.releaseCompiled()
	}
	return nil
}

// enter registers a call in flight, or fails if the module is closed.
func (m *Module) enter() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return &Error{Plugin: m.info.ID, Hash: m.hash, Kind: KindClosed, Msg: "module was unloaded"}
	}
	m.active++
	return nil
}

// leave ends a call; the last call after Close releases the compiled code.
func (m *Module) leave() {
	m.mu.Lock()
	m.active--
	last := m.closed && m.active == 0
	m.mu.Unlock()
	if last {
		m.releaseCompiled()
	}
}

func (m *Module) releaseCompiled() {
	m.mu.Lock()
	done := m.released
	m.released = true
	m.mu.Unlock()
	if !done {
		m.rt.release(m.hash)
	}
}

func signature(def api.FunctionDefinition) string {
	return sigString(def.ParamTypes(), def.ResultTypes())
}

func sigString(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(params) + ") -> (" + names(results) + ")"
}
