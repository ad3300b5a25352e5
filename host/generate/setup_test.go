package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/submit"
)

// scripted is a fake llm.Completer: it answers each call with the next step of its
// script and records the requests.
type scripted struct {
	mu    sync.Mutex
	steps []step
	reqs  []llm.Request
}

// step is one scripted answer: content, or err.
type step struct {
	content string
	stop    string // the StopReason; "" for a complete answer
	err     error
}

func (s *scripted) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
	if len(s.steps) == 0 {
		return nil, fmt.Errorf("%w: the script has no more answers", llm.ErrProvider)
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if st.err != nil {
		return nil, st.err
	}
	return &llm.Response{Content: st.content, Model: "scripted", StopReason: st.stop, Usage: llm.Usage{InputTokens: 10, OutputTokens: 5}}, nil
}

func (s *scripted) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// testCatalog is an executor.Catalog of described executors that never run.
type testCatalog map[string]*executor.Info

type testHandle struct{ info *executor.Info }

func (h testHandle) Execute(context.Context, *executor.Request) (*executor.Response, error) {
	return nil, fmt.Errorf("%s: test executors do not run", h.info.ID)
}
func (h testHandle) Info() *executor.Info { return h.info }
func (h testHandle) Release()             {}

func (c testCatalog) Lookup(id string) (executor.Handle, error) {
	in, ok := c[id]
	if !ok {
		return nil, executor.NotFound(id)
	}
	return testHandle{in}, nil
}

func (c testCatalog) List() []*executor.Info {
	out := make([]*executor.Info, 0, len(c))
	for _, in := range c {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func newTestCatalog(t testing.TB) testCatalog {
	c := testCatalog{}
	add := func(id, desc, in, out string) {
		info := &executor.Info{ID: id, Description: desc, Kind: "builtin"}
		if in != "" {
			info.InputSchema = json.RawMessage(in)
			s, err := schema.Compile(id+".json", []byte(in), schema.Draft2020)
			if err != nil {
				t.Fatal(err)
			}
			info.Compiled = s
		}
		if out != "" {
			info.OutputSchema = json.RawMessage(out)
		}
		c[id] = info
	}
	add(AggregatorID, "Aggregates dependency task results into a single result", `{"type":"object"}`, `{"type":"object","properties":{"results":{"type":"object"}}}`)
	add("fetch_executor", "Fetches a URL", `{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`, `{"type":"object","properties":{"body":{"type":"string"}}}`)
	add("count_executor", "Counts words of a text", `{"type":"object","properties":{"text":{"type":"string"},"min":{"type":"integer","minimum":0}},"required":["text"]}`, "")
	add(ExecutorID, "Generates task trees", `{"type":"object"}`, "")
	return c
}

// setupOpts configure setup.
type setupOpts struct {
	steps []step
}

// setup returns a Generator over the test catalog, validated by submit.Prepare (as
// tasks.create), with ids id-1, id-2, …, and its scripted Completer.
func setup(t testing.TB, o setupOpts) (*Generator, *scripted) {
	t.Helper()
	cat := newTestCatalog(t)
	fake := &scripted{steps: o.steps}
	n := 0
	g, err := New(Config{
		Completer: fake,
		Catalog:   cat,
		Validate: func(ctx context.Context, tree []byte) error {
			_, err := submit.Prepare(ctx, tree, submit.Options{Catalog: cat})
			return err
		},
		NewID: func() string { n++; return fmt.Sprintf("id-%d", n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, fake
}
