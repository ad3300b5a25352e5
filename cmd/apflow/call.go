package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/pluginrun"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

// callFlags are apflow call's flags.
type callFlags struct {
	input, hook, limits, fixture, record string
	grants, config                       []string
	jsonOut                              bool
}

func newCallCmd(g *globals) *cobra.Command {
	var f callFlags
	cmd := &cobra.Command{
		Use:   "call MODULE.wasm|ID",
		Short: "Call a plugin once, without a tree or a data dir, and show its result, logs and usage",
		Long: `Call loads a plugin (a .wasm file, or an id looked up in --plugins), validates the input
against its input schema and runs it once in the sandbox a task gets: the same limits and
nothing granted but what --grant and --config give. It prints the result on stdout and the
plugin's log lines, the usage and the error (if any) on stderr; with --json, stdout holds
one document {result, error, kind, logs, usage, unmatched_http}. Nothing is stored.

--http-fixture FILE answers the plugin's http_request calls from recorded pairs (a JSON
array of {"request": {method, url, headers, body}, "response": {status, headers, body}});
a request no pair answers fails with an error naming its method and URL. --record FILE
makes the real requests (under --grant http=...) and writes them as such a file.

Note: --config here gives config values to the plugin (config_get); the operator config
file is not read.

Exit status: 0 when the call succeeded, 1 when it failed (an error, a trap, a timeout, a
result with an "error" key, a request the fixture did not answer), 2 for invalid usage, an
input the input schema refuses, or a module that does not load.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd.Context(), cmd.InOrStdin(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.input, "input", "{}", "the input: JSON, @FILE, or - to read stdin (with --hook: the hook's input document)")
	fl.StringArrayVar(&f.grants, "grant", nil, "grant a capability: http=HOST[,HOST...], clock, random, kv, llm (repeatable)")
	fl.StringArrayVar(&f.config, "config", nil, "a config value config_get may read, KEY=VALUE (repeatable)")
	fl.StringVar(&f.limits, "limits", "", "limits of the call: timeout_ms=N,memory_pages=N,max_result_bytes=N")
	fl.StringVar(&f.hook, "hook", "", "call the hook export pre_hook (pre) or post_hook (post) instead of execute")
	fl.StringVar(&f.fixture, "http-fixture", "", "answer http_request from the recorded pairs of this file")
	fl.StringVar(&f.record, "record", "", "make the real http requests and record them into this file")
	fl.BoolVar(&f.jsonOut, "json", false, "print the outcome as one JSON document on stdout")
	return cmd
}

// invalidf is an exit status 2 error.
func invalidf(format string, args ...any) error {
	return &exitError{code: exitInvalid, msg: fmt.Sprintf(format, args...)}
}

// call runs apflow call.
func (g *globals) call(ctx context.Context, stdin io.Reader, ref string, f callFlags) error {
	c, err := f.toCall(ctx, stdin)
	if err != nil {
		return err
	}
	var rec *pluginrun.Recorder
	switch {
	case f.fixture != "" && f.record != "":
		return invalidf("call: --http-fixture and --record exclude each other")
	case f.fixture != "":
		pairs, err := pluginrun.ReadFixture(f.fixture)
		if err != nil {
			return invalidf("call: %v", err)
		}
		fx := pluginrun.NewFixture(pairs)
		c.HTTP, c.Unmatched = fx.Wrap, fx.Unmatched
	case f.record != "":
		if len(c.Grants.HTTP) == 0 {
			return invalidf("call: --record makes real requests: grant the hosts with --grant http=HOST")
		}
		rec = &pluginrun.Recorder{}
		c.HTTP = rec.Wrap
	}
	out, err := g.callOnce(ctx, ref, c)
	if err != nil {
		return err
	}
	if rec != nil {
		if err := rec.WriteFile(f.record); err != nil {
			return err
		}
	}
	return g.printOutcome(out, f.jsonOut)
}

// toCall turns the flags into a call.
func (f callFlags) toCall(ctx context.Context, stdin io.Reader) (pluginrun.Call, error) {
	var c pluginrun.Call
	for _, s := range f.grants {
		if err := pluginrun.AddGrant(&c.Grants, s); err != nil {
			return c, invalidf("call: --grant %v", err)
		}
	}
	for _, s := range f.config {
		if err := pluginrun.AddConfig(&c.Grants, s); err != nil {
			return c, invalidf("call: --%v", err)
		}
	}
	var err error
	if c.Limits, err = pluginrun.ParseLimits(f.limits); err != nil {
		return c, invalidf("call: --%v", err)
	}
	switch f.hook {
	case "", pluginrun.HookPre, pluginrun.HookPost:
		c.Hook = f.hook
	default:
		return c, invalidf("call: --hook %q: want pre or post", f.hook)
	}
	if c.Input, err = readInput(ctx, stdin, f.input); err != nil {
		return c, err
	}
	return c, nil
}

// readInput reads --input: JSON, @FILE or - (stdin).
func readInput(ctx context.Context, stdin io.Reader, spec string) (json.RawMessage, error) {
	var data []byte
	var err error
	what := "--input"
	switch {
	case spec == "-":
		what = "stdin"
		data, err = readStdin(ctx, stdin, submit.DefaultMaxBytes)
	case strings.HasPrefix(spec, "@"):
		what = spec[1:]
		data, err = os.ReadFile(spec[1:])
	default:
		data = []byte(spec)
	}
	if errors.Is(err, context.Canceled) {
		return nil, err
	}
	if err != nil {
		return nil, invalidf("call: read the input: %v", err)
	}
	if !json.Valid(data) {
		return nil, invalidf("call: the input (%s) is not valid JSON", what)
	}
	return data, nil
}

// pluginRunner opens a pluginrun.Runner under the global limit flags.
func (g *globals) pluginRunner(ctx context.Context) (*pluginrun.Runner, error) {
	if g.configPath != "" { // apflow call's own --config shadows this one
		return nil, invalidf("test does not read the operator config file: give grants and limits in the cases")
	}
	defaults := task.Limits{TimeoutMS: g.taskTimeout.Milliseconds(), MemoryPages: g.memoryPages, MaxResultBytes: g.maxResult}
	var cache string
	if g.cacheDir != "" { // the user's cache; never <data dir>/wasm-cache: call touches no data dir
		cache = g.wasmCacheDir()
	}
	// No operator config here: the model is the one the environment variables name.
	model, err := g.completer(nil)
	if err != nil {
		return nil, err
	}
	// A hook runs under the hooks' own limit, as it will in production (docs/hooks.md).
	r, err := pluginrun.New(ctx, pluginrun.Options{Defaults: defaults, HookTimeoutMS: hooks.DefaultTimeoutMS,
		Logger: g.logger(), CacheDir: cache, LLM: model, CompileWorker: compileWorker(), CompileTimeout: g.compileTimeout})
	if err != nil {
		return nil, sandboxConfigExit(err)
	}
	return r, nil
}

// openPlugin loads ref; a plugin that does not load is exit status 2.
func (g *globals) openPlugin(ctx context.Context, r *pluginrun.Runner, ref string) (*pluginrun.Target, error) {
	dir := g.pluginsDir
	if dir == "" {
		dir = g.pluginsPath()
	}
	t, err := r.Open(ctx, ref, dir)
	if errors.Is(err, pluginrun.ErrInvalidPlugin) {
		return nil, &exitError{code: exitInvalid, msg: strings.Replace(err.Error(), pluginrun.ErrInvalidPlugin.Error()+": ", "", 1)}
	}
	return t, err
}

func (g *globals) callOnce(ctx context.Context, ref string, c pluginrun.Call) (*pluginrun.Outcome, error) {
	r, err := g.pluginRunner(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close(context.WithoutCancel(ctx))
	t, err := g.openPlugin(ctx, r, ref)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	out, err := r.Call(ctx, t, c)
	if errors.Is(err, pluginrun.ErrNoSuchExport) {
		return nil, &exitError{code: exitInvalid, msg: err.Error()}
	}
	return out, err
}

// printOutcome prints a call's outcome and returns its exit status as an error.
func (g *globals) printOutcome(out *pluginrun.Outcome, jsonOut bool) error {
	if jsonOut {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, string(b))
	} else {
		if out.Result != nil {
			fmt.Fprintln(g.stdout, pluginrun.Indent(out.Result))
		}
		out.WriteLog(g.stderr)
	}
	switch {
	case out.InvalidInput():
		return &exitError{code: exitInvalid}
	case out.Failed() || len(out.Unmatched) > 0:
		return &exitError{code: exitFailed}
	}
	return nil
}
