package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"

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

// TestBatchAfterLogs: the waits for log lines queued ahead of a round run once its first
// transaction is committed and before any after function, also in a round without
// writes, and before the round's then functions.
func TestBatchAfterLogs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		writes int
		want   []string
	}{
		{"no write", 0, []string{"logs 1", "logs 2", "then"}},
		{"one transaction", 2, []string{"write 2", "logs 1", "logs 2", "after t0", "after t1", "then"}},
		{"two transactions", maxBatch + 1, nil}, // checked below: the logs right after the first
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var log []string
			var b batch
			for i := range c.writes {
				b.add(fmt.Sprintf("t%d", i), func(*task.Task) error { return nil }, func(st *task.Task, err error) {
					if len(log) < 10 {
						log = append(log, "after "+st.ID)
					}
				})
			}
			b.afterLogs(func() { log = append(log, "logs 1") })
			b.afterLogs(func() { log = append(log, "logs 2") })
			b.then(func() { log = append(log, "then") })
			if b.empty() {
				t.Fatal("a batch with log waits is empty")
			}
			b.commit(context.Background(), recordingWriter{&log})
			if c.want == nil {
				c.want = []string{fmt.Sprintf("write %d", maxBatch), "logs 1", "logs 2", "after t0"}
				log = log[:len(c.want)]
			}
			if !slices.Equal(log, c.want) {
				t.Fatalf("calls %v, want %v", log, c.want)
			}
			if !b.empty() {
				t.Fatal("the batch is not empty after its commit")
			}
		})
	}
}
