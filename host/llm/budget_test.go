package llm_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
)

// countingCompleter answers every call with usage tokens and counts the calls.
type countingCompleter struct {
	usage llm.Usage
	calls atomic.Int64
}

func (c *countingCompleter) Complete(context.Context, llm.Request) (*llm.Response, error) {
	c.calls.Add(1)
	return &llm.Response{Content: "x", Usage: c.usage}, nil
}

func TestBudgeted(t *testing.T) {
	type call struct {
		caller llm.Caller
		want   error // nil or ErrBudget
	}
	a1 := llm.Caller{TaskID: "t1", UserID: "alice"}
	a2 := llm.Caller{TaskID: "t2", UserID: "alice"}
	b1 := llm.Caller{TaskID: "t3", UserID: "bob"}
	tests := []struct {
		name             string
		perTask, perUser int64
		calls            []call
	}{
		{name: "task budget", perTask: 20, calls: []call{{a1, nil}, {a1, nil}, {a1, llm.ErrBudget}, {a2, nil}}},
		{name: "user budget across tasks", perUser: 30, calls: []call{{a1, nil}, {a2, nil}, {a2, nil}, {a1, llm.ErrBudget}, {b1, nil}}},
		{name: "both: task first", perTask: 10, perUser: 100, calls: []call{{a1, nil}, {a1, llm.ErrBudget}, {a2, nil}}},
		{name: "both: user first", perTask: 100, perUser: 20, calls: []call{{a1, nil}, {a2, nil}, {a1, llm.ErrBudget}, {b1, nil}}},
		{name: "no caller: unbounded", perTask: 10, perUser: 10, calls: []call{{llm.Caller{}, nil}, {llm.Caller{}, nil}, {llm.Caller{}, nil}}},
		{name: "unlimited", calls: []call{{a1, nil}, {a1, nil}, {a1, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &countingCompleter{usage: llm.Usage{InputTokens: 7, OutputTokens: 3}} // 10 per call
			c := llm.Budgeted(next, tt.perTask, tt.perUser)
			var asked int64
			for i, cl := range tt.calls {
				ctx := context.Background()
				if cl.caller != (llm.Caller{}) {
					ctx = llm.WithCaller(ctx, cl.caller)
				}
				_, err := c.Complete(ctx, llm.Request{})
				if cl.want == nil {
					asked++
					if err != nil {
						t.Fatalf("call %d (%+v): %v", i, cl.caller, err)
					}
				} else if !errors.Is(err, cl.want) {
					t.Fatalf("call %d (%+v): err = %v, want %v", i, cl.caller, err, cl.want)
				}
			}
			if n := next.calls.Load(); n != asked {
				t.Errorf("provider asked %d times, want %d (a refused call must not reach it)", n, asked)
			}
		})
	}
}

func TestBudgetedConcurrentCallers(t *testing.T) {
	// 8 tasks of one user, each calling until refused: every task stops at its budget,
	// and the counts are not lost to races (the race detector watches the maps).
	next := &countingCompleter{usage: llm.Usage{InputTokens: 1, OutputTokens: 0}}
	const perTask, tasks = 50, 8
	c := llm.Budgeted(next, perTask, 1<<40)
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := llm.WithCaller(context.Background(), llm.Caller{TaskID: string(rune('a' + i)), UserID: "u"})
			for n := 0; ; n++ {
				if _, err := c.Complete(ctx, llm.Request{}); err != nil {
					if !errors.Is(err, llm.ErrBudget) || n != perTask {
						t.Errorf("task %d: refused after %d calls with %v, want ErrBudget after %d", i, n, err, perTask)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := next.calls.Load(); n != perTask*tasks {
		t.Errorf("provider asked %d times, want %d", n, perTask*tasks)
	}
}

func TestBudgetedThroughNew(t *testing.T) {
	s, c := setup(t, llm.ProviderOpenAI, func(c *llm.Config) { c.TaskTokenBudget = 15 })
	s.Reply("x")
	s.Usage(10, 5)
	ctx := llm.WithCaller(context.Background(), llm.Caller{TaskID: "t", UserID: "u"})
	if _, err := c.Complete(ctx, llm.Request{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(ctx, llm.Request{}); !errors.Is(err, llm.ErrBudget) {
		t.Fatalf("err = %v, want ErrBudget", err)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("provider got %d requests, want 1", n)
	}
}

func TestCallerFrom(t *testing.T) {
	if _, ok := llm.CallerFrom(context.Background()); ok {
		t.Errorf("caller found in an empty context")
	}
	want := llm.Caller{TaskID: "t", UserID: "u"}
	if got, ok := llm.CallerFrom(llm.WithCaller(context.Background(), want)); !ok || got != want {
		t.Errorf("CallerFrom = %+v %v", got, ok)
	}
}

// A 2xx answer without content still spent tokens: the provider's error carries its usage
// (AnswerError) and Budgeted counts it.
func TestAnswerWithoutContentCountsUsage(t *testing.T) {
	bodies := map[string]string{
		llm.ProviderOpenAI:    `{"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}`,
		llm.ProviderAnthropic: `{"model":"m","usage":{"input_tokens":7,"output_tokens":3}}`,
	}
	for provider, body := range bodies {
		t.Run(provider, func(t *testing.T) {
			s, c := setup(t, provider, nil)
			s.ReplyRaw(200, body)
			_, err := c.Complete(context.Background(), llm.Request{})
			var ae *llm.AnswerError
			if !errors.As(err, &ae) || !errors.Is(err, llm.ErrProvider) {
				t.Fatalf("err = %v, want an AnswerError matching ErrProvider", err)
			}
			if ae.Usage != (llm.Usage{InputTokens: 7, OutputTokens: 3}) {
				t.Errorf("usage = %+v", ae.Usage)
			}
			ctx := llm.WithCaller(context.Background(), llm.Caller{TaskID: "t", UserID: "u"})
			b := llm.Budgeted(c, 10, 0)
			if _, err := b.Complete(ctx, llm.Request{}); !errors.Is(err, llm.ErrProvider) {
				t.Fatalf("first call: %v", err)
			}
			if _, err := b.Complete(ctx, llm.Request{}); !errors.Is(err, llm.ErrBudget) {
				t.Errorf("second call: %v, want ErrBudget (the empty answer's 10 tokens counted)", err)
			}
		})
	}
}

// recordingCompleter records the MaxTokens of each request it is asked and answers with
// input tokens plus an output of the whole allowance (fallback when the request sets
// none), or fails while fail is set.
type recordingCompleter struct {
	input, fallback int64
	fail            bool
	mu              sync.Mutex
	max             []int
}

func (c *recordingCompleter) Complete(_ context.Context, req llm.Request) (*llm.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = append(c.max, req.MaxTokens)
	if c.fail {
		return nil, llm.ErrProvider
	}
	out := int64(req.MaxTokens)
	if out == 0 {
		out = c.fallback
	}
	return &llm.Response{Usage: llm.Usage{InputTokens: c.input, OutputTokens: out}}, nil
}

func TestBudgetedCapsMaxTokens(t *testing.T) {
	alice := llm.Caller{TaskID: "t1", UserID: "alice"}
	type call struct {
		caller  llm.Caller
		max     int  // the request's MaxTokens
		fail    bool // the provider fails this call
		wantMax int  // what the provider sees; -1: refused with ErrBudget
	}
	tests := []struct {
		name             string
		perTask, perUser int64
		calls            []call
	}{
		{name: "0 capped to the remainder", perTask: 100, calls: []call{{alice, 0, false, 100}}},
		{name: "over the remainder capped", perTask: 100, calls: []call{{alice, 500, false, 100}}},
		{name: "under the remainder kept", perTask: 100, calls: []call{{alice, 30, false, 30}}},
		{name: "no budget applies: 0 kept", perTask: 100, calls: []call{{llm.Caller{}, 0, false, 0}, {llm.Caller{UserID: "alice"}, 500, false, 500}}},
		{name: "the smaller remainder", perTask: 100, perUser: 50, calls: []call{{alice, 0, false, 50}}},
		{name: "remainder after spending, then refused", perTask: 100,
			calls: []call{{alice, 40, false, 40}, {alice, 0, false, 50}, {alice, 0, false, -1}}}, // 10 input per call
		{name: "a failure releases its reservation", perTask: 100,
			calls: []call{{alice, 0, true, 100}, {alice, 0, false, 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &recordingCompleter{input: 10, fallback: 1000}
			c := llm.Budgeted(next, tt.perTask, tt.perUser)
			for i, cl := range tt.calls {
				next.fail = cl.fail
				asked := len(next.max)
				_, err := c.Complete(llm.WithCaller(context.Background(), cl.caller), llm.Request{MaxTokens: cl.max})
				if cl.wantMax < 0 {
					if !errors.Is(err, llm.ErrBudget) || len(next.max) != asked {
						t.Fatalf("call %d: err %v, provider asked: %v; want ErrBudget before asking", i, err, len(next.max) != asked)
					}
					continue
				}
				if (err != nil) != cl.fail {
					t.Fatalf("call %d: err %v", i, err)
				}
				if got := next.max[len(next.max)-1]; got != cl.wantMax {
					t.Errorf("call %d: provider saw max_tokens %d, want %d", i, got, cl.wantMax)
				}
			}
		})
	}
}

// Concurrent calls of one user cannot all pass the check: together they spend at most the
// budget plus one call's input tokens.
func TestBudgetedConcurrentCallsReserve(t *testing.T) {
	const budget, input, callers = 100, 5, 10
	var arrived sync.WaitGroup // each caller is in the provider or refused
	release := make(chan struct{})
	next := completerFunc(func(_ context.Context, req llm.Request) (*llm.Response, error) {
		arrived.Done()
		<-release
		out := int64(req.MaxTokens)
		if out == 0 {
			out = 50 // the provider's default
		}
		return &llm.Response{Usage: llm.Usage{InputTokens: input, OutputTokens: out}}, nil
	})
	c := llm.Budgeted(next, 0, budget)
	var spent atomic.Int64
	var done sync.WaitGroup
	arrived.Add(callers)
	for i := range callers {
		done.Add(1)
		go func() {
			defer done.Done()
			ctx := llm.WithCaller(context.Background(), llm.Caller{TaskID: string(rune('a' + i)), UserID: "u"})
			resp, err := c.Complete(ctx, llm.Request{})
			if err != nil {
				if !errors.Is(err, llm.ErrBudget) {
					t.Errorf("caller %d: %v", i, err)
				}
				arrived.Done()
				return
			}
			spent.Add(resp.Usage.InputTokens + resp.Usage.OutputTokens)
		}()
	}
	arrived.Wait()
	close(release)
	done.Wait()
	if got := spent.Load(); got > budget+input {
		t.Errorf("spent %d tokens, budget %d + one input %d", got, budget, input)
	}
}

type completerFunc func(context.Context, llm.Request) (*llm.Response, error)

func (f completerFunc) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	return f(ctx, req)
}

// Through New, a request with no bound gets the configured default bound when it is
// below the remainder: a large budget is never sent as max_tokens.
func TestBudgetedThroughNewKeepsDefaultBound(t *testing.T) {
	tests := []struct {
		provider string
		edit     func(*llm.Config)
		want     int
	}{
		{llm.ProviderAnthropic, func(c *llm.Config) { c.TaskTokenBudget = 200000 }, llm.DefaultMaxTokens},
		{llm.ProviderOpenAI, func(c *llm.Config) { c.TaskTokenBudget = 200000; c.MaxTokens = 300 }, 300},
		{llm.ProviderAnthropic, func(c *llm.Config) { c.TaskTokenBudget = 100 }, 100},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			s, c := setup(t, tt.provider, tt.edit)
			s.Reply("x")
			ctx := llm.WithCaller(context.Background(), llm.Caller{TaskID: "t", UserID: "u"})
			if _, err := c.Complete(ctx, llm.Request{}); err != nil {
				t.Fatal(err)
			}
			if got := s.Requests()[0].Request.MaxTokens; got != tt.want {
				t.Errorf("max_tokens sent %d, want %d", got, tt.want)
			}
		})
	}
}
