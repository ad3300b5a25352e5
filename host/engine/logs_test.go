package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// loggingCatalog wraps a catalog: before a task's executor runs, it logs the task's
// params.log lines (each "level message") through the request's logger, each "<ff>" in
// a message as the byte 0xFF, which is not UTF-8 (and which params, JSON, cannot carry).
type loggingCatalog struct{ executor.Catalog }

type loggingHandle struct{ executor.Handle }

func (c loggingCatalog) Lookup(id string) (executor.Handle, error) {
	h, err := c.Catalog.Lookup(id)
	if err != nil {
		return nil, err
	}
	return loggingHandle{h}, nil
}

func (h loggingHandle) Execute(ctx context.Context, req *executor.Request) (*executor.Response, error) {
	lines, _ := req.Task.Params["log"].([]any)
	for _, l := range lines {
		level, msg, _ := strings.Cut(l.(string), " ")
		msg = strings.ReplaceAll(msg, "<ff>", "\xff")
		req.Logger.With("stream", "apflow.log").Log(hclog.LevelFromString(level), msg, "n", 1)
	}
	return h.Handle.Execute(ctx, req)
}

// logHooks logs one line from each pre- and post-hook call, as hook "audit".
type logHooks struct{}

func (logHooks) Pre(ctx context.Context, t *task.Task, in map[string]any) (map[string]any, []error) {
	executor.HookLogger(ctx, "audit", hclog.NewNullLogger()).Info("pre " + t.ID)
	return nil, nil
}

func (logHooks) Post(ctx context.Context, t *task.Task, _ map[string]any, _ any) []error {
	executor.HookLogger(ctx, "audit", hclog.NewNullLogger()).Warn("post " + t.ID)
	return nil
}

func (logHooks) TreeEvent(context.Context, string, *task.Task, *task.TreeNode, string, string) {}

func withLogging(c *Config) { c.Catalog = loggingCatalog{c.Catalog} }

func withLogBounds(b store.LogBounds) option { return func(c *Config) { c.TaskLogs = b } }

// logsOf returns task id's stored lines as "attempt source level message".
func logsOf(t *testing.T, st store.TaskLogs, id string) []string {
	t.Helper()
	lines, _, err := st.Logs(context.Background(), id, 0, store.MaxLogRead)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, l := range lines {
		if i > 0 && l.Seq <= lines[i-1].Seq {
			t.Fatalf("seqs not increasing: %+v", lines)
		}
		out = append(out, fmt.Sprintf("%d %s %s %s", l.Attempt, l.Source, l.Level, l.Message))
	}
	return out
}

// TestTaskLogs: the lines an executor logs are stored with the task by the time its run
// ends, whatever the engine logger's level, within the bounds, across retries.
func TestTaskLogs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		params map[string]any
		opts   []option
		status task.Status
		want   []string
	}{
		{"completed", map[string]any{"log": []any{"debug counting", "info done"}}, nil, task.Completed,
			[]string{"1 executor debug counting stream=apflow.log n=1", "1 executor info done stream=apflow.log n=1"}},
		{"failed", map[string]any{"log": []any{"error boom"}, "fail": "no"}, nil, task.Failed,
			[]string{"1 executor error boom stream=apflow.log n=1"}},
		{"bounded", map[string]any{"log": []any{"info 1", "info 2", "info 3", "info 4"}},
			[]option{withLogBounds(store.LogBounds{MaxLines: 2})}, task.Completed,
			[]string{"1 executor info 3 stream=apflow.log n=1", "1 executor info 4 stream=apflow.log n=1"}},
		{"retried", map[string]any{"log": []any{"warn try"}, "fail_times": 1, "retry": quick(2)},
			nil, task.Completed,
			[]string{"1 executor warn try stream=apflow.log n=1", "2 executor warn try stream=apflow.log n=1"}},
		{"no lines", nil, nil, task.Completed, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			t.Cleanup(func() { _ = st.Close() })
			v := setupStore(t, st, append([]option{withLogging}, c.opts...)...)
			root := v.create(spec{id: "r", params: c.params})
			v.run(root, RunOptions{})
			if got := v.get("r"); got.Status != c.status {
				t.Fatalf("status %s (%s), want %s", got.Status, got.Error, c.status)
			}
			if got := logsOf(t, st, "r"); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestHostLogBoundedPerAttempt: a plugin that logs without end floods its task's log
// (up to the store's bounds) but not the host's: after maxForwardedLines, one line says
// where the rest go. Lines the host's logger does not show are not counted.
func TestHostLogBoundedPerAttempt(t *testing.T) {
	t.Parallel()
	var host logbuf.Buffer
	lines := make([]any, 0, 2*maxForwardedLines+40)
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("debug hidden %d", i)) // below the host's level
	}
	for i := range 2 * maxForwardedLines {
		lines = append(lines, fmt.Sprintf("warn line %d", i))
	}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	v := setupStore(t, st, withLogging, func(c *Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: &host, Level: hclog.Info})
	})
	v.run(v.create(spec{id: "r", params: map[string]any{"log": lines}}), RunOptions{})
	out := host.String()
	if n := strings.Count(out, "]  line "); n != maxForwardedLines {
		t.Errorf("the host's log has %d of the plugin's lines, want %d:\n%s", n, maxForwardedLines, out)
	}
	if !strings.Contains(out, fmt.Sprintf("more lines than %d: the rest go to the task's log only (apflow tasks logs r)", maxForwardedLines)) {
		t.Errorf("the host's log does not say where the rest went:\n%s", out)
	}
	if got := logsOf(t, st, "r"); len(got) != len(lines) {
		t.Errorf("the task's log has %d lines, want all %d", len(got), len(lines))
	}
}

// TestTaskLogsOfHooks: pre- and post-hook lines are kept with their task, named by hook;
// post-hook lines at the latest when the engine closes.
// A post-hook's lines belong to the attempt that ended, which a task with a retry policy
// has in its history by then.
func TestTaskLogsOfHooks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"no retry policy", map[string]any{"log": []any{"info run"}},
			[]string{"1 hook audit info pre r", "1 executor info run stream=apflow.log n=1", "1 hook audit warn post r"}},
		{"a retry policy, first attempt", map[string]any{"log": []any{"info run"}, "retry": quick(2)},
			[]string{"1 hook audit info pre r", "1 executor info run stream=apflow.log n=1", "1 hook audit warn post r"}},
		{"a retry policy, second attempt", map[string]any{"log": []any{"info run"}, "fail_times": 1, "retry": quick(2)},
			[]string{"1 hook audit info pre r", "1 executor info run stream=apflow.log n=1",
				"2 hook audit info pre r", "2 executor info run stream=apflow.log n=1", "2 hook audit warn post r"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			t.Cleanup(func() { _ = st.Close() })
			v := setupStore(t, st, withLogging, withHooks(logHooks{}))
			root := v.create(spec{id: "r", params: c.params})
			v.run(root, RunOptions{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := v.e.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if got := logsOf(t, st, "r"); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestTaskLogsEvents: stored lines are published as task_log events, as stored (a
// message that is not UTF-8 included) with their Seq, before the task's terminal status,
// whether the store queues the lines with the outcome or takes them before it.
func TestTaskLogsEvents(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		store  func() store.Store
		queues bool
	}{
		{"lines queued ahead of the outcome", func() store.Store { return memstore.New() }, true},
		{"lines appended before the outcome", func() store.Store { m := memstore.New(); return appendOnlyLogs{m, m} }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := c.store()
			if _, ok := st.(store.QueuedLogs); ok != c.queues {
				t.Fatalf("the store queues log appends: %v, want %v", ok, c.queues)
			}
			t.Cleanup(func() { _ = st.Close() })
			v := setupStore(t, st, withLogging)
			root := v.create(spec{id: "r", params: map[string]any{"log": []any{"info a<ff><ff>b", "info b"}}})
			ch, stop := v.e.Subscribe(root)
			defer stop()
			v.run(root, RunOptions{})
			var seqs []int64
			var published []store.LogLine
			for ev := range ch {
				if ev.Type == EventTaskStatus && ev.Status.Terminal() && len(seqs) != 2 {
					t.Fatalf("terminal status before the lines: seqs %v", seqs)
				}
				if ev.Type == EventTaskLog {
					if ev.TaskID != "r" || ev.RootID != root {
						t.Fatalf("task_log event %+v", ev)
					}
					for _, l := range ev.Logs {
						seqs = append(seqs, l.Seq)
					}
					published = append(published, ev.Logs...)
				}
				if ev.Type == EventRunEnd {
					break
				}
			}
			if fmt.Sprint(seqs) != "[1 2]" {
				t.Fatalf("published seqs %v, want [1 2]", seqs)
			}
			// Published as stored: a message that is not UTF-8 too.
			stored, _, err := st.(store.TaskLogs).Logs(context.Background(), "r", 0, store.MaxLogRead)
			if err != nil || fmt.Sprint(published) != fmt.Sprint(stored) || !strings.HasPrefix(stored[0].Message, "a\uFFFDb") {
				t.Fatalf("published %+v\nstored    %+v (%v)", published, stored, err)
			}
		})
	}
}

// appendOnlyLogs is a store whose log appends cannot be queued (as PostgreSQL's).
type appendOnlyLogs struct {
	store.Store
	store.TaskLogs
}

// TestTaskLogsDeleted: deleting a task deletes its lines.
func TestTaskLogsDeleted(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	v := setupStore(t, st, withLogging)
	root := v.create(spec{id: "r", params: map[string]any{"log": []any{"info a"}}}, spec{id: "c", params: map[string]any{"log": []any{"info b"}}})
	v.run(root, RunOptions{})
	if len(logsOf(t, st, "c")) != 1 {
		t.Fatal("no lines before the delete")
	}
	if _, err := v.e.Delete(context.Background(), root, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r", "c"} {
		if got := logsOf(t, st, id); len(got) != 0 {
			t.Fatalf("lines of deleted task %s: %v", id, got)
		}
	}
}

// TestTaskLogsOfDeletedTaskNotWrittenAfter: a line still waiting for the flush loop when
// its task is deleted (a post-hook's, logged as the run ended) is written before the
// delete, which takes it along, not after it, under the deleted id.
func TestTaskLogsOfDeletedTaskNotWrittenAfter(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	v := setupStore(t, st, withLogging, withHooks(logHooks{}))
	root := v.create(spec{id: "r"})
	v.run(root, RunOptions{})
	if _, err := v.e.Delete(context.Background(), root, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := v.e.Close(ctx); err != nil { // writes every line still waiting
		t.Fatal(err)
	}
	if got := logsOf(t, st, "r"); len(got) != 0 {
		t.Fatalf("lines of the deleted task r: %v", got)
	}
}

// TestTaskLogsGoWithTheStoresDelete: the engine's Delete takes the deleted tasks' lines
// (the store's Delete does, store.TaskLogs).
func TestTaskLogsGoWithTheStoresDelete(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	v := setupStore(t, st, withLogging)
	root := v.create(spec{id: "r", params: map[string]any{"log": []any{"info a"}}}, spec{id: "c"})
	v.run(root, RunOptions{})
	if got := logsOf(t, st, "r"); len(got) == 0 {
		t.Fatal("r logged no line")
	}
	if _, err := v.e.Delete(context.Background(), root, nil); err != nil {
		t.Fatal(err)
	}
	if got := logsOf(t, st, "r"); len(got) != 0 {
		t.Fatalf("lines of the deleted task r: %v", got)
	}
}

// TestTaskLogsCloseTwice: Close returns every time, whether the flush loop ran or not.
func TestTaskLogsCloseTwice(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		params map[string]any
	}{
		{"no lines", nil},
		{"lines", map[string]any{"log": []any{"info a"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, withLogging)
			v.run(v.create(spec{id: "r", params: c.params}), RunOptions{})
			for range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := v.e.Close(ctx)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// blockingLogs is a store whose appends of task "a" wait for release. Its appends are
// not queued (it is no store.QueuedLogs): each is made on its own, as a store with
// concurrent writers (PostgreSQL) makes them.
type blockingLogs struct {
	store.Store
	mem     *memstore.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingLogs) AppendLogs(ctx context.Context, id string, lines []store.LogLine, bo store.LogBounds) (int64, error) {
	if id == "a" {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.mem.AppendLogs(ctx, id, lines, bo)
}

func (b *blockingLogs) Logs(ctx context.Context, id string, after int64, limit int) ([]store.LogLine, bool, error) {
	return b.mem.Logs(ctx, id, after, limit)
}

// TestTaskLogsNoWaitForOthers: with a store whose appends are made on their own, while
// task a's append is stuck, task b completes, whether it logged nothing or logged lines
// of its own (the appends of different tasks do not wait for each other); a's status
// waits for its lines.
func TestTaskLogsNoWaitForOthers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		bParams map[string]any
		bLines  int
	}{
		{"b logs nothing", map[string]any{"sleep_ms": 20}, 0},
		{"b logs too", map[string]any{"sleep_ms": 20, "log": []any{"info b"}}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mem := memstore.New()
			t.Cleanup(func() { _ = mem.Close() })
			st := &blockingLogs{Store: mem, mem: mem, entered: make(chan struct{}, 1), release: make(chan struct{})}
			var once sync.Once
			unblock := func() { once.Do(func() { close(st.release) }) }
			v := setupStore(t, st, withLogging)
			t.Cleanup(unblock) // runs before the engine's Close
			root := v.create(spec{id: "r", deps: req("a", "b")}, spec{id: "a", params: map[string]any{"log": []any{"info a"}}},
				spec{id: "b", params: c.bParams})
			res := make(chan RunResult, 1)
			go func() { res <- v.run(root, RunOptions{}) }()
			<-st.entered
			deadline := time.Now().Add(30 * time.Second)
			for v.get("b").Status != task.Completed {
				if time.Now().After(deadline) {
					t.Fatal("b did not complete while a's log append was stuck")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if got := logsOf(t, mem, "b"); len(got) != c.bLines {
				t.Fatalf("lines of b once completed: %v", got)
			}
			if s := v.get("a").Status; s != task.InProgress {
				t.Fatalf("a is %s before its lines are stored", s)
			}
			unblock()
			<-res
			if got := logsOf(t, mem, "a"); len(got) != 1 {
				t.Fatalf("lines of a: %v", got)
			}
		})
	}
}

// queueingLogs records the tasks whose lines were queued ahead of a write.
type queueingLogs struct {
	*memstore.Store
	mu     sync.Mutex
	queued map[string]int // lines by task
}

func (q *queueingLogs) QueueLogs(ctx context.Context, appends []store.LogAppend, b store.LogBounds) func() []store.LogAppended {
	q.mu.Lock()
	for _, a := range appends {
		q.queued[a.TaskID] += len(a.Lines)
	}
	q.mu.Unlock()
	return q.Store.QueueLogs(ctx, appends, b)
}

// TestTaskLogsQueuedWithTheOutcome: with a store that can queue appends, a task's last
// lines are queued ahead of its outcome (to share its commit), not appended on their own
// before it; every line is stored.
func TestTaskLogsQueuedWithTheOutcome(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	st := &queueingLogs{Store: mem, queued: map[string]int{}}
	v := setupStore(t, st, withLogging)
	specs := []spec{{id: "c0", params: map[string]any{"log": []any{"info c0"}}}}
	for i := 1; i < 10; i++ {
		id := fmt.Sprintf("c%d", i)
		specs = append(specs, spec{id: id, deps: req(fmt.Sprintf("c%d", i-1)), params: map[string]any{"log": []any{"info " + id}}})
	}
	root := v.create(specs...)
	if res := v.run(root, RunOptions{}); res.Status != task.Completed {
		t.Fatalf("run: %+v", res)
	}
	st.mu.Lock()
	queued := len(st.queued)
	st.mu.Unlock()
	// The background flush may take a task's line first, once in a while.
	if queued < 9 {
		t.Fatalf("lines queued ahead of the outcome for %d tasks of 10: %v", queued, st.queued)
	}
	for i := range 10 {
		id := fmt.Sprintf("c%d", i)
		if got := logsOf(t, mem, id); len(got) != 1 || !strings.HasSuffix(got[0], "info "+id+" stream=apflow.log n=1") {
			t.Fatalf("lines of %s: %v", id, got)
		}
	}
}
