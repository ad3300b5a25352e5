package sandbox

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"

	"github.com/apflow-wasm/apflow/host/executor"
)

// DescriptionFormat is the layout version of [Description]. It changes whenever what Load
// derives from a module changes (a new field, a new rule such as the metadata kind), so a
// description persisted by an older host is refused by [Runtime.LoadDescribed] and the
// module is loaded again.
const DescriptionFormat = 3 // 2: info carries the metadata's retry policy; 3: get_hook_config's hooks

// Description is everything Load learned about a module by compiling it and calling its
// metadata getters: its info (metadata and schemas), roles, hooks and declared minimum
// memory. It is a pure function of the module's bytes and is JSON-serialisable, so a
// caller may persist it, keyed by Hash, and later register the same bytes with
// [Runtime.LoadDescribed] without compiling or instantiating them.
type Description struct {
	// Format is DescriptionFormat when the description was made.
	Format int `json:"format"`
	// Hash is the module's sha256, hex.
	Hash string `json:"hash"`
	// Info is the module's info without its compiled input schema.
	Info *executor.Info `json:"info"`
	// Roles is the metadata kind, nil when the metadata has none.
	Roles []string `json:"roles,omitempty"`
	// Hooks are the hook exports the module offers after its roles, in ABI order.
	Hooks []string `json:"hooks,omitempty"`
	// HookExecutors is what get_hook_config returned (nil: every task).
	HookExecutors []string `json:"hook_executors,omitempty"`
	// MinPages is the module's declared minimum memory, in pages.
	MinPages uint32 `json:"min_pages"`
}

// Describe returns the module's description, for a caller to persist.
func (m *Module) Describe() *Description {
	info := *m.info
	info.Compiled = nil
	return &Description{
		Format: DescriptionFormat, Hash: m.hash, Info: &info, Roles: slices.Clone(m.roles),
		Hooks: slices.Clone(m.hooks), HookExecutors: slices.Clone(m.hookFor), MinPages: m.minPages,
	}
}

// LoadDescribed registers a module from its description (typically persisted from an
// earlier [Module.Describe]) without compiling or instantiating it: it checks the
// description (format, hash, roles, minimum memory against the operator's maximum) and
// compiles the input schema, which is cheap. Info, ID, IsExecutor, HookExports and
// HookExecutors answer from the description at once.
//
// The module is compiled by its first [Module.Ready], which every call makes: source
// gives its bytes, which must have the described hash, and the compiled module's imports,
// exports, roles and minimum memory must agree with the description, else Ready fails
// with an *Error of KindInvalid. name is the file name, used in error messages. A refused
// description is an *Error of KindInvalid; the caller then loads the bytes with Load.
func (r *Runtime) LoadDescribed(d *Description, name string, source func() ([]byte, error)) (*Module, error) {
	fileID := strings.TrimSuffix(name, ".wasm")
	if d == nil || source == nil {
		return nil, &Error{Plugin: fileID, Kind: KindInvalid, Msg: "LoadDescribed needs a description and a source"}
	}
	invalid := func(format string, args ...any) error {
		return &Error{Plugin: fileID, Hash: d.Hash, Kind: KindInvalid, Msg: "unusable description: " + fmt.Sprintf(format, args...)}
	}
	if d.Format != DescriptionFormat {
		return nil, invalid("format %d, this host reads format %d", d.Format, DescriptionFormat)
	}
	if b, err := hex.DecodeString(d.Hash); err != nil || len(b) != 32 {
		return nil, invalid("hash %q is not a sha256 in hex", d.Hash)
	}
	if d.Info == nil || d.Info.ID == "" || d.Info.Hash != d.Hash {
		return nil, invalid("info is missing, has no id or names another hash")
	}
	if d.Info.Kind != kindOf(true) && d.Info.Kind != kindOf(false) {
		return nil, invalid("kind %q is neither %q nor %q", d.Info.Kind, kindOf(true), kindOf(false))
	}
	for _, h := range d.Hooks {
		if !isHookExport(h) {
			return nil, invalid("%q is not a hook export", h)
		}
	}
	isExec := d.Info.Kind == kindOf(true)
	if !isExec && len(d.Hooks) == 0 {
		return nil, invalid("the module is neither an executor nor a hook")
	}
	if limit := r.cfg.Max.MemoryPages; d.MinPages > limit {
		return nil, &Error{Plugin: d.Info.ID, Hash: d.Hash, Kind: KindInvalid, Msg: fmt.Sprintf(
			"rejected at load: out of memory: the module declares a minimum memory of %s, above the memory limit of %s",
			formatPages(d.MinPages), formatPages(limit))}
	}
	info := *d.Info
	info.Compiled = nil
	if isExec {
		compiled, err := compileInputSchema(info.ID, info.InputSchema)
		if err != nil {
			return nil, &Error{Plugin: info.ID, Hash: d.Hash, Kind: KindInvalid, Msg: err.Error()}
		}
		info.Compiled = compiled
	} else {
		info.InputSchema = nil
	}
	m := &Module{
		rt: r, hash: d.Hash, info: &info, roles: slices.Clone(d.Roles), hooks: slices.Clone(d.Hooks),
		hookFor: slices.Clone(d.HookExecutors), minPages: d.MinPages, source: source, transport: newTransport(),
	}
	m.pool.m = m
	r.described.Add(1)
	r.warnUnusableGrants(m)
	return m, nil
}

// Ready makes the module callable. For a module from [Runtime.LoadDescribed] it reads the
// bytes from its source, checks they have the described hash, compiles them (once per
// content hash; from the persistent cache when warm) and checks imports, exports, roles
// and minimum memory against the ABI and the description; it does not instantiate. For a
// module from Load, and once Ready has succeeded, it returns nil at once.
//
// Execute and CallHook call Ready themselves; calling it first surfaces a bad module
// before a task is started. A failure is an *Error (KindInvalid, or KindClosed after
// Close) and is remembered: later calls fail the same way without reading the bytes
// again. A failure while ctx is done is not remembered.
func (m *Module) Ready(ctx context.Context) error {
	if m.ready.Load() {
		return nil
	}
	m.readyMu.Lock()
	defer m.readyMu.Unlock()
	if m.ready.Load() {
		return nil
	}
	if m.readyErr != nil {
		return m.readyErr
	}
	closedErr := &Error{Plugin: m.info.ID, Hash: m.hash, Kind: KindClosed, Msg: "module was unloaded"}
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return closedErr
	}
	compiled, err := m.materialise(ctx)
	if err != nil && m.rt.isClosed() { // not the module's fault, and not remembered
		return m.rt.closedError(m.info.ID, m.hash, err)
	}
	if err != nil {
		if ctx.Err() == nil {
			m.readyErr = err
		}
		return err
	}
	m.mu.Lock()
	m.compiled = compiled
	idle := m.closed && m.active == 0
	m.mu.Unlock()
	if idle { // closed while compiling, with no call waiting for it
		m.releaseCompiled()
		return closedErr
	}
	m.ready.Store(true)
	m.rt.cfg.Logger.Debug("plugin compiled", "plugin", m.info.ID, "sha256", m.hash)
	return nil
}

// materialise reads, verifies and compiles a described module. The caller owns one
// reference to the returned compiled module.
func (m *Module) materialise(ctx context.Context) (wazero.CompiledModule, error) {
	invalid := func(err error, format string, args ...any) error {
		return &Error{Plugin: m.info.ID, Hash: m.hash, Kind: KindInvalid, Msg: "not loaded: " + fmt.Sprintf(format, args...), Err: err}
	}
	wasm, err := m.source()
	if err != nil {
		return nil, invalid(err, "cannot read the module: %v", err)
	}
	if h := Hash(wasm); h != m.hash {
		return nil, invalid(nil, "the module changed since it was described (its sha256 is now %s)", h)
	}
	compiled, err := m.rt.compile(ctx, m.hash, wasm)
	if err != nil {
		return nil, invalid(err, "does not compile: %v", err)
	}
	fail := func(err error) (wazero.CompiledModule, error) {
		m.rt.release(m.hash)
		return nil, err
	}
	if err := checkImports(compiled, m.rt.hostFuncs); err != nil {
		return fail(invalid(nil, "%s", withFix(err)))
	}
	ex, err := checkExports(compiled)
	if err != nil {
		return fail(invalid(nil, "%s", withFix(err)))
	}
	isExec, hooks, err := applyRoles(m.roles, ex)
	if err != nil {
		return fail(invalid(nil, "%v", err))
	}
	// The described hooks are those of the exports that get_hook_config listed: a subset.
	if isExec != m.IsExecutor() || !subset(m.hooks, hooks) || ex.minPages != m.minPages {
		return fail(invalid(nil, "the module does not match its description (executor %t, hooks %v, minimum %d pages; described %t, %v, %d)",
			isExec, hooks, ex.minPages, m.IsExecutor(), m.hooks, m.minPages))
	}
	return compiled, nil
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
