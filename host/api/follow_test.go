package api

import (
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestFollowEndsWhenKeepAliveFails checks that a follower whose keepalive can no longer
// be written (the stream broke without its request context ending) stops following
// instead of holding its goroutine until the run's next event.
func TestFollowEndsWhenKeepAliveFails(t *testing.T) {
	t.Parallel()
	s := &Server{cfg: Config{KeepAlive: time.Millisecond}, closing: make(chan struct{})}
	events := make(chan engine.Event) // no event ever comes
	done := make(chan struct{})       // the run never ends
	got := make(chan followEnd, 1)
	go func() {
		got <- s.followRun(follower{rootID: "r", events: events, done: done,
			emit:      func(map[string]any) bool { return true },
			keepAlive: func() bool { return false }})
	}()
	select {
	case end := <-got:
		if end != followerLeft {
			t.Fatalf("followRun = %v, want followerLeft", end)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("followRun still following after its keepalive failed")
	}
}

type nodeOnly struct{ Cluster }

func (nodeOnly) NodeID() string { return "n1" }

// TestShutdownAnswerSaysWhereTheRunGoesOn: a tasks.execute still waiting when the server
// shuts down answers the task's status and where its run goes on: at the next start of a
// single server, on the other nodes of a cluster.
func TestShutdownAnswerSaysWhereTheRunGoesOn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cluster Cluster
		want    string
	}{
		{"single server", nil, "resumes when a server starts again"},
		{"cluster node", nodeOnly{}, "the cluster's other nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := memstore.New()
			t.Cleanup(func() { _ = st.Close() })
			r := &task.Task{ID: "r", TaskTreeID: "r", Name: "r", Status: task.Pending, Inputs: map[string]any{}}
			if err := st.Create(t.Context(), []*task.Task{r}); err != nil {
				t.Fatal(err)
			}
			s := &Server{cfg: Config{Store: st, Cluster: tt.cluster}, closing: make(chan struct{})}
			close(s.closing)
			res, err := s.awaitEnd(t.Context(), target{rootID: "r", taskID: "r"}, make(chan struct{}))
			if err != nil {
				t.Fatal(err)
			}
			got := res.(map[string]any)
			if msg, _ := got["message"].(string); !strings.Contains(msg, tt.want) || got["status"] != task.Pending {
				t.Fatalf("answer %v, want status pending and a message containing %q", got, tt.want)
			}
		})
	}
}
