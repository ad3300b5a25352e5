package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPreOrder(t *testing.T) {
	t.Parallel()
	files := []string{"set_a", "set_b", "spy"}
	tests := []struct {
		name    string
		ids     []string
		want    string // final inputs as JSON; "null": unchanged
		spySees string // what spy's input contains
	}{
		{"one hook replaces", []string{"set_a"}, `{"by":"set_a","n":1}`, ""},
		{"later hook wins", []string{"set_a", "set_b"}, `{"by":"set_b"}`, ""},
		{"order is registration order", []string{"set_b", "set_a"}, `{"by":"set_a","n":1}`, ""},
		{"next hook sees the change", []string{"set_b", "spy"}, `{"by":"set_b"}`, `"inputs":{"by":"set_b"}`},
		{"spy first sees the original", []string{"spy", "set_b"}, `{"by":"set_b"}`, `"inputs":{"x":1}`},
		{"no change is nil", []string{"spy"}, `null`, `"inputs":{"x":1}`},
		{"duplicate ids run once", []string{"set_a", "set_b", "set_a"}, `{"by":"set_b"}`, ""},
		{"no hooks", []string{}, `null`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, options{files: files, ids: tc.ids})
			in := map[string]any{"x": json.Number("1")}
			got, errs := v.runner.Pre(context.Background(), newTask("t1", "echo", in), in)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if s := jsonString(t, got); s != tc.want {
				t.Fatalf("inputs = %s, want %s", s, tc.want)
			}
			if jsonString(t, in) != `{"x":1}` {
				t.Fatalf("Pre modified its argument: %v", in)
			}
			if tc.spySees != "" {
				lines := v.logs.Lines("hook=spy")
				if len(lines) != 1 || !strings.Contains(lines[0], tc.spySees) {
					t.Fatalf("spy log = %q, want one line containing %s", lines, tc.spySees)
				}
				// The task document carries the current inputs too.
				if !strings.Contains(lines[0], `"task":{"id":"t1"`) {
					t.Fatalf("spy did not see the task: %q", lines[0])
				}
			}
		})
	}
}

// Every hostile hook fails alone: the hooks around it still run, the inputs it would
// have changed are left as they were, and its error says what happened.
func TestPreFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hook    string
		wantErr string
		kind    sandbox.Kind
	}{
		{"fail", "hook fail pre_hook: returned error: refused by fail", ""},
		{"trap", "hook trap pre_hook: trapped: unreachable", sandbox.KindTrap},
		{"loop", "hook loop pre_hook: timed out after 300ms", sandbox.KindTimeout},
		{"membomb", "hook membomb pre_hook: out of memory: memory limit 32 pages", sandbox.KindOutOfMemory},
		{"garbage", `hook garbage pre_hook: malformed result: "inputs" must be an object, got [1,2]`, ""},
		{"absent", "hook absent is not loaded", ""},
	}
	for _, tc := range tests {
		t.Run(tc.hook, func(t *testing.T) {
			t.Parallel()
			files := []string{"set_a", "spy"}
			if tc.hook != "absent" {
				files = append(files, tc.hook)
			}
			v := setup(t, options{files: files, ids: []string{"set_a", tc.hook, "spy"},
				limits: task.Limits{TimeoutMS: 300, MemoryPages: 32}})
			in := map[string]any{"x": json.Number("1")}
			got, errs := v.runner.Pre(context.Background(), newTask("t1", "echo", in), in)
			if s := jsonString(t, got); s != `{"by":"set_a","n":1}` {
				t.Fatalf("inputs = %s, want set_a's", s)
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Fatalf("errors = %q, want one containing %q", errStrings(errs), tc.wantErr)
			}
			var he *hooks.Error
			if !errors.As(errs[0], &he) || he.Hook != tc.hook || he.Kind != tc.kind {
				t.Fatalf("error = %#v, want hook %s kind %q", errs[0], tc.hook, tc.kind)
			}
			if lines := v.logs.Lines("hook=spy"); len(lines) != 1 || !strings.Contains(lines[0], `"by":"set_a"`) {
				t.Fatalf("the hook after the failing one did not run on set_a's inputs: %q", lines)
			}
			// The next call gets a healthy instance.
			_, errs = v.runner.Pre(context.Background(), newTask("t2", "echo", in), in)
			if len(errs) != 1 {
				t.Fatalf("second call errors = %q", errStrings(errs))
			}
		})
	}
}

func TestPost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ids     []string
		status  task.Status
		wantErr []string
		spy     bool // spy's post_hook ran
	}{
		{"completed task", []string{"spy"}, task.Completed, nil, true},
		{"failed task: no post-hooks", []string{"spy", "fail"}, task.Failed, nil, false},
		{"cancelled task: no post-hooks", []string{"spy"}, task.Cancelled, nil, false},
		{"error value rendered as JSON", []string{"fail", "spy"}, task.Completed,
			[]string{`hook fail post_hook: returned error: {"code":7}`}, true},
		{"trap and garbage", []string{"trap", "garbage", "spy"}, task.Completed,
			[]string{"hook trap post_hook: trapped", "hook garbage post_hook: result is not valid JSON"}, true},
		{"hook without post_hook is skipped", []string{"set_b", "spy"}, task.Completed, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, options{files: []string{"spy", "fail", "trap", "garbage", "set_b"}, ids: tc.ids})
			tk := newTask("t1", "echo", nil)
			tk.Status = tc.status
			errs := v.runner.Post(context.Background(), tk, map[string]any{"x": 1}, map[string]any{"answer": 42})
			got := errStrings(errs)
			if len(got) != len(tc.wantErr) {
				t.Fatalf("errors = %q, want %q", got, tc.wantErr)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.wantErr[i]) {
					t.Fatalf("error %d = %q, want it to contain %q", i, got[i], tc.wantErr[i])
				}
			}
			lines := v.logs.Lines("export=post_hook")
			spyLines := 0
			for _, l := range lines {
				if strings.Contains(l, "hook=spy") {
					spyLines++
					for _, want := range []string{`"result":{"answer":42}`, `"inputs":{"x":1}`, `"task":{"id":"t1"`} {
						if !strings.Contains(l, want) {
							t.Fatalf("post-hook input %q lacks %s", l, want)
						}
					}
				}
			}
			if (spyLines == 1) != tc.spy || spyLines > 1 {
				t.Fatalf("spy post_hook ran %d times, want ran=%v", spyLines, tc.spy)
			}
		})
	}
}

func TestPerExecutor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		want   string
	}{
		{"echo", `{"only":"echo"}`},
		{"other", `null`},
		{"", `null`},
	}
	v := setup(t, options{files: []string{"only_echo"}})
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			got, errs := v.runner.Pre(context.Background(), newTask("t-"+tc.method, tc.method, nil), nil)
			if len(errs) > 0 || jsonString(t, got) != tc.want {
				t.Fatalf("Pre around %q = %s, %v; want %s", tc.method, jsonString(t, got), errs, tc.want)
			}
		})
	}
	// params.executor_id takes precedence over schemas.method, as in the engine.
	tk := newTask("t-override", "other", nil)
	tk.Params = map[string]any{"executor_id": "echo"}
	if got, _ := v.runner.Pre(context.Background(), tk, nil); jsonString(t, got) != `{"only":"echo"}` {
		t.Fatalf("executor_id override: %s", jsonString(t, got))
	}
}

func TestTreeEvents(t *testing.T) {
	t.Parallel()
	root := newTask("root", "echo", nil)
	child := newTask("child", "echo", nil)
	child.ParentID = "root"
	tree := task.BuildTree([]*task.Task{root, child}, "root")
	tests := []struct {
		kind, status, msg string
		export            string
		want              []string // in spy's input
		absent            []string
		errs              int
	}{
		{"created", "", "", "on_tree_created", []string{`"root":{"id":"root"`, `"tree":{"task":{"id":"root"`, `"id":"child"`}, []string{`"message"`, `"status":"completed"`}, 0},
		{"started", "", "", "on_tree_started", []string{`"root":{"id":"root"`}, []string{`"tree"`, `"message"`}, 1},
		{"completed", "completed", "", "on_tree_completed", []string{`"status":"completed"`}, []string{`"message"`}, 0},
		{"failed", "failed", "Tree finished with status: failed", "on_tree_failed",
			[]string{`"status":"failed"`, `"message":"Tree finished with status: failed"`}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			v := setup(t, options{files: []string{"fail", "spy"}})
			errs := v.runner.TreeErrors(context.Background(), tc.kind, root, tree, tc.status, tc.msg)
			if len(errs) != tc.errs {
				t.Fatalf("errors = %q, want %d", errStrings(errs), tc.errs)
			}
			lines := v.logs.Lines("export=" + tc.export)
			var spy string
			for _, l := range lines {
				if strings.Contains(l, "hook=spy") {
					spy = l
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(spy, w) {
					t.Fatalf("spy %s input %q lacks %s", tc.export, spy, w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(spy, a) {
					t.Fatalf("spy %s input %q has %s", tc.export, spy, a)
				}
			}
		})
	}
	v := setup(t, options{files: []string{"spy"}})
	if errs := v.runner.TreeErrors(context.Background(), "exploded", root, tree, "", ""); errs != nil {
		t.Fatalf("unknown kind: %v", errs)
	}
	if len(v.logs.Lines("hook=spy")) != 0 {
		t.Fatal("unknown kind called a hook")
	}
}

// A configured hook that is not loaded is an error on every task, logged once until it
// is loaded again; a hook module replaced between calls takes effect on the next call.
func TestHotSwapAndMissing(t *testing.T) {
	t.Parallel()
	v := setup(t, options{files: nil, ids: []string{"swap"}})
	ctx := context.Background()
	pre := func() (string, []error) {
		got, errs := v.runner.Pre(ctx, newTask("t", "echo", nil), nil)
		return jsonString(t, got), errs
	}
	for range 3 {
		if got, errs := pre(); got != "null" || len(errs) != 1 || errs[0].Error() != "hook swap is not loaded" {
			t.Fatalf("missing hook: %s %q", got, errStrings(errs))
		}
	}
	if n := len(v.logs.Lines("configured hook is not loaded")); n != 1 {
		t.Fatalf("missing hook logged %d times, want once", n)
	}
	steps := []struct{ file, want string }{{"swap_v1", `{"v":1}`}, {"swap_v2", `{"v":2}`}, {"swap_v1", `{"v":1}`}}
	for _, s := range steps {
		copyPlugin(t, v.dir, s.file, "swap")
		if err := v.reg.Rescan(ctx); err != nil {
			t.Fatal(err)
		}
		if got, errs := pre(); got != s.want || len(errs) != 0 {
			t.Fatalf("after installing %s: %s %q, want %s", s.file, got, errStrings(errs), s.want)
		}
	}
	if n := len(v.logs.Lines("configured hook is loaded again")); n != 1 {
		t.Fatalf("hook coming back logged %d times, want once", n)
	}
	// The hook list shows the current version.
	list := v.runner.List()
	if len(list) != 1 || !list[0].Loaded || list[0].Version != "1.0.0" || jsonString(t, list[0].Exports) != `["pre_hook"]` {
		t.Fatalf("List = %+v", list)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	v := setup(t, options{files: []string{"only_echo", "repo"}, ids: []string{"repo", "nope", "only_echo"}})
	got := v.runner.List()
	if len(got) != 3 {
		t.Fatalf("List = %+v", got)
	}
	want := []struct {
		id        string
		loaded    bool
		executors string
		caps      string
	}{{"repo", true, "null", `["repository"]`}, {"nope", false, "null", "null"}, {"only_echo", true, `["echo"]`, "[]"}}
	for i, w := range want {
		h := got[i]
		if h.ID != w.id || h.Order != i || h.Loaded != w.loaded || jsonString(t, h.Executors) != w.executors || jsonString(t, h.Capabilities) != w.caps {
			t.Fatalf("List[%d] = %+v, want %+v", i, h, w)
		}
		if h.Loaded && (len(h.Hash) != 64 || h.Error != "") || !h.Loaded && h.Error == "" {
			t.Fatalf("List[%d] = %+v", i, h)
		}
	}
	if v.runner.Limits().TimeoutMS != hooks.DefaultTimeoutMS {
		t.Fatalf("default hook timeout = %d", v.runner.Limits().TimeoutMS)
	}
}

func TestNewRequiresRegistry(t *testing.T) {
	t.Parallel()
	if _, err := hooks.New(hooks.Config{}); err == nil {
		t.Fatal("New without a registry succeeded")
	}
}

// A cancelled context (the task was cancelled) interrupts a hook at once.
func TestPreCancelled(t *testing.T) {
	t.Parallel()
	v := setup(t, options{files: []string{"loop"}, limits: task.Limits{TimeoutMS: 60_000}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, errs := v.runner.Pre(ctx, newTask("t", "echo", nil), nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "cancelled") {
		t.Fatalf("errors = %q", errStrings(errs))
	}
}
