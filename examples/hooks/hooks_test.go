// Tests of the example hooks: each is built with the Go SDK for wasip1 and run through
// the real sandbox, registry and hook runner (and the engine for flaky).
package hooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

var built struct {
	once sync.Once
	dir  string
	err  error
	out  string
}

// build compiles every example hook once per test binary and returns the directory of
// the .wasm files.
func build(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			built.err = err
			return
		}
		built.dir, built.err = os.MkdirTemp("", "example-hooks")
		if built.err != nil {
			return
		}
		for _, name := range []string{"validate_user", "metrics", "priority_by_load", "flaky"} {
			cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", filepath.Join(built.dir, name+".wasm"), "./"+name)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			out, err := cmd.CombinedOutput()
			if err != nil {
				built.err, built.out = err, string(out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatalf("building the example hooks: %v\n%s", built.err, built.out)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

type env struct {
	st     store.Store
	runner *hooks.Runner
	logs   *logbuf.Buffer
}

// setup loads the named example hooks with grants into a fresh registry and returns a
// runner calling them in that order.
func setup(t *testing.T, grants map[string]sandbox.Grants, names ...string) *env {
	t.Helper()
	src := build(t)
	ctx := context.Background()
	// The compilation cache shared by the tests compiles each module once, not per test.
	rt, err := sandbox.New(ctx, sandbox.Config{CacheDir: filepath.Join(src, "cache"),
		Grants: func(id string) sandbox.Grants { return grants[id] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n+".wasm"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logbuf.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	reg, err := registry.Open(ctx, registry.Options{Runtime: rt, Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	if p := reg.Problems(); len(p) > 0 {
		t.Fatalf("example hooks did not load: %v", p)
	}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	// A generous timeout: a Go module's first instantiation is slow on a loaded machine.
	r, err := hooks.New(hooks.Config{Registry: reg, IDs: names, Store: st, Logger: log, Limits: task.Limits{TimeoutMS: 20_000}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, runner: r, logs: logs}
}

func newTask(id string, status task.Status) *task.Task {
	now := time.Now().UTC()
	return &task.Task{ID: id, TaskTreeID: id, Name: id, Status: status, Priority: task.DefaultPriority,
		Schemas: map[string]any{"method": "noop"}, CreatedAt: now, UpdatedAt: now}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidateUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		grants  map[string]sandbox.Grants
		userID  string
		inputs  map[string]any
		want    string // final inputs; "null" when unchanged
		wantErr string
	}{
		{"task user, environment granted", map[string]sandbox.Grants{"validate_user": {Config: map[string]string{"ENVIRONMENT": "staging"}}},
			"u1", map[string]any{"q": "x"},
			`{"_environment":"staging","_pre_hook_timestamp":"2022-01-01T00:00:00Z","q":"x"}`, ""},
		{"user in inputs, default environment", nil, "", map[string]any{"user_id": "u2"},
			`{"_environment":"production","_pre_hook_timestamp":"2022-01-01T00:00:00Z","user_id":"u2"}`, ""},
		{"no user", nil, "", map[string]any{"q": "x"}, `null`,
			"hook validate_user pre_hook: returned error: task t1: user_id is required"},
		{"empty user in inputs", nil, "", map[string]any{"user_id": ""}, `null`, "user_id is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, tc.grants, "validate_user")
			tk := newTask("t1", task.InProgress)
			tk.UserID = tc.userID
			got, errs := v.runner.Pre(context.Background(), tk, tc.inputs)
			if s := jsonString(t, got); s != tc.want {
				t.Fatalf("inputs = %s, want %s", s, tc.want)
			}
			if tc.wantErr == "" && len(errs) > 0 || tc.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr)) {
				t.Fatalf("errors = %v, want %q", errs, tc.wantErr)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	type point struct {
		Metric string            `json:"metric"`
		Value  float64           `json:"value"`
		Tags   map[string]string `json:"tags"`
	}
	var mu sync.Mutex
	var points []point
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p point
		if err := json.Unmarshal(b, &p); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad point", http.StatusBadRequest)
			return
		}
		if p.Tags["task_id"] == "refused" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		mu.Lock()
		points = append(points, p)
		mu.Unlock()
	}))
	t.Cleanup(sink.Close)
	granted := map[string]sandbox.Grants{"metrics": {HTTP: []string{"127.0.0.1"}, Config: map[string]string{"METRICS_URL": sink.URL + "/points"}}}
	started := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		grants  map[string]sandbox.Grants
		id      string
		usage   *task.Usage
		wantLog string
		wantPt  float64 // 0: no point expected
		wantErr string
	}{
		{"usage duration to log and sink", granted, "a", &task.Usage{DurationMS: 12.5}, "value=12.5", 12.5, ""},
		{"timestamps when no usage", granted, "b", nil, "value=1500", 1500, ""},
		{"log only without a sink", nil, "c", &task.Usage{DurationMS: 3}, "value=3", 0, ""},
		{"sink failure is a hook error", granted, "refused", &task.Usage{DurationMS: 1}, "value=1", 0, "metrics sink " + sink.URL + "/points answered HTTP 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, tc.grants, "metrics")
			tk := newTask(tc.id, task.Completed)
			tk.StartedAt, tk.CompletedAt, tk.Usage = started, started.Add(1500*time.Millisecond), tc.usage
			errs := v.runner.Post(context.Background(), tk, map[string]any{}, map[string]any{"ok": true})
			if tc.wantErr == "" && len(errs) > 0 || tc.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr)) {
				t.Fatalf("errors = %v, want %q\n%s", errs, tc.wantErr, v.logs.String())
			}
			if !strings.Contains(v.logs.String(), "metric=task.duration "+tc.wantLog) {
				t.Fatalf("no metric log line with %s in:\n%s", tc.wantLog, v.logs.String())
			}
			mu.Lock()
			defer mu.Unlock()
			found := false
			for _, p := range points {
				found = found || p.Tags["task_id"] == tc.id && p.Value == tc.wantPt && p.Metric == "task.duration" && p.Tags["executor"] == "noop"
			}
			if found != (tc.wantPt != 0) {
				t.Fatalf("sink points = %+v; want one for %s: %v", points, tc.id, tc.wantPt != 0)
			}
		})
	}
}

func TestPriorityByLoad(t *testing.T) {
	t.Parallel()
	grant := func(threshold string) map[string]sandbox.Grants {
		return map[string]sandbox.Grants{"priority_by_load": {Repository: true, Config: map[string]string{"PENDING_THRESHOLD": threshold}}}
	}
	tests := []struct {
		name     string
		grants   map[string]sandbox.Grants
		pending  int
		priority int
		want     int
		wantErr  string
	}{
		{"above threshold: demoted", grant("2"), 3, 2, 3, ""},
		{"at threshold: kept", grant("3"), 3, 2, 2, ""},
		{"critical never demoted", grant("0"), 3, 0, 0, ""},
		{"lowest stays lowest", grant("0"), 3, 3, 3, ""},
		{"bad threshold", grant("many"), 3, 2, 2, `PENDING_THRESHOLD must be a non-negative integer, got "many"`},
		{"no repository grant", map[string]sandbox.Grants{"priority_by_load": {Config: map[string]string{"PENDING_THRESHOLD": "0"}}},
			3, 2, 2, "capability repository not granted to plugin priority_by_load"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, tc.grants, "priority_by_load")
			ctx := context.Background()
			self := newTask("self", task.InProgress)
			self.Priority, self.StartedAt = tc.priority, self.CreatedAt
			subs := []*task.Task{self}
			for i := range tc.pending {
				p := newTask("p"+string(rune('a'+i)), task.Pending)
				p.Seq = i
				subs = append(subs, p)
			}
			for _, s := range subs { // one tree per task: each is its own root
				if err := v.st.Create(ctx, []*task.Task{s}); err != nil {
					t.Fatal(err)
				}
			}
			got, errs := v.runner.Pre(ctx, self, map[string]any{"k": 1})
			if got != nil {
				t.Fatalf("inputs changed: %v", got)
			}
			if tc.wantErr == "" && len(errs) > 0 || tc.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr)) {
				t.Fatalf("errors = %v, want %q", errs, tc.wantErr)
			}
			stored, err := v.st.Get(ctx, "self")
			if err != nil || stored.Priority != tc.want {
				t.Fatalf("stored priority = %d (%v), want %d", stored.Priority, err, tc.want)
			}
		})
	}
}

// inproc is an in-process catalog with the executor "noop" (returns {"done": true}).
type inproc struct{}

type noop struct{}

func (inproc) Lookup(id string) (executor.Handle, error) {
	if id == "noop" {
		return noop{}, nil
	}
	return nil, executor.NotFound(id)
}
func (inproc) List() []*executor.Info { return nil }
func (noop) Info() *executor.Info     { return &executor.Info{ID: "noop", Kind: "test"} }
func (noop) Release()                 {}
func (noop) Execute(context.Context, *executor.Request) (*executor.Response, error) {
	return &executor.Response{Output: json.RawMessage(`{"done":true}`)}, nil
}

// flaky fails in every hook point, through the real engine: the task still completes and
// the failures are in hook_errors.
func TestFlaky(t *testing.T) {
	t.Parallel()
	v := setup(t, nil, "flaky")
	e, err := engine.New(engine.Config{Store: v.st, Catalog: inproc{}, Hooks: v.runner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	ctx := context.Background()
	root := newTask("root", task.Pending)
	root.Inputs = map[string]any{"x": json.Number("1")}
	if err := v.st.Create(ctx, []*task.Task{root}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Execute(ctx, "root", engine.RunOptions{})
	if err != nil || res.Status != task.Completed {
		t.Fatalf("run = %+v, %v", res, err)
	}
	var got *task.Task
	deadline := time.Now().Add(10 * time.Second)
	for { // post-hook errors are recorded after the completion
		if got, err = v.st.Get(ctx, "root"); err != nil {
			t.Fatal(err)
		}
		if len(got.HookErrors) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.Status != task.Completed || jsonString(t, got.Result) != `{"done":true}` || jsonString(t, got.Inputs) != `{"x":1}` {
		t.Fatalf("root = %s result %s inputs %s", got.Status, jsonString(t, got.Result), jsonString(t, got.Inputs))
	}
	want := []string{
		"pre-hook: hook flaky pre_hook: returned error: flaky: simulated pre-hook failure on task root",
		"post-hook: hook flaky post_hook: returned error: panic: flaky: simulated post-hook panic on task root",
	}
	if len(got.HookErrors) != 2 || !strings.HasPrefix(got.HookErrors[0], want[0]) || !strings.HasPrefix(got.HookErrors[1], want[1]) {
		t.Fatalf("hook_errors = %q, want prefixes %q", got.HookErrors, want)
	}
	if !strings.Contains(v.logs.String(), "flaky: simulated tree hook failure on tree root") {
		t.Fatalf("tree hook failure not logged:\n%s", v.logs.String())
	}
}
