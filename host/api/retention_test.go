package api

import (
	"context"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/submit"
)

// heldTree is a one-task tree whose task runs the executor gate of setupRetention.
const heldTree = `[{"id":"w-root","name":"w-root","schemas":{"method":"gate"},"inputs":{"x":1}}]`

// TestWaitingCallHoldsNoSubmission: a call that waits for the run of the tree it
// submitted (tasks.execute of inline tasks, with or without idempotency_key, and A2A
// message/send) holds neither the tasks' JSON it prepared nor the decoded tree once the
// run has started. Through apflow serve, a 100,000-task tasks.execute held some 70 MB of
// them for the whole run (docs/performance.md, twenty-fourth pass); the keyed call, which
// did not, is kept to. The request's own params are TestCallTakesTheParams's.
func TestWaitingCallHoldsNoSubmission(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path, body string
	}{
		{"tasks.execute", "/tasks",
			`{"jsonrpc":"2.0","id":1,"method":"tasks.execute","params":{"tasks":` + heldTree + `}}`},
		{"tasks.execute with idempotency_key", "/tasks",
			`{"jsonrpc":"2.0","id":1,"method":"tasks.execute","params":{"idempotency_key":"k1","tasks":` + heldTree + `}}`},
		{"message/send", "/",
			`{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"parts":[{"kind":"data","data":{"tasks":` + heldTree + `}}]}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, freed, started, release := setupRetention(t)
			type answer struct {
				body []byte
				err  error
			}
			answered := make(chan answer, 1)
			go func() {
				resp, err := e.http.Client().Post(e.http.URL+tc.path, "application/json", strings.NewReader(tc.body))
				if err != nil {
					answered <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				answered <- answer{b, err}
			}()
			awaitStart(t, started)
			left := awaitFreed(freed, "the submission's JSON", "the submitted tree")
			release()
			a := <-answered
			if len(left) > 0 {
				t.Errorf("while the run went on, the call still held %v", left)
			}
			var r struct {
				Result json.RawMessage `json:"result"`
			}
			if a.err != nil || json.Unmarshal(a.body, &r) != nil || len(r.Result) == 0 {
				t.Fatalf("answer %s, %v", a.body, a.err)
			}
		})
	}
}

// TestCallTakesTheParams: the JSON-RPC handlers take a request's params from it, so
// that their caller, which holds the request until the call ends to answer it, does
// not hold the params (a whole submission) while the call waits for its run.
func TestCallTakesTheParams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method string
		params string
		call   func(s *Server, ctx context.Context, req *jsonrpc.Request)
	}{
		{"invoke", "tasks.execute", `{"tasks":` + heldTree + `}`, func(s *Server, ctx context.Context, req *jsonrpc.Request) {
			_, _ = s.invoke(ctx, endpointTasks, req, true)
		}},
		{"a2aInvoke", "message/send", `{"message":{"parts":[{"kind":"data","data":{"tasks":` + heldTree + `}}]}}`,
			func(s *Server, ctx context.Context, req *jsonrpc.Request) { _, _ = s.a2aInvoke(ctx, req) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, started, release := setupRetention(t)
			params := []byte(tc.params)
			freed := make(chan string, 1)
			runtime.AddCleanup(&params[0], func(what string) { freed <- what }, "the request's params")
			req := &jsonrpc.Request{Method: tc.method, Params: params, ID: json.RawMessage("1")}
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.call(e.srv, t.Context(), req)
			}()
			awaitStart(t, started)
			left := awaitFreed(freed, "the request's params")
			release()
			<-done
			if len(left) > 0 {
				t.Errorf("while the run went on, %s held %v", tc.name, left)
			}
			runtime.KeepAlive(req) // held as rpcHandler and handleA2A hold it
		})
	}
}

// setupRetention returns a server whose submissions report on freed when the collector
// takes their JSON and their tree, and whose executor gate reports on started, then
// waits for release (called at the test's end at the latest).
func setupRetention(t *testing.T) (e *env, freed chan string, started chan struct{}, release func()) {
	freed, started = make(chan string, 4), make(chan struct{}, 1)
	gate := make(chan struct{})
	release = sync.OnceFunc(func() { close(gate) })
	e = setup(t, setupOpts{mutate: func(cfg *Config) {
		prepare := cfg.Prepare
		cfg.Prepare = func(ctx context.Context, data []byte, owner Owner) (*submit.Tree, error) {
			runtime.AddCleanup(&data[0], func(what string) { freed <- what }, "the submission's JSON")
			tree, err := prepare(ctx, data, owner)
			if tree != nil {
				runtime.AddCleanup(tree, func(what string) { freed <- what }, "the submitted tree")
			}
			return tree, err
		}
	}})
	e.cat.mu.Lock()
	e.cat.m["gate"] = &testExec{info: &executor.Info{ID: "gate", Name: "gate", Kind: "builtin"},
		run: func(ctx context.Context, _ *executor.Request) (any, error) {
			started <- struct{}{}
			select {
			case <-gate:
				return map[string]any{"ok": true}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}}
	e.cat.mu.Unlock()
	t.Cleanup(release) // before setup's cleanup, which waits for the calls in progress
	return e, freed, started, release
}

func awaitStart(t *testing.T, started <-chan struct{}) {
	t.Helper()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not start in 10s")
	}
}

// awaitFreed collects the collector for up to five seconds until freed has reported
// each of names, and returns those it did not report.
func awaitFreed(freed <-chan string, names ...string) map[string]bool {
	left := map[string]bool{}
	for _, n := range names {
		left[n] = true
	}
	for deadline := time.Now().Add(5 * time.Second); len(left) > 0 && time.Now().Before(deadline); {
		runtime.GC()
		select {
		case what := <-freed:
			delete(left, what)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return left
}
