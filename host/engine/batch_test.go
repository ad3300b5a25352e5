package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// recordingWriter records its calls in a shared log and stores nothing.
type recordingWriter struct{ log *[]string }

func (w recordingWriter) writeMany(_ context.Context, ws []write) ([]*task.Task, error) {
	*w.log = append(*w.log, fmt.Sprintf("write %d", len(ws)))
	out := make([]*task.Task, len(ws))
	for i, x := range ws {
		out[i] = &task.Task{ID: x.m.ID}
	}
	return out, nil
}

// recordingLogs is a store of logs that records in a shared log the appends queued in
// it and the waits for them.
type recordingLogs struct {
	*memstore.Store
	log *[]string
}

func (r recordingLogs) QueueLogs(ctx context.Context, appends []store.LogAppend, b store.LogBounds) func() []store.LogAppended {
	for _, a := range appends {
		*r.log = append(*r.log, "queue "+a.TaskID)
	}
	wait := r.Store.QueueLogs(ctx, appends, b)
	return func() []store.LogAppended {
		*r.log = append(*r.log, "wait")
		return wait()
	}
}

// TestBatchHeldLogs: the log lines held by a round's outcomes are queued together just
// before its first transaction, waited for and published once it is committed and
// before any after function, also in a round without writes, and before the round's
// then functions.
func TestBatchHeldLogs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		writes int
		want   []string
	}{
		{"no write", 0, []string{"queue l1", "queue l2", "wait", "published l1", "published l2", "then"}},
		{"one transaction", 2, []string{"queue l1", "queue l2", "write 2", "wait", "published l1", "published l2",
			"after t0", "after t1", "then"}},
		{"two transactions", maxBatch + 1, nil}, // checked below: the logs right after the first
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var log []string
			mem := memstore.New()
			t.Cleanup(func() { _ = mem.Close() })
			logs := newTaskLogs(recordingLogs{mem, &log}, store.LogBounds{}, time.Now, hclog.NewNullLogger(),
				func(_, taskID string, _ []store.LogLine) { log = append(log, "published "+taskID) })
			t.Cleanup(func() { logs.close(context.Background()) })
			var b batch
			for i := range c.writes {
				b.add(fmt.Sprintf("t%d", i), func(*task.Task) error { return nil }, func(st *task.Task, err error) {
					if len(log) < 10 {
						log = append(log, "after "+st.ID)
					}
				})
			}
			for _, id := range []string{"l1", "l2"} {
				logs.add("r", id, store.LogLine{Time: time.Now(), Source: "executor", Level: "info", Message: "line of " + id})
				b.holdLogs(logs.hold(context.Background(), id))
			}
			b.then(func() { log = append(log, "then") })
			if b.empty() {
				t.Fatal("a batch with held lines is empty")
			}
			b.commit(context.Background(), recordingWriter{&log})
			if c.want == nil {
				c.want = []string{"queue l1", "queue l2", fmt.Sprintf("write %d", maxBatch), "wait", "published l1", "published l2", "after t0"}
				log = log[:len(c.want)]
			}
			if !slices.Equal(log, c.want) {
				t.Fatalf("calls %v, want %v", log, c.want)
			}
			if !b.empty() {
				t.Fatal("the batch is not empty after its commit")
			}
			for _, id := range []string{"l1", "l2"} {
				if got, _, err := mem.Logs(context.Background(), id, 0, 10); err != nil || len(got) != 1 || got[0].Message != "line of "+id {
					t.Fatalf("lines of %s stored: %v, %v", id, got, err)
				}
			}
		})
	}
}
