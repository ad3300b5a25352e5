package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/schema"
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

	roles []string // metadata kind; nil when the metadata has none

	pool      pool
	transport *http.Transport

	// A module from LoadDescribed is compiled by its first Ready: source gives its bytes,
	// ready is set once compiled is usable, readyErr remembers a failed check.
	source   func() ([]byte, error)
	ready    atomic.Bool
	readyMu  sync.Mutex
	readyErr error

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
	// Retry is the executor's default retry policy (docs/retries.md), checked at load.
	Retry json.RawMessage `json:"retry"`
	// Kind lists the roles the module plays ("executor", "hook"); nil means the
	// exports decide (docs/abi.md#metadata-kind).
	Kind []string `json:"kind"`
}

// checkDescription refuses what a module may not describe itself with: an id that is no
// file name (a plugin is installed as <id>.wasm), and control characters, which would
// drive the terminal of whoever lists or inspects the module, in its one-line fields
// (id, name, version, tags) or, but for line breaks (CRLF too) and tabs, its description.
func checkDescription(info *executor.Info) error {
	if strings.ContainsAny(info.ID, `/\`) || info.ID == "." || info.ID == ".." {
		return fmt.Errorf("plugin id %q cannot be a file name (a plugin is installed as <id>.wasm)", info.ID)
	}
	fields := []struct{ name, text string }{{"id", info.ID}, {"name", info.Name}, {"version", info.Version}}
	for _, tag := range info.Tags {
		fields = append(fields, struct{ name, text string }{"tag", tag})
	}
	for _, f := range fields {
		if strings.IndexFunc(f.text, unicode.IsControl) >= 0 {
			return fmt.Errorf("get_metadata's %s %q holds a control character", f.name, f.text)
		}
	}
	if strings.IndexFunc(info.Description, func(r rune) bool { return unicode.IsControl(r) && !strings.ContainsRune("\n\r\t", r) }) >= 0 {
		return fmt.Errorf("get_metadata's description %q holds a control character other than a line break or a tab", info.Description)
	}
	for _, c := range info.Capabilities {
		if !slices.Contains(capabilityNames, c) {
			return fmt.Errorf("get_metadata's capabilities name %q, which is not a capability (want some of %s)", c, strings.Join(capabilityNames, ", "))
		}
	}
	return nil
}

// capabilityNames are the capabilities a plugin's metadata may ask for: those an
// operator grants (the fields of Grants, docs/configuration.md, "Grants"), and log and
// progress, which every plugin has. TestCapabilityNamesAreTheGrants keeps them the same.
var capabilityNames = []string{"clock", "config", "http", "kv", "llm", "log", "progress", "random", "repository"}

// CapabilityNames returns the capabilities a plugin's metadata may ask for (sorted).
func CapabilityNames() []string { return slices.Clone(capabilityNames) }

// Load compiles wasm (once per content hash; the persistent cache makes a restart cheap),
// checks its exports and imports against the ABI, instantiates it once under the
// operator's maximum limits and LoadTimeout to read its metadata, schemas and hook config,
// and compiles its input schema. name is the file name, used as the plugin id when the
// module has no metadata and in error messages. Every rejection is an *Error of
// KindInvalid naming the plugin and the problem; a Load that fails because the runtime
// is closing or closed (Close cancels it) fails with KindClosed instead.
func (r *Runtime) Load(ctx context.Context, wasm []byte, name string) (*Module, error) {
	hash := Hash(wasm)
	fileID := strings.TrimSuffix(name, ".wasm")
	if !r.enter() { // Load instantiates to read metadata: a guest call
		return nil, r.closedError(fileID, hash, nil)
	}
	defer r.leave()
	m, err := r.load(ctx, wasm, hash, fileID)
	if err != nil && r.isClosed() {
		return nil, r.closedError(fileID, hash, err)
	}
	return m, err
}

// load is Load once the call is registered.
func (r *Runtime) load(ctx context.Context, wasm []byte, hash, fileID string) (*Module, error) {
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
	if err := checkImports(compiled, r.hostFuncs); err != nil {
		return nil, invalid("%s", withFix(err))
	}
	ex, err := checkExports(compiled)
	if err != nil {
		return nil, invalid("%s", withFix(err))
	}
	m.minPages, m.hooks = ex.minPages, ex.hooks
	// A placeholder id until the metadata is read, so that errors name the file.
	m.info = &executor.Info{ID: fileID, Hash: hash}
	if err := m.readMetadata(ctx, ex.executor, fileID); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, &Error{Plugin: fileID, Hash: hash, Kind: KindInvalid, Msg: "rejected at load: " + e.Msg, Err: err}
		}
		return nil, invalid("%v", err)
	}
	m.transport = newTransport()
	m.ready.Store(true)
	ok = true
	r.loads.Add(1)
	r.cfg.Logger.Debug("plugin loaded", "plugin", m.info.ID, "sha256", hash, "kind", m.info.Kind)
	r.warnUnusableGrants(m)
	return m, nil
}

// warnUnusableGrants warns of a grant the operator gave a plugin that its kind cannot
// use, which would otherwise do nothing without a word: kv to a module with no executor
// (a hook's kv calls are refused), repository to one with no hook (only hooks call
// store_call).
func (r *Runtime) warnUnusableGrants(m *Module) {
	g := r.grants(m.info.ID)
	if g.KV != nil && !m.IsExecutor() {
		r.cfg.Logger.Warn("the kv grant of this plugin does nothing: it is not an executor, and hooks have no kv (docs/kv.md)", "plugin", m.info.ID)
	}
	if g.Repository && len(m.hooks) == 0 {
		r.cfg.Logger.Warn("the repository grant of this plugin does nothing: only hooks call store_call (docs/configuration.md)", "plugin", m.info.ID)
	}
}

// abiError is one way a module breaks the ABI, with the fix [Runtime.Inspect] shows
// for it (its fixes are in inspect.go).
type abiError struct{ msg, fix string }

func (e *abiError) Error() string { return e.msg }

func abiErr(fix, format string, args ...any) error {
	return &abiError{msg: fmt.Sprintf(format, args...), fix: fix}
}

// withFix is err's message, and for an ABI problem its fix: what a load error says, so
// that an author who never ran apflow plugins inspect reads what to do.
func withFix(err error) string {
	var abi *abiError
	if errors.As(err, &abi) && abi.fix != "" {
		return abi.msg + "; to fix: " + abi.fix
	}
	return err.Error()
}

// checkImports accepts only functions of wasi_snapshot_preview1 and apflow that the host
// provides, with the host's signatures, and no imported memory. It returns the first of
// importProblems.
func checkImports(compiled wazero.CompiledModule, hostFuncs map[string]api.FunctionDefinition) error {
	if errs := importProblems(compiled, hostFuncs); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// importProblems lists every import of compiled that the host refuses, in module order.
func importProblems(compiled wazero.CompiledModule, hostFuncs map[string]api.FunctionDefinition) []error {
	var errs []error
	for _, mem := range compiled.ImportedMemories() {
		mod, name, _ := mem.Import()
		errs = append(errs, abiErr(fixMemory, "imports memory %s.%s: a plugin must define and export its own memory", mod, name))
	}
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != wasiModuleName && mod != hostModuleName {
			fix := fixImport
			if mod == "env" && name == "abort" {
				fix = fixAbort
			}
			errs = append(errs, abiErr(fix, "imports %s.%s: only %s and %s may be imported", mod, name, wasiModuleName, hostModuleName))
			continue
		}
		want, ok := hostFuncs[mod+"\x00"+name]
		if !ok {
			errs = append(errs, abiErr(fixImport, "imports %s.%s, which the host does not provide", mod, name))
			continue
		}
		if !slices.Equal(want.ParamTypes(), def.ParamTypes()) || !slices.Equal(want.ResultTypes(), def.ResultTypes()) {
			errs = append(errs, abiErr(fixSignature, "imports %s.%s with signature %s, the host provides %s",
				mod, name, signature(def), signature(want)))
		}
	}
	return errs
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

// exportFacts is what the exports of a compiled module say about it.
type exportFacts struct {
	executor bool     // exports execute
	hooks    []string // hook exports, in ABI order
	minPages uint32   // declared minimum memory
}

// checkExports verifies the exports the ABI requires and the signatures of those it
// knows, returning the first of exportProblems.
func checkExports(compiled wazero.CompiledModule) (exportFacts, error) {
	ex, errs := exportProblems(compiled)
	if len(errs) > 0 {
		return ex, errs[0]
	}
	return ex, nil
}

// exportProblems returns the facts the exports of compiled state and every way they
// break the ABI, most fundamental first.
func exportProblems(compiled wazero.CompiledModule) (exportFacts, []error) {
	var ex exportFacts
	var errs []error
	if mem, ok := compiled.ExportedMemories()["memory"]; ok {
		ex.minPages = mem.Min()
	} else {
		errs = append(errs, abiErr(fixMemory, "does not export its memory as \"memory\""))
	}
	funcs := compiled.ExportedFunctions()
	for _, name := range slices.Sorted(maps.Keys(exportSigs)) {
		want := exportSigs[name]
		def, ok := funcs[name]
		if !ok {
			continue
		}
		if !slices.Equal(def.ParamTypes(), want[0]) || !slices.Equal(def.ResultTypes(), want[1]) {
			errs = append(errs, abiErr(fixSignature, "exports %s with signature %s, the ABI requires %s", name, signature(def), sigString(want[0], want[1])))
		}
	}
	_, start := funcs["_start"]
	if _, initialize := funcs["_initialize"]; start && !initialize {
		errs = append(errs, abiErr(fixCommand, "is a WASI command (exports _start, not _initialize): its runtime is never set up, so its exports trap"))
	}
	for _, name := range []string{"alloc", "dealloc"} {
		if _, ok := funcs[name]; !ok {
			errs = append(errs, abiErr(fixMissing(funcs), "does not export %s (required of every plugin)", name))
		}
	}
	_, ex.executor = funcs["execute"]
	if ex.executor {
		if _, ok := funcs["get_input_schema"]; !ok {
			errs = append(errs, abiErr(fixRoles, "exports execute but not get_input_schema"))
		}
	}
	for _, h := range hookExports {
		if _, ok := funcs[h]; ok {
			ex.hooks = append(ex.hooks, h)
		}
	}
	if !ex.executor && len(ex.hooks) == 0 {
		errs = append(errs, abiErr(fixMissing(funcs), "is neither an executor (no execute export) nor a hook (none of %s)", strings.Join(hookExports, ", ")))
	}
	return ex, errs
}

// Roles of the metadata kind (docs/abi.md#metadata-kind).
const (
	roleExecutor = "executor"
	roleHook     = "hook"
)

// applyRoles narrows what the exports offer to the roles the metadata kind lists: a
// module is an executor only if kind lists "executor", a hook only if it lists "hook".
// Nil roles (no kind) leave the exports in charge. A role the exports cannot play, an
// unknown role or an empty list is an error.
func applyRoles(roles []string, ex exportFacts) (executor bool, hooks []string, err error) {
	if roles == nil {
		return ex.executor, ex.hooks, nil
	}
	if len(roles) == 0 {
		return false, nil, fmt.Errorf("metadata kind is empty: it must list %q, %q or both", roleExecutor, roleHook)
	}
	for _, role := range roles {
		switch role {
		case roleExecutor:
			if !ex.executor {
				return false, nil, fmt.Errorf("metadata kind lists %q but the module does not export execute", roleExecutor)
			}
			executor = true
		case roleHook:
			if len(ex.hooks) == 0 {
				return false, nil, fmt.Errorf("metadata kind lists %q but the module exports (or its get_hook_config lists) none of %s", roleHook, strings.Join(hookExports, ", "))
			}
			hooks = ex.hooks
		default:
			return false, nil, fmt.Errorf("metadata kind lists unknown role %q (known: %q, %q)", role, roleExecutor, roleHook)
		}
	}
	return executor, hooks, nil
}

// readMetadata calls the metadata getters in a throwaway instance and fills m.info.
func (m *Module) readMetadata(ctx context.Context, isExec bool, fileID string) error {
	cfg := &m.rt.cfg
	limits := task.Limits{TimeoutMS: cfg.LoadTimeout.Milliseconds(), MemoryPages: cfg.Max.MemoryPages,
		MaxResultBytes: min(cfg.Max.MaxResultBytes, MaxMetadataBytes)}
	getters := []string{"get_metadata", "get_input_schema", "get_output_schema", "get_hook_config"}
	docs, err := m.callGetters(ctx, limits, getters)
	if err != nil {
		return err
	}
	info := &executor.Info{ID: fileID, Hash: m.hash}
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
		if len(meta.Retry) > 0 && string(meta.Retry) != "null" {
			var spec retry.Spec
			if err := json.Unmarshal(meta.Retry, &spec); err != nil {
				return fmt.Errorf("get_metadata has an invalid retry policy: %v", err)
			}
			info.Retry = &spec
		}
		m.roles = meta.Kind
	}
	exported := m.hooks
	if hc := docs["get_hook_config"]; hc != nil {
		var conf hookConfig
		if err := json.Unmarshal(hc, &conf); err != nil {
			return fmt.Errorf("get_hook_config returned invalid JSON: %v", err)
		}
		if exported, err = conf.implemented(m.hooks); err != nil {
			return err
		}
		m.hookFor = conf.Executors
	}
	isExec, hooks, err := applyRoles(m.roles, exportFacts{executor: isExec, hooks: exported, minPages: m.minPages})
	if err != nil {
		return err
	}
	m.hooks = hooks
	info.Kind = kindOf(isExec)
	if info.ID == "" {
		return fmt.Errorf("has no id: get_metadata sets none and the file name is empty")
	}
	if err := checkDescription(info); err != nil {
		return err
	}
	info.OutputSchema = docs["get_output_schema"]
	if isExec {
		info.InputSchema = docs["get_input_schema"]
		compiled, err := compileInputSchema(info.ID, info.InputSchema)
		if err != nil {
			return err
		}
		info.Compiled = compiled
	}
	m.info = info
	return nil
}

// hookConfig is what get_hook_config returns (docs/abi.md#hooks).
type hookConfig struct {
	// Executors are the executor ids whose tasks the task hooks run around; nil: every
	// task.
	Executors []string `json:"executors"`
	// Hooks are the hook functions the module implements, for a kit that exports every
	// one of them whatever the module implements (Go's); nil: every one it exports.
	Hooks []string `json:"hooks"`
}

// implemented returns the hook exports of the module that it implements: those of
// exported that c.Hooks lists, or all of them when it lists none. A name that is no hook
// function, or one the module does not export, is an error.
func (c hookConfig) implemented(exported []string) ([]string, error) {
	if c.Hooks == nil {
		return exported, nil
	}
	for _, h := range c.Hooks {
		switch {
		case !isHookExport(h):
			return nil, fmt.Errorf("get_hook_config lists hook %q, which is not a hook function (one of %s)", h, strings.Join(hookExports, ", "))
		case !slices.Contains(exported, h):
			return nil, fmt.Errorf("get_hook_config lists hook %q, which the module does not export", h)
		}
	}
	var out []string
	for _, h := range exported {
		if slices.Contains(c.Hooks, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

// kindOf is the executor.Info kind of a module: "wasm" for an executor, else "hook".
func kindOf(executor bool) string {
	if executor {
		return "wasm"
	}
	return "hook"
}

// compileInputSchema compiles an input schema; {}, true and no schema give nil (accept
// anything: nothing to compile or validate). The schema comes from an untrusted plugin:
// schema.Compile never lets it make the host load a file or a URL ($ref may only point
// inside it).
func compileInputSchema(id string, doc []byte) (*schema.Schema, error) {
	if s := string(bytes.TrimSpace(doc)); doc == nil || s == "{}" || s == "true" {
		return nil, nil
	}
	compiled, err := schema.Compile(id+"/input_schema", doc, schema.Draft2020)
	if err != nil {
		return nil, fmt.Errorf("input schema does not compile: %v", err)
	}
	return compiled, nil
}

// Info describes the module: id, metadata, schemas (compiled input schema), hash. The
// returned value is shared and must not be modified.
func (m *Module) Info() *executor.Info { return m.info }

// ID returns the plugin id (metadata id, or the file name without .wasm).
func (m *Module) ID() string { return m.info.ID }

// Hash returns the module's sha256, hex.
func (m *Module) Hash() string { return m.hash }

// IsExecutor reports whether the module is an executor: it exports execute and its
// metadata kind, if any, lists "executor".
func (m *Module) IsExecutor() bool { return m.info.Kind == "wasm" }

// HookExports returns the hook exports the module has, in ABI order; none when its
// metadata kind does not list "hook".
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

// enter registers a call in flight, or fails if the module or the runtime is closed.
func (m *Module) enter() error {
	if !m.rt.enter() {
		return m.rt.closedError(m.info.ID, m.hash, nil)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		m.rt.leave()
		return &Error{Plugin: m.info.ID, Hash: m.hash, Kind: KindClosed, Msg: "module was unloaded"}
	}
	m.active++
	return nil
}

// leave ends a call; the last call after Close releases the compiled code.
func (m *Module) leave() {
	defer m.rt.leave()
	m.mu.Lock()
	m.active--
	last := m.closed && m.active == 0
	m.mu.Unlock()
	if last {
		m.releaseCompiled()
	}
}

// releaseCompiled drops the module's reference to its compiled code, once. A module
// from LoadDescribed that was never compiled holds none.
func (m *Module) releaseCompiled() {
	m.mu.Lock()
	if m.released || m.compiled == nil {
		m.mu.Unlock()
		return
	}
	m.released = true
	m.mu.Unlock()
	m.rt.release(m.hash)
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
