package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// fakeCatalog serves controllable executors. Method "fake" (no schemas) reads its
// behaviour from the task's params:
//
//	out:        JSON value returned as the result (default {"done": "<task id>"})
//	sleep_ms:   sleep before returning
//	fail:       return this error
//	block:      wait until ctx is done, then return {"late": true} with no error
//	gate:       wait until the catalog's gate is closed (or ctx is done)
//	progress:   report these progress values
//	fail_times: fail attempts 1 to n of the run (the attempt number k is the task's
//	            task.NextAttempt: it survives a restart) with an error result
//	            {"error": "flaky <k>", "code": <code>} (code from params.code), or a Go
//	            error "flaky <k>" when params.fail_as is "error"; then succeed
//
// Method "typed" has an input schema requiring a string "name" and output schema
// {"result"}. Method "noop" returns {} at once (benchmarks).
type fakeCatalog struct {
	mu          sync.Mutex
	order       []string // task ids in start order
	inputs      map[string]map[string]any
	running     int
	maxRunning  int
	cancelled   map[string]bool // executors that saw ctx done
	failOnce    map[string]bool // task ids that fail on their next run only
	executions  map[string]int
	typedSchema *schema.Schema
	gate        chan struct{} // closed by a test to release "gate" tasks
}

func newFakeCatalog() *fakeCatalog {
	return &fakeCatalog{
		inputs: map[string]map[string]any{}, cancelled: map[string]bool{},
		failOnce: map[string]bool{}, executions: map[string]int{},
		typedSchema: schema.MustCompile("typed.json", []byte(typedInputSchema), schema.Draft2020),
		gate:        make(chan struct{}),
	}
}

const typedInputSchema = `{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"content":{}}}`

type fakeHandle struct {
	c    *fakeCatalog
	info *executor.Info
}

func (c *fakeCatalog) Lookup(id string) (executor.Handle, error) {
	switch id {
	case "fake", "noop":
		return fakeHandle{c, &executor.Info{ID: id, Kind: "test"}}, nil
	case "retrying": // "fake" whose metadata sets a retry policy of 3 attempts
		three, zero := 3, 0.0
		return fakeHandle{c, &executor.Info{ID: id, Kind: "test", Retry: &retry.Spec{MaxAttempts: &three, Jitter: &zero}}}, nil
	case "typed":
		return fakeHandle{c, &executor.Info{ID: id, Kind: "test", InputSchema: json.RawMessage(typedInputSchema),
			OutputSchema: json.RawMessage(`{"type":"object","properties":{"result":{}}}`), Compiled: c.typedSchema}}, nil
	}
	return nil, executor.NotFound(id)
}

func (c *fakeCatalog) List() []*executor.Info { return nil }

func (h fakeHandle) Info() *executor.Info { return h.info }
func (h fakeHandle) Release()             {}

func (h fakeHandle) Execute(ctx context.Context, req *executor.Request) (*executor.Response, error) {
	c, t := h.c, req.Task
	if h.info.ID == "noop" {
		return &executor.Response{Output: json.RawMessage(`{}`)}, nil
	}
	var in map[string]any
	_ = json.Unmarshal(req.Inputs, &in)
	c.mu.Lock()
	c.order = append(c.order, t.ID)
	c.inputs[t.ID] = in
	c.executions[t.ID]++
	c.running++
	c.maxRunning = max(c.maxRunning, c.running)
	failOnce := c.failOnce[t.ID]
	delete(c.failOnce, t.ID)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
	}()
	if ps, ok := t.Params["progress"].([]any); ok && req.Progress != nil {
		for _, p := range ps {
			f, _ := p.(json.Number).Float64()
			req.Progress(f)
		}
	}
	if ms, ok := t.Params["sleep_ms"].(json.Number); ok {
		n, _ := ms.Int64()
		select {
		case <-time.After(time.Duration(n) * time.Millisecond):
		case <-ctx.Done():
		}
	}
	if g, _ := t.Params["gate"].(bool); g {
		select {
		case <-c.gate:
		case <-ctx.Done():
		}
	}
	if b, _ := t.Params["block"].(bool); b {
		<-ctx.Done()
		c.mu.Lock()
		c.cancelled[t.ID] = true
		c.mu.Unlock()
		return &executor.Response{Output: json.RawMessage(`{"late":true}`)}, nil
	}
	if failOnce {
		return nil, errors.New("transient failure")
	}
	if n, ok := t.Params["fail_times"].(json.Number); ok {
		if k, _ := n.Int64(); int64(t.NextAttempt()) <= k {
			if t.Params["fail_as"] == "error" {
				return nil, fmt.Errorf("flaky %d", t.NextAttempt())
			}
			out, _ := json.Marshal(map[string]any{"error": fmt.Sprintf("flaky %d", t.NextAttempt()), "code": t.Params["code"]})
			return &executor.Response{Output: out}, nil
		}
	}
	if msg, ok := t.Params["fail"].(string); ok {
		return nil, errors.New(msg)
	}
	out := json.RawMessage(fmt.Sprintf(`{"done":%q}`, t.ID))
	if v, ok := t.Params["out"]; ok {
		out, _ = json.Marshal(v)
	}
	return &executor.Response{Output: out, Plugin: "sha256:fake", Usage: task.Usage{DurationMS: 1, HostCalls: 3}}, nil
}

func (c *fakeCatalog) startOrder() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...)
}

// spec describes a task of a test tree; the first spec is the root, others default to
// children of the root.
type spec struct {
	id       string
	name     string // the stored name; the id when empty
	parent   string
	priority *int
	deps     []task.Dependency
	method   string
	params   map[string]any
	inputs   map[string]any
	// inputSchema is the task's own schemas.input_schema.
	inputSchema map[string]any
	status      task.Status
}

func prio(p int) *int { return &p }

func req(ids ...string) []task.Dependency {
	var out []task.Dependency
	for _, id := range ids {
		out = append(out, task.Dependency{ID: id, Required: true})
	}
	return out
}

func opt(ids ...string) []task.Dependency {
	var out []task.Dependency
	for _, id := range ids {
		out = append(out, task.Dependency{ID: id})
	}
	return out
}

// normalize round-trips a value through JSON with UseNumber, as the store does.
func normalize(v any) any {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	var out any
	d := json.NewDecoder(bytesReader(b))
	d.UseNumber()
	_ = d.Decode(&out)
	return out
}

func buildTree(specs []spec) []*task.Task {
	rootID := specs[0].id
	now := time.Now().UTC()
	parents := map[string]bool{}
	var out []*task.Task
	for i, s := range specs {
		t := &task.Task{ID: s.id, TaskTreeID: rootID, Name: cmp.Or(s.name, s.id), Status: task.Pending, Priority: task.DefaultPriority,
			Dependencies: s.deps, Seq: i, CreatedAt: now, UpdatedAt: now}
		if i > 0 {
			t.ParentID = rootID
			if s.parent != "" {
				t.ParentID = s.parent
			}
			parents[t.ParentID] = true
		}
		if s.priority != nil {
			t.Priority = *s.priority
		}
		method := s.method
		if method == "" {
			method = "fake"
		}
		t.Schemas = map[string]any{"method": method}
		if s.inputSchema != nil {
			t.Schemas["input_schema"] = normalize(s.inputSchema)
		}
		if s.params != nil {
			t.Params = normalize(s.params).(map[string]any)
		}
		if s.inputs != nil {
			t.Inputs = normalize(s.inputs).(map[string]any)
		}
		if s.status != "" {
			t.Status = s.status
		}
		out = append(out, t)
	}
	for _, t := range out {
		t.HasChildren = parents[t.ID]
	}
	return out
}

type env struct {
	t   *testing.T
	e   *Engine
	st  store.Store
	cat *fakeCatalog
}

type option func(*Config)

func withConcurrency(n int) option        { return func(c *Config) { c.Concurrency = n } }
func withHooks(h Hooks) option            { return func(c *Config) { c.Hooks = h } }
func withCluster(d cluster.Driver) option { return func(c *Config) { c.Cluster = d } }

// setup returns an engine on an in-memory store (memstore) with the fake catalog chained
// after the built-ins.
func setup(t *testing.T, opts ...option) *env {
	t.Helper()
	if clusterMode() {
		st, n, _ := clusterNode(t, "", "node-1")
		return setupStore(t, st, append([]option{withCluster(n)}, opts...)...)
	}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	return setupStore(t, st, opts...)
}

func setupStore(t *testing.T, st store.Store, opts ...option) *env {
	t.Helper()
	cat := newFakeCatalog()
	cfg := Config{Store: st, Catalog: executor.Chain(builtin.Catalog(), cat), ProgressInterval: time.Nanosecond}
	if os.Getenv("APFLOW_TEST_LOG") != "" { // engine logs on stderr, to debug a test
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug})
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return &env{t: t, e: e, st: st, cat: cat}
}

func (v *env) create(specs ...spec) string {
	v.t.Helper()
	tasks := buildTree(specs)
	if err := v.st.Create(context.Background(), tasks); err != nil {
		v.t.Fatal(err)
	}
	return specs[0].id
}

func (v *env) run(rootID string, opts RunOptions) RunResult {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := v.e.Execute(ctx, rootID, opts)
	if err != nil {
		v.t.Fatalf("Execute(%s): %v", rootID, err)
	}
	return res
}

func (v *env) get(id string) *task.Task {
	v.t.Helper()
	t, err := v.st.Get(context.Background(), id)
	if err != nil {
		v.t.Fatal(err)
	}
	return t
}

func (v *env) wantStatus(id string, want task.Status) *task.Task {
	v.t.Helper()
	t := v.get(id)
	if t.Status != want {
		v.t.Fatalf("task %s status = %s (error %q), want %s", id, t.Status, t.Error, want)
	}
	return t
}

// waitFor polls until cond holds or fails the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
