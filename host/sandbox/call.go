package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero/api"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/task"
)

// Repository gives a hook read and update access to tasks (apflow.store_call). The
// engine supplies one per hook call; the sandbox hands it only to hooks granted
// `repository`.
type Repository interface {
	// Call performs one store_call request ({"op": ...}, see docs/abi.md) and returns
	// its result value; the sandbox wraps it as {"result": ...} for the guest, and an
	// error as {"error": err.Error()}.
	Call(ctx context.Context, req json.RawMessage) (json.RawMessage, error)
}

// HookCall is one call of a hook export.
type HookCall struct {
	// Export is the hook export to call: one of HookExportNames().
	Export string
	// Input is the hook's input document (docs/abi.md, "Hook exports").
	Input json.RawMessage
	// Limits are the task's limit overrides; zero fields take the operator defaults.
	Limits task.Limits
	// Logger receives the hook's log lines; nil discards them.
	Logger hclog.Logger
	// Repository serves store_call; nil makes store_call answer an error.
	Repository Repository
	// Usage, when not nil, receives what the call used (as a task's usage: duration,
	// bytes in and out, host calls, peak memory), whether it succeeded or not.
	Usage *task.Usage
}

// callState is what host functions need to know about the call they serve. It travels
// in the context of the guest call.
type callState struct {
	m        *Module
	in       *instance
	parent   context.Context // the caller's context, to tell a cancel from a timeout
	timeout  time.Duration
	logger   hclog.Logger
	progress func(float64)
	grants   Grants
	repo     Repository
	// hostCalls counts host function calls; only the guest's goroutine touches it.
	hostCalls int64
	// giveDepth is how many host-result allocs are in progress (nested through a
	// guest's alloc calling host functions); only the guest's goroutine touches it.
	giveDepth int
	// logBytes is what apflow.log lines cost so far in this call (see hostLog), and
	// logDropped whether lines were dropped; only the guest's goroutine touches them.
	logBytes   int64
	logDropped bool
	// ended is set when a sleep_ms returned early because the call's context was done:
	// whatever the guest returns then, the call fails as timed out or cancelled (see
	// endedCall); only the guest's goroutine touches it.
	ended bool
	// kv is set for executions, the calls the kv_* functions serve, and kvScope is the
	// user of their task (docs/kv.md: a plugin's space is per user).
	kv      bool
	kvScope string
	// abort is the message of the last "abort: …" line the guest logged at error level
	// (the AssemblyScript kit's abort handler logs it, then traps), and abortAt the
	// hostCalls count of that log: it explains a trap only when no host call came after
	// it. Only the guest's goroutine touches them.
	abort   string
	abortAt int64
	// describing is set for the calls Load makes to read the module's metadata and
	// schemas: their failure is the load's, which its caller reports, so it is logged
	// at debug level only.
	describing bool
	// llmIn and llmOut sum the tokens of the call's llm_complete calls; only the
	// guest's goroutine touches them.
	llmIn, llmOut int64
}

type callStateKey struct{}

func withCallState(ctx context.Context, cs *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, cs)
}

// callStateFrom returns the call state of ctx, or an inert one (no grants, discarding
// logger) if ctx has none.
func callStateFrom(ctx context.Context) *callState {
	if cs, ok := ctx.Value(callStateKey{}).(*callState); ok {
		return cs
	}
	return &callState{parent: context.Background(), logger: hclog.NewNullLogger()}
}

// callSpec describes one guest call: alloc + one export.
type callSpec struct {
	export   string
	input    []byte
	limits   task.Limits // effective
	logger   hclog.Logger
	progress func(float64)
	repo     Repository
	// kv: an execution, whose kv_* calls use the space of kvScope (the task's user).
	kv      bool
	kvScope string
}

// Execute runs the task: it validates the inputs against the input schema, takes an
// instance from the pool, writes the inputs with alloc and calls execute (exactly two
// guest calls) under the effective limits, and returns the result with its usage.
//
// Inputs are validated exactly once per execution, before the plugin runs. The engine
// validates them itself after its pre-hooks (against this schema and the task's own
// schemas.input_schema, with one message naming the task) and sets req.Validated, so
// Execute does not validate them again. Every other caller (a host tool, a test, a
// future direct call) leaves req.Validated false and Execute validates here, failing
// with an *Error of KindInput before any guest call. Empty or null inputs are {}.
//
// Errors are *Error values saying what happened (timeout, cancel, trap, stack overflow,
// out of memory, exit/panic, malformed result). On error the returned Response, when not
// nil, carries Plugin and Usage but no Output.
func (m *Module) Execute(ctx context.Context, req *executor.Request) (*executor.Response, error) {
	if !m.IsExecutor() {
		return nil, m.errorf(KindInvalid, nil, "is a hook module, not an executor (no execute export)")
	}
	input := []byte(req.Inputs)
	if len(bytes.TrimSpace(input)) == 0 || bytes.Equal(bytes.TrimSpace(input), []byte("null")) {
		input = []byte("{}")
	}
	if !req.Validated {
		if err := m.validateInputs(input); err != nil {
			return nil, err
		}
	}
	spec := callSpec{
		export: "execute", input: input, limits: m.rt.cfg.effective(req.Limits),
		logger: req.Logger, progress: req.Progress, kv: true,
	}
	if req.Task != nil {
		spec.kvScope = req.Task.UserID
	}
	out, usage, err := m.call(ctx, spec)
	resp := &executor.Response{Plugin: m.hash, Usage: usage}
	if err != nil {
		return resp, err
	}
	if out == nil {
		out = json.RawMessage("null")
	}
	resp.Output = out
	return resp, nil
}

// CallHook calls a hook export with the same limits and safety as Execute. It returns the
// hook's result document, or nil when the hook returned 0.
func (m *Module) CallHook(ctx context.Context, call *HookCall) (json.RawMessage, error) {
	if !isHookExport(call.Export) {
		return nil, m.errorf(KindInvalid, nil, "%q is not a hook export (one of %v)", call.Export, hookExports)
	}
	found := false
	for _, h := range m.hooks {
		found = found || h == call.Export
	}
	if !found {
		return nil, m.errorf(KindInvalid, nil, "does not implement hook %s (it does not export it, or its get_hook_config leaves it out)", call.Export)
	}
	input := call.Input
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	out, usage, err := m.call(ctx, callSpec{
		export: call.Export, input: input, limits: m.rt.cfg.effective(call.Limits),
		logger: call.Logger, repo: call.Repository,
	})
	if call.Usage != nil {
		*call.Usage = usage
	}
	return out, err
}

func isHookExport(name string) bool {
	for _, h := range hookExports {
		if h == name {
			return true
		}
	}
	return false
}

// validateInputs checks inputs against the compiled input schema.
func (m *Module) validateInputs(input []byte) error {
	if m.info.Compiled == nil {
		return nil
	}
	v, err := schema.Decode(input)
	if err != nil {
		return m.errorf(KindInput, err, "inputs are not valid JSON: %v", err)
	}
	if err := m.info.Compiled.Validate(v); err != nil {
		if ps := schema.ProblemsOf(err); ps != nil {
			return m.errorf(KindInput, err, "inputs do not match the input schema: %s", schema.Describe(ps, "inputs"))
		}
		return m.errorf(KindInput, err, "inputs cannot be checked against the input schema: %v", err)
	}
	return nil
}

// call runs one alloc + export call on a pooled instance under spec.limits.
func (m *Module) call(ctx context.Context, spec callSpec) (out []byte, usage task.Usage, err error) {
	start := time.Now()
	usage.BytesIn = int64(len(spec.input))
	defer func() { usage.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()
	if err := m.enter(); err != nil {
		return nil, usage, err
	}
	defer m.leave()
	if err := m.Ready(ctx); err != nil {
		return nil, usage, err
	}

	logger := spec.logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	timeout := time.Duration(spec.limits.TimeoutMS) * time.Millisecond
	cs := &callState{
		m: m, parent: ctx, timeout: timeout, logger: logger, progress: spec.progress,
		grants: m.rt.grants(m.info.ID), repo: spec.repo, kv: spec.kv, kvScope: spec.kvScope,
	}
	tctx, cancel := m.rt.callContext(ctx, timeout)
	defer cancel()
	gctx := withCallState(tctx, cs)

	in, err := m.pool.acquire(gctx, spec.limits.MemoryPages, cs.grants.clockRandom())
	if err != nil {
		return nil, usage, err
	}
	cs.in = in
	in.stdout.start(logger)
	in.stderr.start(logger)
	healthy := false
	defer func() {
		usage.HostCalls = cs.hostCalls
		usage.LLMInputTokens, usage.LLMOutputTokens = cs.llmIn, cs.llmOut
		usage.PeakMemoryPages = in.memPages()
		m.pool.release(in, healthy)
	}()

	out, err = m.invoke(gctx, cs, in, in.export(spec.export), spec.input, spec.limits.MaxResultBytes)
	if err != nil {
		return nil, usage, err
	}
	usage.BytesOut = int64(len(out))
	healthy = true
	return out, usage, nil
}

// invoke writes input into the guest with alloc, calls fn(ptr, len) and copies out the
// packed result. It makes exactly two guest calls (plus the re-entrant allocs of host
// functions that return data).
func (m *Module) invoke(gctx context.Context, cs *callState, in *instance, fn api.Function, input []byte, maxResult int64) ([]byte, error) {
	res, err := in.callTop(gctx, in.alloc, uint64(len(input)))
	if err == nil {
		err = cs.endedCall(gctx)
	}
	if err != nil {
		return nil, m.guestError(gctx, cs, in, "alloc", err)
	}
	ptr := uint32(res[0])
	if len(input) > 0 && (ptr == 0 || !in.mod.Memory().Write(ptr, input)) {
		return nil, m.errorf(KindResult, nil, "alloc(%d) returned an invalid buffer at %#x (memory is %s)",
			len(input), ptr, formatBytes(int64(in.mod.Memory().Size())))
	}
	res, err = in.callTop(gctx, fn, uint64(ptr), uint64(len(input)))
	if err == nil {
		err = cs.endedCall(gctx)
	}
	if err != nil {
		return nil, m.guestError(gctx, cs, in, "", err)
	}
	return m.readPacked(in, res[0], maxResult, "result", "max_result_bytes")
}

// readPacked copies the buffer a packed (ptr<<32 | len) value designates. 0 gives nil.
// A buffer over maxBytes is refused, naming what it is and the bound (as the operator
// knows it).
func (m *Module) readPacked(in *instance, packed uint64, maxBytes int64, what, bound string) ([]byte, error) {
	in.stdout.finish()
	in.stderr.finish()
	if packed == 0 {
		return nil, nil
	}
	ptr, n := uint32(packed>>32), uint32(packed)
	if int64(n) > maxBytes {
		return nil, m.errorf(KindResult, nil, "%s of %s exceeds %s %s", what, formatBytes(int64(n)), bound, formatBytes(maxBytes))
	}
	buf, ok := in.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, m.errorf(KindResult, nil, "%s pointer out of bounds: %d bytes at %#x, memory is %s",
			what, n, ptr, formatBytes(int64(in.mod.Memory().Size())))
	}
	out := bytes.Clone(buf)
	if !json.Valid(out) {
		return nil, m.errorf(KindResult, nil, "%s is not valid JSON: %s", what, preview(out))
	}
	return out, nil
}

// guestError turns the error of a guest call into an *Error, adding what stderr says
// about a panic or exit.
func (m *Module) guestError(gctx context.Context, cs *callState, in *instance, during string, err error) error {
	in.stdout.finish()
	tail := in.stderr.finish()
	in.disarm() // the call is over: the flag may be read, and the instance is discarded
	kind, msg := describe(cs.parent, gctx, err, cs.timeout, in.mem, in.stack)
	p := panicLine(tail)
	if p == "" && cs.abort != "" && cs.abortAt == cs.hostCalls {
		p = cs.abort
	}
	switch {
	case p != "" && kind == KindOutOfMemory:
		msg += "; the plugin said: " + p
	case p != "" && (kind == KindExit || kind == KindTrap):
		kind, msg = KindPanic, panicText(p)+" ("+msg+")"
	case kind == KindExit && tail != "":
		msg += "; stderr: " + lastLine(tail)
	}
	if trace := traceOf(err.Error()); trace != "" && kind != KindCancelled && kind != KindTimeout {
		msg += "\nwasm stack trace:\n" + trace
	}
	if during != "" {
		msg = "in " + during + ": " + msg
	}
	switch {
	case kind == KindCancelled:
		// The caller stopped the call (task cancelled, host shutting down): not a fault.
		cs.logger.Info("plugin call cancelled", "error", msg)
	case cs.describing:
		cs.logger.Debug("plugin call failed", "error", msg)
	default:
		cs.logger.Error("plugin call failed", "error", msg)
	}
	return &Error{Plugin: m.info.ID, Hash: m.hash, Kind: kind, Msg: msg, Err: ctxErr(kind, err)}
}

// panicText is the error of a guest that said why it was about to trap: a Go or Rust
// panic ("panicked: …"), or a failed assertion whose message speaks for itself (C's
// "Assertion failed: …", the AssemblyScript kit's "abort: …").
func panicText(p string) string {
	if strings.HasPrefix(p, "Assertion failed: ") || strings.HasPrefix(p, "abort: ") {
		return p
	}
	return "panicked: " + p
}

// callGetters instantiates a throwaway instance (no capabilities, deterministic clock)
// and calls each exported getter once, returning the documents they returned (nil for
// those absent or returning 0).
func (m *Module) callGetters(ctx context.Context, limits task.Limits, names []string) (map[string]json.RawMessage, error) {
	timeout := time.Duration(limits.TimeoutMS) * time.Millisecond
	cs := &callState{m: m, parent: ctx, timeout: timeout, logger: m.rt.cfg.Logger.With("plugin", m.info.ID), describing: true}
	tctx, cancel := m.rt.callContext(ctx, timeout)
	defer cancel()
	gctx := withCallState(tctx, cs)
	in, err := m.instantiate(gctx, limits.MemoryPages, clockRandom{})
	if err != nil {
		return nil, err
	}
	defer in.close()
	cs.in = in
	docs := map[string]json.RawMessage{}
	for _, name := range names {
		fn := in.export(name)
		if fn == nil {
			continue
		}
		res, err := in.callTop(gctx, fn)
		if err != nil {
			return nil, m.guestError(gctx, cs, in, name, err)
		}
		doc, err := m.readPacked(in, res[0], limits.MaxResultBytes, name+" result", "the bound of a module's metadata and schemas,")
		if err != nil {
			return nil, err
		}
		if doc != nil && !bytes.Equal(bytes.TrimSpace(doc), []byte("null")) {
			docs[name] = doc
		}
	}
	return docs, nil
}

// memPages is the instance's memory size in pages; memory never shrinks, so after a
// call it is the call's peak.
func (in *instance) memPages() uint32 { return uint32(len(in.mem.cur.b) / pageSize) }

func (m *Module) errorf(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Plugin: m.info.ID, Hash: m.hash, Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// ctxErr is the error an *Error of kind wraps: the context error for timeouts and
// cancels (so errors.Is(err, context.DeadlineExceeded) works), else err.
func ctxErr(kind Kind, err error) error {
	switch kind {
	case KindTimeout:
		return context.DeadlineExceeded
	case KindCancelled:
		return context.Canceled
	}
	return err
}

// preview returns the start of b for an error message.
func preview(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q…", b[:64])
	}
	return fmt.Sprintf("%q", b)
}
