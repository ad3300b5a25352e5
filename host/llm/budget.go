package llm

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Caller is who asks a model: the task the call is made for and the user who owns it.
// Budgets are counted by these ids; an empty id is counted against no budget.
type Caller struct {
	TaskID string
	UserID string
}

type callerKey struct{}

// WithCaller returns a context carrying the caller, read by Budgeted.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries, and whether it carries one.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Budgeted wraps c in token budgets: perTask tokens per task and perUser tokens per user
// (input and output tokens together, as the provider reported them; 0 is unlimited). The
// caller is read from the context (WithCaller). A call whose task or user has already
// spent its budget is refused with ErrBudget before the provider is asked; the answer's
// usage is recorded after. With both budgets 0, Budgeted returns c itself.
//
// Pitfalls, by design:
//   - The counts live in memory, per process: they start at zero when the process starts,
//     and each node of a cluster counts its own calls only.
//   - A task's count covers its whole life in this process (every attempt); it is never
//     reset, so memory grows with the number of distinct tasks and users that asked.
//   - The check is made before the call and the usage is known only after, so the calls
//     in flight when a budget is reached, and the last answer itself, may overshoot it.
//   - A call with no caller, or with an empty id, is bounded by no budget of that kind.
//   - A failed call records nothing, unless its error is an *AnswerError (an answer
//     that spent tokens but cannot be used): its usage is recorded.
func Budgeted(c Completer, perTask, perUser int64) Completer {
	if perTask <= 0 && perUser <= 0 {
		return c
	}
	return &budgeted{next: c, perTask: perTask, perUser: perUser, task: map[string]int64{}, user: map[string]int64{}}
}

type budgeted struct {
	next             Completer
	perTask, perUser int64

	mu   sync.Mutex
	task map[string]int64 // tokens spent by task id
	user map[string]int64 // tokens spent by user id
}

// Complete refuses with ErrBudget when the caller's task or user has spent its budget,
// otherwise asks the wrapped Completer and records the answer's usage.
func (b *budgeted) Complete(ctx context.Context, req Request) (*Response, error) {
	caller, _ := CallerFrom(ctx)
	if err := b.check(caller); err != nil {
		return nil, err
	}
	resp, err := b.next.Complete(ctx, req)
	var ae *AnswerError
	switch {
	case resp != nil:
		b.record(caller, resp.Usage.InputTokens+resp.Usage.OutputTokens)
	case errors.As(err, &ae):
		b.record(caller, ae.Usage.InputTokens+ae.Usage.OutputTokens)
	}
	return resp, err
}

func (b *budgeted) check(c Caller) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perTask > 0 && c.TaskID != "" && b.task[c.TaskID] >= b.perTask {
		return fmt.Errorf("%w: task %s spent %d of its %d tokens", ErrBudget, c.TaskID, b.task[c.TaskID], b.perTask)
	}
	if b.perUser > 0 && c.UserID != "" && b.user[c.UserID] >= b.perUser {
		return fmt.Errorf("%w: user %s spent %d of their %d tokens", ErrBudget, c.UserID, b.user[c.UserID], b.perUser)
	}
	return nil
}

func (b *budgeted) record(c Caller, tokens int64) {
	if tokens <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perTask > 0 && c.TaskID != "" {
		b.task[c.TaskID] += tokens
	}
	if b.perUser > 0 && c.UserID != "" {
		b.user[c.UserID] += tokens
	}
}
