package llm

import (
	"context"
	"errors"
	"fmt"
	"math"
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
// caller is read from the context (WithCaller). With both budgets 0, Budgeted returns c
// itself.
//
// When a budget applies to the call, its request's MaxTokens is capped at what remains
// of the task's and the user's budgets (the smaller; a MaxTokens of 0, the provider's
// default, is set to it), and a call with nothing left is refused with ErrBudget before
// the provider is asked. The capped MaxTokens is reserved, counted against the task and
// the user while the call runs, so concurrent calls cannot all spend the same remainder;
// after the call the reservation is released and the answer's usage recorded.
//
// Pitfalls, by design:
//   - Input tokens are known only after the call: a request's input can exceed the
//     remainder, so a budget can be overshot by at most one call's input tokens (per call
//     running when it is reached).
//   - The counts live in memory, per process: they start at zero when the process starts,
//     and each node of a cluster counts its own calls only.
//   - A task's count covers its whole life in this process (every attempt); it is never
//     reset, so memory grows with the number of distinct tasks and users that asked.
//   - A call with no caller, or with an empty id, is bounded by no budget of that kind;
//     with no budget applying at all, its MaxTokens is left as is.
//   - A failed call releases its reservation and records nothing, unless its error is an *AnswerError (an answer
//     that spent tokens but cannot be used): its usage is recorded.
//   - A MaxTokens of 0 becomes the whole remainder, which a model may refuse as too large
//     a bound. New avoids it when the config bounds answers (max_tokens, or Anthropic's
//     default): 0 is read as that bound first.
func Budgeted(c Completer, perTask, perUser int64) Completer {
	return budgetedWithDefault(c, perTask, perUser, 0)
}

// budgetedWithDefault is Budgeted where a request's MaxTokens of 0 means defaultMax (the
// provider's configured bound; 0 when it has none).
func budgetedWithDefault(c Completer, perTask, perUser int64, defaultMax int) Completer {
	if perTask <= 0 && perUser <= 0 {
		return c
	}
	return &budgeted{next: c, perTask: perTask, perUser: perUser, defaultMax: defaultMax,
		task: map[string]int64{}, user: map[string]int64{}}
}

type budgeted struct {
	next             Completer
	perTask, perUser int64
	defaultMax       int // what a request's MaxTokens of 0 means; 0: unknown

	mu   sync.Mutex
	task map[string]int64 // tokens spent and reserved by task id
	user map[string]int64 // tokens spent and reserved by user id
}

// Complete refuses with ErrBudget when the caller's task or user has nothing left,
// otherwise caps and reserves MaxTokens, asks the wrapped Completer and settles.
func (b *budgeted) Complete(ctx context.Context, req Request) (*Response, error) {
	caller, _ := CallerFrom(ctx)
	reserved, limited, err := b.reserve(caller, &req)
	if err != nil {
		return nil, err
	}
	if !limited {
		return b.next.Complete(ctx, req)
	}
	resp, err := b.next.Complete(ctx, req)
	var used int64
	var ae *AnswerError
	switch {
	case resp != nil:
		used = resp.Usage.InputTokens + resp.Usage.OutputTokens
	case errors.As(err, &ae):
		used = ae.Usage.InputTokens + ae.Usage.OutputTokens
	}
	b.add(caller, max(used, 0)-reserved)
	return resp, err
}

// reserve caps req.MaxTokens at the caller's remaining budget and counts it against the
// caller; limited reports whether any budget applies.
func (b *budgeted) reserve(c Caller, req *Request) (reserved int64, limited bool, err error) {
	byTask := b.perTask > 0 && c.TaskID != ""
	byUser := b.perUser > 0 && c.UserID != ""
	if !byTask && !byUser {
		return 0, false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	remaining := int64(math.MaxInt32)
	if byTask {
		if b.task[c.TaskID] >= b.perTask {
			return 0, true, fmt.Errorf("%w: task %s spent %d of its %d tokens", ErrBudget, c.TaskID, b.task[c.TaskID], b.perTask)
		}
		remaining = min(remaining, b.perTask-b.task[c.TaskID])
	}
	if byUser {
		if b.user[c.UserID] >= b.perUser {
			return 0, true, fmt.Errorf("%w: user %s spent %d of their %d tokens", ErrBudget, c.UserID, b.user[c.UserID], b.perUser)
		}
		remaining = min(remaining, b.perUser-b.user[c.UserID])
	}
	if req.MaxTokens == 0 {
		req.MaxTokens = b.defaultMax
	}
	if req.MaxTokens == 0 || int64(req.MaxTokens) > remaining {
		req.MaxTokens = int(remaining)
	}
	reserved = max(int64(req.MaxTokens), 0) // a negative bound is the provider's to refuse
	b.addLocked(c, reserved)
	return reserved, true, nil
}

// add changes the caller's counts by tokens (negative releases a reservation).
func (b *budgeted) add(c Caller, tokens int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addLocked(c, tokens)
}

func (b *budgeted) addLocked(c Caller, tokens int64) {
	if b.perTask > 0 && c.TaskID != "" {
		b.task[c.TaskID] += tokens
	}
	if b.perUser > 0 && c.UserID != "" {
		b.user[c.UserID] += tokens
	}
}
