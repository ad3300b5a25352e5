package api

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/apflow-wasm/apflow/host/engine"
)

// TestSubscriberThatNeverReads: a subscriber (a stalled SSE client or webhook) that stops
// reading with its buffer full and then unsubscribes leaves no goroutine behind.
func TestSubscriberThatNeverReads(t *testing.T) {
	e := setup(t, setupOpts{})
	// Enough tasks for more events than two subscriber buffers hold.
	const n = 600
	tasks := []map[string]any{{"id": "nr-root", "name": "nr-root", "schemas": map[string]any{"method": "echo"}}}
	for i := range n {
		tasks = append(tasks, map[string]any{"id": fmt.Sprintf("nr-%d", i), "name": fmt.Sprintf("nr-%d", i),
			"parent_id": "nr-root", "schemas": map[string]any{"method": "echo"}})
	}
	e.ok(t, "", "tasks.create", tasks, nil)
	before := runtime.NumGoroutine()

	_, unsub := e.srv.cfg.Engine.Subscribe("nr-root") // never read
	res, err := e.eng.Execute(context.Background(), "nr-root", engine.RunOptions{})
	if err != nil || res.Status != "completed" {
		t.Fatalf("run: %v %+v", err, res)
	}
	unsub()
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}
