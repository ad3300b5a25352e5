package engine

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestPriorityOrderUnderConcurrencyOne(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(1))
	root := v.create(
		spec{id: "root", priority: prio(0)},
		spec{id: "low", priority: prio(3)},
		spec{id: "high", priority: prio(1)},
		spec{id: "urgent-a", priority: prio(0)},
		spec{id: "normal"},
		spec{id: "urgent-b", priority: prio(0)},
	)
	res := v.run(root, RunOptions{})
	if res.Status != task.Completed || res.Counts[task.Completed] != 6 {
		t.Fatalf("result = %+v", res)
	}
	want := []string{"urgent-a", "urgent-b", "high", "normal", "low", "root"}
	if got := v.cat.startOrder(); !reflect.DeepEqual(got, want) {
		t.Fatalf("start order = %v, want %v", got, want)
	}
}

// TestLaterReadyTaskWaitsForEarlierPriority: a task that becomes ready when a slot frees
// starts after the ready tasks that order before it, also when those wait in a cluster's
// queue (the freed slot goes to the queue's first, not to the coordinator's newcomer).
func TestLaterReadyTaskWaitsForEarlierPriority(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(1))
	root := v.create(
		spec{id: "root"},
		spec{id: "first", priority: prio(0)},
		spec{id: "second", priority: prio(1)},
		spec{id: "after-first", priority: prio(3), deps: req("first")},
	)
	v.run(root, RunOptions{})
	want := []string{"first", "second", "after-first", "root"}
	if got := v.cat.startOrder(); !reflect.DeepEqual(got, want) {
		t.Fatalf("start order = %v, want %v", got, want)
	}
}

func TestDependenciesBeatPriority(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(1))
	root := v.create(
		spec{id: "root"},
		spec{id: "late", priority: prio(3)},
		spec{id: "waits", priority: prio(0), deps: req("late")},
		spec{id: "mid", priority: prio(2)},
	)
	v.run(root, RunOptions{})
	want := []string{"mid", "late", "waits", "root"}
	if got := v.cat.startOrder(); !reflect.DeepEqual(got, want) {
		t.Fatalf("start order = %v, want %v", got, want)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(3))
	specs := []spec{{id: "root"}}
	for i := 0; i < 12; i++ {
		specs = append(specs, spec{id: "c" + string(rune('a'+i)), params: map[string]any{"sleep_ms": 5}})
	}
	v.run(v.create(specs...), RunOptions{})
	if v.cat.maxRunning > 3 || v.cat.maxRunning < 2 {
		t.Fatalf("max concurrent executions = %d, want 2..3", v.cat.maxRunning)
	}
}

func TestOptionalDependencyOnFailedTaskRunsAfterIt(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root"},
		spec{id: "a", params: map[string]any{"fail": "boom", "sleep_ms": 20}},
		spec{id: "b", deps: opt("a"), inputs: map[string]any{"own": 1}},
	)
	v.run(root, RunOptions{})
	a := v.wantStatus("a", task.Failed)
	if a.Error != "boom" {
		t.Fatalf("a.error = %q, want executor message", a.Error)
	}
	b := v.wantStatus("b", task.Completed)
	if !b.StartedAt.After(a.CompletedAt) && !b.StartedAt.Equal(a.CompletedAt) {
		t.Fatalf("b started %v before a completed %v", b.StartedAt, a.CompletedAt)
	}
	if got := sortedKeys(v.cat.inputs["b"]); !reflect.DeepEqual(got, []string{"own"}) {
		t.Fatalf("b inputs keys = %v, want only its own", got)
	}
}

func TestRequiredFailedBlocksTransitivelyAndRerunUnblocks(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", method: "aggregate_results_executor", deps: req("c", "side")},
		spec{id: "a"},
		spec{id: "b", deps: req("a")},
		spec{id: "c", deps: req("b")},
		spec{id: "side"},
	)
	v.cat.failOnce["a"] = true
	res := v.run(root, RunOptions{})
	v.wantStatus("a", task.Failed)
	v.wantStatus("side", task.Completed)
	for id, want := range map[string]string{
		"b":    "blocked: required dependency a failed",
		"c":    "blocked: required dependency b blocked",
		"root": "blocked: required dependency c blocked",
	} {
		got := v.wantStatus(id, task.Pending)
		if got.Error != want || !got.Blocked() {
			t.Fatalf("%s error = %q, want %q", id, got.Error, want)
		}
	}
	if res.Status != task.Pending || res.Blocked != 3 || res.Counts[task.Failed] != 1 {
		t.Fatalf("result = %+v", res)
	}

	res = v.run(root, RunOptions{})
	for _, id := range []string{"a", "b", "c", "root"} {
		if got := v.wantStatus(id, task.Completed); got.Error != "" {
			t.Fatalf("%s error after re-run = %q", id, got.Error)
		}
	}
	if v.cat.executions["side"] != 1 {
		t.Fatalf("completed task side ran %d times, want 1 (kept on re-run)", v.cat.executions["side"])
	}
	if res.Status != task.Completed || res.Blocked != 0 {
		t.Fatalf("re-run result = %+v", res)
	}
}

func TestDiamondInjectionAndAggregatorRoot(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", method: "aggregate_results_executor", deps: req("d", "n")},
		spec{id: "a", params: map[string]any{"out": map[string]any{"k": "a", "x": 1}}},
		spec{id: "b", params: map[string]any{"out": map[string]any{"result": map[string]any{"k": "b", "y": 2}, "dropped": true}}},
		spec{id: "d", deps: req("a", "b"), inputs: map[string]any{"k": "own", "z": 3},
			params: map[string]any{"out": "plain"}},
		spec{id: "n", params: map[string]any{"out": []any{1, 2}}},
	)
	res := v.run(root, RunOptions{})
	if res.Status != task.Completed {
		t.Fatalf("result = %+v", res)
	}
	wantD := map[string]any{"k": "b", "x": float64(1), "y": float64(2), "z": float64(3)}
	if got := v.cat.inputs["d"]; !reflect.DeepEqual(got, wantD) {
		t.Fatalf("d inputs = %v, want %v", got, wantD)
	}
	// Merged inputs are persisted.
	if got := normalizeF(v.get("d").Inputs); !reflect.DeepEqual(got, wantD) {
		t.Fatalf("stored d inputs = %v, want %v", got, wantD)
	}
	r := v.get("root")
	out := r.Result.(map[string]any)
	if out["summary"] != "Aggregated 2 task results. from: d, n" {
		t.Fatalf("summary = %v", out["summary"])
	}
	results := normalizeF(out["results"]).(map[string]any)
	if !reflect.DeepEqual(results, map[string]any{"d": "plain", "n": []any{float64(1), float64(2)}}) {
		t.Fatalf("aggregated results = %v", results)
	}
	if n, _ := out["result_count"].(json.Number).Int64(); n != 2 {
		t.Fatalf("result_count = %v", out["result_count"])
	}
}

func normalizeF(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestRootWithoutDependenciesRunsLast(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(4))
	root := v.create(
		spec{id: "root", priority: prio(0)},
		spec{id: "a", params: map[string]any{"sleep_ms": 30}},
		spec{id: "b", params: map[string]any{"sleep_ms": 10}, priority: prio(3)},
		spec{id: "c", deps: req("b"), params: map[string]any{"fail": "x"}},
		spec{id: "d", deps: req("c")},
	)
	v.run(root, RunOptions{})
	order := v.cat.startOrder()
	if order[len(order)-1] != "root" {
		t.Fatalf("start order = %v, want root last", order)
	}
	r := v.wantStatus("root", task.Completed)
	for _, id := range []string{"a", "b", "c"} {
		if c := v.get(id); c.CompletedAt.After(r.StartedAt) {
			t.Fatalf("%s completed at %v, after root started at %v", id, c.CompletedAt, r.StartedAt)
		}
	}
}

func TestResultErrorKeyAndExecutorFailures(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", deps: opt("errobj", "thrown", "unknown", "invalid", "nullerr")},
		spec{id: "errobj", params: map[string]any{"out": map[string]any{"error": "quota exceeded", "partial": 1}}},
		spec{id: "nullerr", params: map[string]any{"out": map[string]any{"error": nil}}},
		spec{id: "thrown", params: map[string]any{"fail": "connection refused"}},
		spec{id: "unknown", method: "nope"},
		spec{id: "invalid", method: "typed", inputs: map[string]any{"name": 42}},
	)
	v.run(root, RunOptions{})
	tests := []struct {
		id, wantErr string
		wantResult  bool
	}{
		{"errobj", "quota exceeded", true},
		{"nullerr", "executor returned an error object with a null error", true},
		{"thrown", "connection refused", false},
		{"unknown", "Executor 'nope' could not be loaded for task unknown", false},
		{"invalid", "Input validation failed for task invalid: inputs.name: expected string", false},
	}
	for _, tc := range tests {
		got := v.wantStatus(tc.id, task.Failed)
		if !strings.Contains(got.Error, tc.wantErr) {
			t.Errorf("%s error = %q, want it to contain %q", tc.id, got.Error, tc.wantErr)
		}
		if (got.Result != nil) != tc.wantResult {
			t.Errorf("%s result = %v, want kept=%v", tc.id, got.Result, tc.wantResult)
		}
	}
	v.wantStatus("root", task.Completed)
}

func TestUsagePluginAndProgressRecorded(t *testing.T) {
	t.Parallel()
	v := setup(t)
	events, stop := v.e.Subscribe("root")
	defer stop()
	root := v.create(spec{id: "root", params: map[string]any{"progress": []any{0.25, 0.5}}})
	v.run(root, RunOptions{})
	r := v.wantStatus("root", task.Completed)
	if r.Plugin != "sha256:fake" || r.Usage == nil || r.Usage.HostCalls != 3 || r.Attempts != 1 || r.Progress != 1 {
		t.Fatalf("root = plugin %q usage %+v attempts %d progress %v", r.Plugin, r.Usage, r.Attempts, r.Progress)
	}
	var progress []float64
	var types []string
	for ev := range events {
		types = append(types, ev.Type)
		if ev.Type == EventTaskProgress {
			progress = append(progress, ev.Progress)
		}
		if ev.Type == EventRunEnd {
			if ev.Result == nil || ev.Result.Status != task.Completed {
				t.Fatalf("run_end = %+v", ev)
			}
			break
		}
	}
	if !reflect.DeepEqual(progress, []float64{0.25, 0.5}) {
		t.Fatalf("progress events = %v (events %v)", progress, types)
	}
	if types[0] != EventRunStart {
		t.Fatalf("events = %v, want run_start first", types)
	}
}

// TestSubscribeTypes: a subscription to some event types receives those alone, in the
// order they were published, run_end last; the events nobody subscribed to are not built.
func TestSubscribeTypes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		types []string
		want  []string // the types received, duplicates dropped
	}{
		{"every type", nil, []string{EventRunStart, EventTaskStatus, EventTaskProgress, EventTaskLog, EventRunEnd}},
		{"the end", []string{EventRunEnd}, []string{EventRunEnd}},
		{"progress and the end", []string{EventTaskProgress, EventRunEnd}, []string{EventTaskProgress, EventRunEnd}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, withLogging)
			events, stop := v.e.Subscribe("root", c.types...)
			defer stop()
			root := v.create(spec{id: "root", params: map[string]any{"progress": []any{0.5}, "log": []any{"info a"}}})
			v.run(root, RunOptions{})
			var got []string
			for ev := range events {
				if !slices.Contains(got, ev.Type) {
					got = append(got, ev.Type)
				}
				if ev.Type == EventRunEnd {
					break
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Fatalf("types received %v, want %v", got, want)
			}
			// In cluster mode every type is built while anyone listens (broker.wants).
			cluster := v.e.events.out != nil
			for _, typ := range []string{EventTaskStatus, EventTaskProgress, EventTaskLog} {
				if v.e.events.wants(typ) != (cluster || c.types == nil || slices.Contains(c.types, typ)) {
					t.Fatalf("wants(%s) = %v with subscriptions to %v", typ, v.e.events.wants(typ), c.types)
				}
			}
		})
	}
}

func TestSubscribeUnknownType(t *testing.T) {
	t.Parallel()
	v := setup(t)
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, `unknown event type "run_ended"`) {
			t.Fatalf("panic %q, want one naming the unknown type", msg)
		}
		if n := len(v.e.events.subs); n != 0 {
			t.Fatalf("%d subscribers after the refused Subscribe, want 0", n)
		}
	}()
	v.e.Subscribe("root", EventRunStart, "run_ended")
	t.Fatal("Subscribe accepted an unknown event type")
}

func TestCancelRunningTaskStopsExecutorAndLateResultIsDiscarded(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", deps: opt("slow")},
		spec{id: "slow", params: map[string]any{"block": true}},
		spec{id: "after", deps: req("slow")},
	)
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slow to run", func() bool { return indexOf(v.cat.startOrder(), "slow") >= 0 })
	got, err := v.e.Cancel(context.Background(), "slow", "stop it")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != task.Cancelled || got[0].Error != "stop it" {
		t.Fatalf("Cancel returned %+v", got)
	}
	<-run.Done()
	if !v.cat.cancelled["slow"] {
		t.Fatal("the executor's context was not cancelled")
	}
	s := v.wantStatus("slow", task.Cancelled)
	if s.Result != nil || s.Error != "stop it" {
		t.Fatalf("late result overwrote cancelled task: %+v", s)
	}
	if a := v.wantStatus("after", task.Pending); a.Error != "blocked: required dependency slow cancelled" {
		t.Fatalf("after error = %q", a.Error)
	}
	v.wantStatus("root", task.Completed) // optional dependency on a cancelled task
}

func TestCancelRootCancelsTree(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root"},
		spec{id: "running", params: map[string]any{"block": true}},
		spec{id: "waiting", deps: req("running")},
		spec{id: "done"},
	)
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "done and running", func() bool {
		o := v.cat.startOrder()
		return indexOf(o, "running") >= 0 && v.get("done").Status == task.Completed
	})
	got, err := v.e.Cancel(context.Background(), root, "")
	if err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	if len(got) != 3 {
		t.Fatalf("cancelled %d tasks, want 3", len(got))
	}
	for _, id := range []string{"root", "running", "waiting"} {
		if c := v.wantStatus(id, task.Cancelled); c.Error != "Cancelled by user" {
			t.Fatalf("%s error = %q", id, c.Error)
		}
	}
	v.wantStatus("done", task.Completed)
	// Cancelling a terminal task is not an error: it is reported unchanged.
	got, err = v.e.Cancel(context.Background(), "done", "")
	if err != nil || len(got) != 1 || got[0].Status != task.Completed {
		t.Fatalf("Cancel(done) = %+v, %v", got, err)
	}
}

func TestCancelIdleTreeBlocksDependents(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "root"}, spec{id: "a"}, spec{id: "b", deps: req("a")}, spec{id: "c", deps: opt("b")})
	if _, err := v.e.Cancel(context.Background(), "a", "no"); err != nil {
		t.Fatal(err)
	}
	v.wantStatus("a", task.Cancelled)
	if b := v.wantStatus("b", task.Pending); b.Error != "blocked: required dependency a cancelled" {
		t.Fatalf("b error = %q", b.Error)
	}
	if c := v.wantStatus("c", task.Pending); c.Error != "blocked: optional dependency b blocked" {
		t.Fatalf("c error = %q", c.Error)
	}
	// Re-execution resets cancelled and blocked tasks and runs them.
	v.run(root, RunOptions{})
	for _, id := range []string{"a", "b", "c", "root"} {
		v.wantStatus(id, task.Completed)
	}
}

// TestUpdateToCancelledBlocksDependents: an update that cancels a task of an idle tree
// marks its dependents blocked as Cancel does, and cancels that task alone.
func TestUpdateToCancelledBlocksDependents(t *testing.T) {
	t.Parallel()
	v := setup(t)
	v.create(spec{id: "root"}, spec{id: "a"}, spec{id: "b", deps: req("a")}, spec{id: "c", deps: opt("b")}, spec{id: "d", deps: opt("a")})
	if _, err := v.e.Update(context.Background(), "a", func(x *task.Task) error { return x.Cancel("by update", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	v.wantStatus("a", task.Cancelled)
	for id, want := range map[string]string{
		"b":    "blocked: required dependency a cancelled",
		"c":    "blocked: optional dependency b blocked",
		"d":    "",
		"root": "",
	} {
		if x := v.wantStatus(id, task.Pending); x.Error != want {
			t.Errorf("%s error = %q, want %q", id, x.Error, want)
		}
	}
}

// TestUpdateKeepsBlockedMarkersCurrent: an update that changes a task's status or
// dependencies brings the tree's blocked markers (rule 13) up to date at once, not only
// at its next run: a task cancelled blocks its dependents, one put back to pending or
// no longer depended on unblocks them.
func TestUpdateKeepsBlockedMarkersCurrent(t *testing.T) {
	t.Parallel()
	cancel := func(x *task.Task) error { return x.Cancel("by update", time.Now()) }
	reset := func(x *task.Task) error { return x.Reset(time.Now()) }
	noDeps := func(x *task.Task) error { x.Dependencies = nil; return nil }
	type update struct {
		id     string
		change func(*task.Task) error
	}
	tests := []struct {
		name    string
		updates []update
		want    map[string]string // pending task -> its error
	}{
		{"cancelled", []update{{"a", cancel}}, map[string]string{
			"b": "blocked: required dependency a cancelled", "c": "blocked: optional dependency b blocked", "d": ""}},
		{"cancelled, then pending again", []update{{"a", cancel}, {"a", reset}}, map[string]string{
			"a": "", "b": "", "c": "", "d": ""}},
		{"cancelled, then no longer depended on", []update{{"a", cancel}, {"b", noDeps}}, map[string]string{
			"b": "", "c": "", "d": ""}},
		{"two cancelled, one pending again", []update{{"a", cancel}, {"d", cancel}, {"a", reset}}, map[string]string{
			"a": "", "b": "", "c": "blocked: required dependency d cancelled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t)
			v.create(spec{id: "root"}, spec{id: "a"}, spec{id: "b", deps: req("a")},
				spec{id: "c", deps: append(opt("b"), req("d")...)}, spec{id: "d"})
			for _, u := range tc.updates {
				if _, err := v.e.Update(context.Background(), u.id, u.change); err != nil {
					t.Fatal(err)
				}
			}
			for id, want := range tc.want {
				if x := v.wantStatus(id, task.Pending); x.Error != want {
					t.Errorf("%s error = %q, want %q", id, x.Error, want)
				}
			}
		})
	}
}

// TestUpdateAnswersAsReblockLeftIt: Update answers the task as stored after its tree's
// markers followed it; a run's "cannot run" marker stays; and a failure to bring the
// markers up to date, after the change was written, is no failure of the update.
func TestUpdateAnswersAsReblockLeftIt(t *testing.T) {
	t.Parallel()
	cancel := func(x *task.Task) error { return x.Cancel("by update", time.Now()) }
	t.Run("the answer", func(t *testing.T) {
		t.Parallel()
		v := setup(t)
		v.create(spec{id: "root"}, spec{id: "a"}, spec{id: "b", deps: req("a")})
		if _, err := v.e.Update(context.Background(), "a", cancel); err != nil {
			t.Fatal(err)
		}
		got, err := v.e.Update(context.Background(), "b", func(x *task.Task) error { x.Dependencies = nil; return nil })
		if err != nil || got.Error != "" {
			t.Fatalf("Update = %+v, %v; want b answered unblocked", got, err)
		}
	})
	t.Run("a run's cannot-run marker", func(t *testing.T) {
		t.Parallel()
		v := setup(t)
		v.create(spec{id: "root", deps: req("x")}, spec{id: "x"}, spec{id: "d"})
		const marker = task.BlockedPrefix + "dependency x cannot run" // as a run that could not start x leaves it
		if _, err := v.st.Update(context.Background(), "root", func(x *task.Task) error { x.Error = marker; return nil }); err != nil {
			t.Fatal(err)
		}
		before := v.get("root")
		if _, err := v.e.Update(context.Background(), "d", cancel); err != nil {
			t.Fatal(err)
		}
		if after := v.get("root"); after.Error != before.Error {
			t.Errorf("root's marker %q became %q after an unrelated update", before.Error, after.Error)
		}
		// Once root no longer depends on x, the marker naming x goes.
		got, err := v.e.Update(context.Background(), "root", func(x *task.Task) error { x.Dependencies = nil; return nil })
		if err != nil || got.Error != "" {
			t.Errorf("root without its dependency on x: %+v, %v; want its marker gone", got, err)
		}
	})
	t.Run("markers not written", func(t *testing.T) {
		t.Parallel()
		ms := memstore.New()
		v := setupStore(t, ms)
		v.create(spec{id: "root"}, spec{id: "a"}, spec{id: "b", deps: req("a")})
		v.e.cfg.Store = treeFails{ms}
		got, err := v.e.Update(context.Background(), "a", cancel)
		if err != nil || got.Status != task.Cancelled {
			t.Fatalf("Update = %+v, %v; want the cancel answered, written", got, err)
		}
	})
}

// treeFails is a store whose Tree fails.
type treeFails struct{ store.Store }

func (treeFails) Tree(context.Context, string) ([]*task.Task, error) {
	return nil, errors.New("database gone")
}

func TestAlreadyRunning(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "root", params: map[string]any{"block": true}}, spec{id: "child"})
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{root, "child"} {
		_, err = v.e.Start(context.Background(), id, RunOptions{})
		e := apferr.As(err)
		if e == nil || e.Code != apferr.AlreadyExecuting || e.Data.(map[string]any)["status"] != "already_running" {
			t.Fatalf("second Start(%s) = %v, want already_running", id, err)
		}
	}
	if infos := v.e.Running(); len(infos) != 1 || infos[0].RootID != root {
		t.Fatalf("Running = %+v", infos)
	}
	if _, err := v.e.Cancel(context.Background(), root, ""); err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	if len(v.e.Running()) != 0 {
		t.Fatal("run still listed after it ended")
	}
}

func TestRerunSemantics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      RunOptions
		wantExecs map[string]int
	}{
		// After the first run: a, b completed; c failed; d and root blocked.
		{"completed kept", RunOptions{}, map[string]int{"root": 1, "a": 1, "b": 1, "c": 2, "d": 1}},
		{"full", RunOptions{Full: true}, map[string]int{"root": 1, "a": 2, "b": 2, "c": 2, "d": 1}},
		// Only b and what it needs (a, kept); the root cannot run while d is unfinished.
		{"task only", RunOptions{TaskID: "b"}, map[string]int{"root": 0, "a": 1, "b": 2, "c": 1, "d": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t)
			root := v.create(
				spec{id: "root", deps: opt("d")},
				spec{id: "a"},
				spec{id: "b", deps: req("a")},
				spec{id: "c"},
				spec{id: "d", deps: req("c")},
			)
			v.cat.failOnce["c"] = true
			first := v.run(root, RunOptions{})
			v.wantStatus("c", task.Failed)
			v.wantStatus("d", task.Pending)
			res := v.run(root, tc.opts)
			again := int64(0)
			for id, want := range tc.wantExecs {
				if got := v.cat.executions[id]; got != want {
					t.Errorf("%s executed %d times, want %d", id, got, want)
				}
				again += int64(want)
			}
			if first.Executed != 3 || res.Executed != again-3 {
				t.Errorf("the runs executed %d, then %d tasks, want 3, then %d", first.Executed, res.Executed, again-3)
			}
			if tc.opts.TaskID == "" {
				for id := range tc.wantExecs {
					v.wantStatus(id, task.Completed)
				}
				// The tree completed: a re-run finds nothing to do.
				if res := v.run(root, RunOptions{}); res.Executed != 0 || res.Counts[task.Completed] != 5 {
					t.Errorf("a re-run of the completed tree executed %d tasks (counts %v), want none", res.Executed, res.Counts)
				}
			}
		})
	}
}

// TestRerunAfterAResetRunsDownstream: a completed task put back to pending (by
// tasks.update) runs again at the tree's next run, and so does everything downstream of
// it, whose results came from its old one; tasks beside it keep theirs.
func TestRerunAfterAResetRunsDownstream(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", deps: req("b")},
		spec{id: "a"},
		spec{id: "b", deps: req("a")},
		spec{id: "side"},
	)
	v.run(root, RunOptions{})
	v.wantStatus("root", task.Completed)
	if _, err := v.e.Update(context.Background(), "a", func(x *task.Task) error { return x.Reset(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	res := v.run(root, RunOptions{})
	for id, want := range map[string]int{"a": 2, "b": 2, "root": 2, "side": 1} {
		if got := v.cat.executions[id]; got != want {
			t.Errorf("%s executed %d times, want %d", id, got, want)
		}
		v.wantStatus(id, task.Completed)
	}
	if res.Executed != 3 {
		t.Errorf("the re-run executed %d tasks, want 3", res.Executed)
	}
}

func TestClone(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", method: "aggregate_results_executor", deps: req("mid")},
		spec{id: "up"},
		spec{id: "mid", deps: req("up")},
		spec{id: "leaf", parent: "mid", deps: opt("mid")},
	)
	v.run(root, RunOptions{})
	copies, err := v.e.Clone(context.Background(), "mid", CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 3 {
		t.Fatalf("copied %d tasks, want mid, leaf and the upstream up", len(copies))
	}
	byOrig := map[string]*task.Task{}
	for _, c := range copies {
		byOrig[c.OriginalTaskID] = c
		if c.Status != task.Pending || c.Result != nil || !c.StartedAt.IsZero() || c.OriginType != "copy" || c.Attempts != 0 {
			t.Fatalf("copy %s not reset: %+v", c.ID, c)
		}
	}
	nr := byOrig["mid"]
	if copies[0] != nr || nr.ParentID != "" || nr.TaskTreeID != nr.ID {
		t.Fatalf("new root = %+v, want the copy of mid as root", nr)
	}
	if byOrig["leaf"].ParentID != nr.ID || byOrig["up"].ParentID != nr.ID {
		t.Fatal("copies not attached to the new root")
	}
	if d := nr.Dependencies; len(d) != 1 || d[0].ID != byOrig["up"].ID || !d[0].Required {
		t.Fatalf("deps not remapped: %+v", d)
	}
	if !v.get("mid").HasReferences || !v.get("up").HasReferences {
		t.Fatal("sources not marked has_references")
	}
	res := v.run(nr.ID, RunOptions{})
	if res.Status != task.Completed || res.Counts[task.Completed] != 3 {
		t.Fatalf("clone run = %+v", res)
	}
	// Shallow: only the task (a root copy of a leaf).
	copies, err = v.e.Clone(context.Background(), "up", CloneOptions{Shallow: true})
	if err != nil || len(copies) != 1 {
		t.Fatalf("shallow clone = %v, %v", copies, err)
	}
}

func TestRecoverResumesInterruptedRun(t *testing.T) {
	t.Parallel()
	v := setup(t)
	tasks := buildTree([]spec{
		{id: "root", deps: req("b")},
		{id: "a", status: task.Completed},
		{id: "b", deps: req("a"), status: task.InProgress},
		{id: "other", status: task.Failed},
	})
	now := time.Now().UTC()
	tasks[1].Result, tasks[1].CompletedAt, tasks[1].StartedAt, tasks[1].Attempts = map[string]any{"v": "kept"}, now, now, 1
	tasks[2].StartedAt, tasks[2].Attempts = now, 1
	tasks[3].Error, tasks[3].StartedAt, tasks[3].CompletedAt, tasks[3].Attempts = "old failure", now, now, 1
	if err := v.st.Create(context.Background(), tasks); err != nil {
		t.Fatal(err)
	}
	// An untouched tree is not started by recovery.
	v.create(spec{id: "fresh"})
	if err := v.e.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "resumed run", func() bool { return v.get("root").Status == task.Completed })
	if v.cat.executions["a"] != 0 {
		t.Fatal("completed task ran again after recovery")
	}
	if b := v.wantStatus("b", task.Completed); b.Attempts != 2 {
		t.Fatalf("b attempts = %d, want 2 (the interrupted one counted)", b.Attempts)
	}
	v.wantStatus("other", task.Failed) // a resume does not retry failures
	waitFor(t, "run to end", func() bool { return len(v.e.Running()) == 0 })
	v.wantStatus("fresh", task.Pending)
}

// staleStatusIndex is a store whose status index lists its pending tasks as in_progress
// too, as a store damaged outside apflow can.
type staleStatusIndex struct{ store.Store }

func (s staleStatusIndex) List(ctx context.Context, f store.Filter) ([]*task.Task, int, error) {
	if f.Status == task.InProgress {
		f.Status = task.Pending
	}
	return s.Store.List(ctx, f)
}

// repairableIndex is staleStatusIndex with RepairIndex: a repaired task is no longer
// listed as in_progress.
type repairableIndex struct {
	staleStatusIndex
	mu       sync.Mutex
	repaired map[string]bool
}

func (s *repairableIndex) RepairIndex(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repaired[id] = true
	return nil
}

func (s *repairableIndex) List(ctx context.Context, f store.Filter) ([]*task.Task, int, error) {
	page, n, err := s.staleStatusIndex.List(ctx, f)
	if err != nil || f.Status != task.InProgress {
		return page, n, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var kept []*task.Task
	for _, t := range page {
		if !s.repaired[t.ID] {
			kept = append(kept, t)
		}
	}
	return kept, len(kept), nil
}

// TestRecoverMendsAStaleStatusIndex: tasks the store lists as in_progress but returns
// pending are not reset again and again: their entries are repaired when the store can,
// else they are passed over.
func TestRecoverMendsAStaleStatusIndex(t *testing.T) {
	t.Parallel()
	if clusterMode() {
		t.Skip("the cluster recovers through its claims, not the status index")
	}
	tests := []struct {
		name   string
		wrap   func(store.Store) store.Store
		mended []string
	}{
		{"passed over", func(st store.Store) store.Store { return staleStatusIndex{st} }, nil},
		{"repaired", func(st store.Store) store.Store {
			return &repairableIndex{staleStatusIndex: staleStatusIndex{st}, repaired: map[string]bool{}}
		}, []string{"child", "root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := memstore.New()
			t.Cleanup(func() { _ = mem.Close() })
			st := tt.wrap(mem)
			v := setupStore(t, st)
			v.create(spec{id: "root"}, spec{id: "child", parent: "root"})
			done := make(chan error, 1)
			go func() { done <- v.e.Recover(t.Context()) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Recover did not return: it listed the same tasks again and again")
			}
			v.wantStatus("root", task.Pending)
			v.wantStatus("child", task.Pending)
			if r, ok := st.(*repairableIndex); ok {
				got := slices.Sorted(maps.Keys(r.repaired))
				if !slices.Equal(got, tt.mended) {
					t.Errorf("repaired %v, want %v", got, tt.mended)
				}
			}
		})
	}
}

func TestCloseResetsRunningTasksToPending(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "root"}, spec{id: "slow", params: map[string]any{"block": true}})
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slow to run", func() bool { return indexOf(v.cat.startOrder(), "slow") >= 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := v.e.Close(ctx); err != nil {
		t.Fatalf("Close = %v, want nil: re-queueing running tasks is a normal shutdown", err)
	}
	<-run.Done()
	if !run.Result().Interrupted {
		t.Fatalf("result = %+v, want interrupted", run.Result())
	}
	s := v.wantStatus("slow", task.Pending)
	if s.Attempts != 1 || s.Blocked() {
		t.Fatalf("slow = %+v", s)
	}
	v.wantStatus("root", task.Pending)
	if _, err := v.e.Start(context.Background(), root, RunOptions{}); err != ErrClosed {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}

	// A new engine on the same store resumes the run.
	v2 := setupStore(t, v.st)
	v2.cat.failOnce = map[string]bool{}
	if err := v2.e.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	// slow blocks again: cancel it to finish, proving it was restarted.
	waitFor(t, "slow restarted", func() bool { return indexOf(v2.cat.startOrder(), "slow") >= 0 })
	if _, err := v2.e.Cancel(context.Background(), "slow", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "root", func() bool { return v2.get("root").Status == task.Completed })
	if s := v2.get("slow"); s.Attempts != 2 {
		t.Fatalf("slow attempts = %d, want 2", s.Attempts)
	}
}

func TestChain100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-task chain: slow in -short mode")
	}
	t.Parallel()
	v := setup(t, withConcurrency(4))
	n := 100_000
	if clusterMode() {
		n = 2_000 // every hop is a few database round trips: the length is the point here
	}
	specs := make([]spec, 0, n+1)
	specs = append(specs, spec{id: "root", deps: req("t" + itoa(n-1))})
	for i := 0; i < n; i++ {
		s := spec{id: "t" + itoa(i), method: "noop"}
		if i > 0 {
			s.deps = req("t" + itoa(i-1))
		}
		specs = append(specs, s)
	}
	specs[0].method = "noop"
	// One submission: the store stores what exceeds a transaction in chunks, atomically.
	if err := v.st.Create(context.Background(), buildTree(specs)); err != nil {
		t.Fatal(err)
	}
	// 100,000 hops take about 10 s, and several times that under the race detector.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := v.e.Execute(ctx, "root", RunOptions{})
	if err != nil {
		t.Fatalf("Execute(root): %v", err)
	}
	if res.Status != task.Completed || res.Counts[task.Completed] != n+1 {
		t.Fatalf("result = status %s counts %v", res.Status, res.Counts)
	}
}

func itoa(i int) string {
	b := []byte{}
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
