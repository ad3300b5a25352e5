package apflowtest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// recorder is a testing.TB that records failures instead of failing the real test.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// run calls fn with a recorder in its own goroutine (Fatalf exits it) and returns the
// recorded failures.
func run(t *testing.T, fn func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r.msgs
}

type in struct {
	N int `json:"n" jsonschema:"required,minimum=0"`
}

// setup returns a module whose output schema says "integer" but which returns a string
// for n == 13.
func setup(t *testing.T) *apflow.Module {
	t.Helper()
	m, err := apflow.NewModule(apflow.Executor[in, any]{
		ID: "liar", OutputSchema: `{"type": "integer"}`,
		Run: func(_ *apflow.Context, in in) (any, error) {
			if in.N == 13 {
				return "thirteen", nil
			}
			return in.N, nil
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHarnessCatchesSchemaViolations(t *testing.T) {
	t.Parallel()
	m := setup(t)
	tests := []struct {
		name   string
		inputs any
		want   string // substring of the single recorded failure; "" for none
	}{
		{"valid", map[string]any{"n": 1}, ""},
		{"inputs violate the input schema", map[string]any{"n": -1}, `inputs of "liar" do not match its input schema`},
		{"result violates the output schema", map[string]any{"n": 13}, `result of "liar" does not match its output schema`},
		{"unencodable inputs", map[string]any{"n": make(chan int)}, "encode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msgs := run(t, func(tb testing.TB) { apflowtest.For(tb, m).Execute(tt.inputs) })
			if tt.want == "" {
				if len(msgs) != 0 {
					t.Errorf("failures = %q, want none", msgs)
				}
				return
			}
			if len(msgs) != 1 || !strings.Contains(msgs[0], tt.want) {
				t.Errorf("failures = %q, want one containing %q", msgs, tt.want)
			}
		})
	}
}

func TestHarnessRejectsBadSchemas(t *testing.T) {
	t.Parallel()
	m, err := apflow.NewModule(apflow.Executor[in, int]{
		ID: "bad", InputSchema: `{"type": 5}`, Run: func(*apflow.Context, in) (int, error) { return 0, nil },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := run(t, func(tb testing.TB) { apflowtest.For(tb, m) })
	if len(msgs) != 1 || !strings.Contains(msgs[0], `input schema of "bad"`) {
		t.Errorf("failures = %q", msgs)
	}
}

func TestHostHTTPRefusals(t *testing.T) {
	t.Parallel()
	h := &apflowtest.Host{}
	if got := string(h.HTTPRequest([]byte(`{"url":"http://x/"}`))); !strings.Contains(got, "not granted") {
		t.Errorf("no handler: %s", got)
	}
	if got := string(h.HTTPRequest([]byte(`{`))); !strings.Contains(got, "invalid http_request") {
		t.Errorf("bad request: %s", got)
	}
	if _, ok := h.ConfigGet("k"); ok {
		t.Error("an unset key was found")
	}
	h.Progress(2)
	h.Progress(-1)
	if p := h.ProgressReports(); len(p) != 2 || p[0] != 1 || p[1] != 0 {
		t.Errorf("progress not clamped: %v", p)
	}
}
