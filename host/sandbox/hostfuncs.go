package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero/api"
)

const (
	hostModuleName = "apflow"
	wasiModuleName = "wasi_snapshot_preview1"
)

// instantiateHostModule defines the apflow host module (docs/abi.md, "Host functions").
// Every function finds its call's state in ctx; a function that cannot read its
// arguments fails the host call (an error JSON or 0), never the host.
func (r *Runtime) instantiateHostModule(ctx context.Context) (api.Module, error) {
	i32, i64, f64 := api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF64
	b := r.wz.NewHostModuleBuilder(hostModuleName)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").Export("log")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostProgress), []api.ValueType{f64}, nil).
		WithParameterNames("value").Export("progress")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(r.hostHTTPRequest), []api.ValueType{i32, i32}, []api.ValueType{i64}).
		WithParameterNames("ptr", "len").Export("http_request")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostConfigGet), []api.ValueType{i32, i32}, []api.ValueType{i64}).
		WithParameterNames("ptr", "len").Export("config_get")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostStoreCall), []api.ValueType{i32, i32}, []api.ValueType{i64}).
		WithParameterNames("ptr", "len").Export("store_call")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(r.hostSleepMS), []api.ValueType{i64}, []api.ValueType{i32}).
		WithParameterNames("ms").Export("sleep_ms")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(r.hostLLMComplete), []api.ValueType{i32, i32}, []api.ValueType{i64}).
		WithParameterNames("ptr", "len").Export("llm_complete")
	for _, fn := range []string{"kv_get", "kv_set", "kv_delete", "kv_list"} {
		b.NewFunctionBuilder().WithGoModuleFunction(r.hostKV(fn), []api.ValueType{i32, i32}, []api.ValueType{i64}).
			WithParameterNames("ptr", "len").Export(fn)
	}
	return b.Instantiate(ctx)
}

// guestBytes copies len bytes at ptr out of the guest's memory.
func guestBytes(mod api.Module, ptr, n uint32) ([]byte, bool) {
	buf, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), buf...), true
}

// logLineOverhead is what one apflow.log line costs against maxLogBytesPerCall beyond
// its bytes.
const logLineOverhead = 64

// maxGiveDepth bounds how deeply host-result allocs may nest (see give).
const maxGiveDepth = 4

// give hands data to the guest: a buffer from the guest's alloc (a re-entrant guest
// call), filled with data; it returns the packed pointer. If alloc fails the whole guest
// call is aborted with that failure.
func (cs *callState) give(ctx context.Context, mod api.Module, data []byte) uint64 {
	if len(data) == 0 {
		return 0
	}
	// A guest's alloc may itself call a host function that answers through alloc: each
	// such level nests Go frames on the guest's goroutine, which wazero does not bound
	// (an unbounded chain exhausts the Go stack and kills the host), so the nesting is
	// capped and the call aborted beyond it.
	if cs.giveDepth >= maxGiveDepth {
		panic(&hostAbort{op: "alloc for a host function result",
			err: fmt.Errorf("alloc called host functions that return data %d levels deep; at most %d allowed", cs.giveDepth, maxGiveDepth)})
	}
	cs.giveDepth++
	defer func() { cs.giveDepth-- }()
	alloc := mod.ExportedFunction("alloc")
	if cs.in != nil && cs.in.alloc != nil {
		alloc = cs.in.alloc
	}
	// Not callTop: the alloc runs on top of the guest frames of the call it serves and
	// is charged from their level (stack.go); the calling function restores its own
	// level once the host function returns.
	res, err := alloc.Call(ctx, uint64(len(data)))
	if err != nil {
		panic(&hostAbort{op: "alloc for a host function result", err: err})
	}
	ptr := uint32(res[0])
	if ptr == 0 || !mod.Memory().Write(ptr, data) {
		panic(&hostAbort{op: "alloc for a host function result",
			err: fmt.Errorf("alloc(%d) returned an invalid buffer at %#x", len(data), ptr)})
	}
	return uint64(ptr)<<32 | uint64(len(data))
}

// giveError hands {"error": msg} to the guest and logs msg.
func (cs *callState) giveError(ctx context.Context, mod api.Module, fn, msg string) uint64 {
	cs.logger.Warn("host call refused", "function", fn, "error", msg)
	doc, _ := json.Marshal(map[string]string{"error": msg})
	return cs.give(ctx, mod, doc)
}

func (cs *callState) pluginID() string {
	if cs.m == nil {
		return "?"
	}
	return cs.m.info.ID
}

// notGranted is the error of a call of an ungranted capability.
func (cs *callState) notGranted(capability string) string {
	return fmt.Sprintf("capability %s not granted to plugin %s", capability, cs.pluginID())
}

// ABI log levels 0..4 (trace..error) to hclog levels.
var logLevels = [...]hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error}

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	cs := callStateFrom(ctx)
	cs.hostCalls++
	level, ptr, n := api.DecodeI32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	lvl := hclog.Info
	if level >= 0 && int(level) < len(logLevels) {
		lvl = logLevels[level]
	}
	truncated := false
	if n > maxLogLine {
		n, truncated = maxLogLine, true
	}
	// Each line costs its bytes plus an overhead, so that empty lines are not free.
	cs.logBytes += int64(n) + logLineOverhead
	if cs.logBytes > maxLogBytesPerCall {
		if !cs.logDropped {
			cs.logDropped = true
			cs.logger.Warn("guest log truncated", "stream", "apflow.log", "limit_bytes", maxLogBytesPerCall)
		}
		return
	}
	msg, ok := guestBytes(mod, ptr, n)
	if !ok {
		cs.logger.Warn("apflow.log called with a buffer outside memory", "ptr", ptr, "len", n)
		return
	}
	if lvl == hclog.Error && bytes.HasPrefix(msg, []byte("abort: ")) {
		cs.abort, cs.abortAt = lastLine(string(msg)), cs.hostCalls
	}
	if truncated {
		cs.logger.Log(lvl, string(msg)+"…", "truncated", true)
		return
	}
	cs.logger.Log(lvl, string(msg))
}

func hostProgress(ctx context.Context, _ api.Module, stack []uint64) {
	cs := callStateFrom(ctx)
	cs.hostCalls++
	v := api.DecodeF64(stack[0])
	if math.IsNaN(v) || cs.progress == nil {
		return
	}
	cs.progress(min(1, max(0, v)))
}

func hostConfigGet(ctx context.Context, mod api.Module, stack []uint64) {
	cs := callStateFrom(ctx)
	cs.hostCalls++
	key, ok := guestBytes(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		cs.logger.Warn("apflow.config_get called with a buffer outside memory")
		stack[0] = 0
		return
	}
	v, ok := cs.grants.Config[string(key)]
	if !ok {
		cs.logger.Warn("host call refused", "function", "config_get", "key", string(key),
			"error", "config key not granted to plugin "+cs.pluginID())
		stack[0] = 0
		return
	}
	stack[0] = cs.give(ctx, mod, []byte(v))
}

func hostStoreCall(ctx context.Context, mod api.Module, stack []uint64) {
	cs := callStateFrom(ctx)
	cs.hostCalls++
	req, ok := guestBytes(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	switch {
	case !ok:
		stack[0] = cs.giveError(ctx, mod, "store_call", "request buffer is outside the plugin's memory")
		return
	case !cs.grants.Repository:
		stack[0] = cs.giveError(ctx, mod, "store_call", cs.notGranted("repository"))
		return
	case cs.repo == nil:
		stack[0] = cs.giveError(ctx, mod, "store_call", "store_call is only available to hooks")
		return
	case !json.Valid(req):
		stack[0] = cs.giveError(ctx, mod, "store_call", "request is not valid JSON")
		return
	}
	result, err := cs.repo.Call(ctx, req)
	if err != nil {
		abortIfDone(ctx)
		stack[0] = cs.giveError(ctx, mod, "store_call", err.Error())
		return
	}
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	doc, err := json.Marshal(struct {
		Result json.RawMessage `json:"result"`
	}{result})
	if err != nil {
		stack[0] = cs.giveError(ctx, mod, "store_call", "repository returned invalid JSON: "+err.Error())
		return
	}
	stack[0] = cs.give(ctx, mod, doc)
}
