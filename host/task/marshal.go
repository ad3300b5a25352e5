package task

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// wire is the JSON form of a Task as UnmarshalJSON decodes it (nullable columns are
// pointers, null as the reference's task.output() writes them), and, in encode_test.go,
// the struct whose encoding by encoding/json the encoder (encode.go) is compared with.
type wire struct {
	ID           string         `json:"id"`
	ParentID     *string        `json:"parent_id"`
	TaskTreeID   *string        `json:"task_tree_id"`
	UserID       *string        `json:"user_id"`
	Name         string         `json:"name"`
	Status       Status         `json:"status"`
	Priority     int            `json:"priority"`
	Dependencies []Dependency   `json:"dependencies"`
	Inputs       map[string]any `json:"inputs"`
	Params       map[string]any `json:"params"`
	Schemas      map[string]any `json:"schemas"`
	Result       any            `json:"result"`
	Error        *string        `json:"error"`
	Progress     float64        `json:"progress"`

	CreatedAt   *string `json:"created_at"`
	UpdatedAt   *string `json:"updated_at"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`

	HasChildren    bool    `json:"has_children"`
	OriginType     *string `json:"origin_type"`
	OriginalTaskID *string `json:"original_task_id"`
	HasReferences  bool    `json:"has_references"`

	ScheduleType       *string `json:"schedule_type"`
	ScheduleExpression *string `json:"schedule_expression"`
	ScheduleEnabled    bool    `json:"schedule_enabled"`
	ScheduleStartAt    *string `json:"schedule_start_at"`
	ScheduleEndAt      *string `json:"schedule_end_at"`
	NextRunAt          *string `json:"next_run_at"`
	LastRunAt          *string `json:"last_run_at"`
	MaxRuns            *int    `json:"max_runs"`
	RunCount           int     `json:"run_count"`
	ScheduleTimezone   *string `json:"schedule_timezone"`

	Plugin            *string        `json:"plugin"`
	Attempts          int            `json:"attempts"`
	Retry             *retryWire     `json:"retry"`
	Limits            *Limits        `json:"limits"`
	Usage             *Usage         `json:"usage"`
	InputsBeforeHooks map[string]any `json:"inputs_before_hooks"`
	OwnInputs         map[string]any `json:"own_inputs"`
	HookErrors        []string       `json:"hook_errors"`
	Seq               int            `json:"seq"`
	Run               *runWire       `json:"run"`
}

// retryWire is the JSON form of a RetryState.
type retryWire struct {
	MaxAttempts   int           `json:"max_attempts"`
	NextAttemptAt *string       `json:"next_attempt_at"`
	History       []attemptWire `json:"history"`
}

// attemptWire is the JSON form of an Attempt.
type attemptWire struct {
	Attempt    int     `json:"attempt"`
	StartedAt  *string `json:"started_at"`
	EndedAt    *string `json:"ended_at"`
	DurationMS float64 `json:"duration_ms"`
	Error      *string `json:"error"`
	Kind       *string `json:"kind"`
}

func (r *RetryState) wire() *retryWire {
	if r == nil {
		return nil
	}
	w := &retryWire{MaxAttempts: r.MaxAttempts, NextAttemptAt: nullTime(r.NextAttemptAt),
		History: make([]attemptWire, len(r.History))}
	for i, a := range r.History {
		w.History[i] = attemptWire{Attempt: a.Attempt, StartedAt: nullTime(a.StartedAt), EndedAt: nullTime(a.EndedAt),
			DurationMS: a.DurationMS, Error: nullStr(a.Error), Kind: nullStr(a.Kind)}
	}
	return w
}

func (w *retryWire) state() (*RetryState, error) {
	if w == nil {
		return nil, nil
	}
	next, err := parseTimePtr("retry.next_attempt_at", w.NextAttemptAt)
	if err != nil {
		return nil, err
	}
	r := &RetryState{MaxAttempts: w.MaxAttempts, NextAttemptAt: next, History: make([]Attempt, len(w.History))}
	for i, a := range w.History {
		started, err := parseTimePtr("retry.history.started_at", a.StartedAt)
		if err != nil {
			return nil, err
		}
		ended, err := parseTimePtr("retry.history.ended_at", a.EndedAt)
		if err != nil {
			return nil, err
		}
		r.History[i] = Attempt{Attempt: a.Attempt, StartedAt: started, EndedAt: ended, DurationMS: a.DurationMS,
			Error: str(a.Error), Kind: str(a.Kind)}
	}
	return r, nil
}

// runWire is the JSON form of a RunMarker.
type runWire struct {
	TaskID    *string `json:"task_id"`
	Full      bool    `json:"full"`
	StartedAt *string `json:"started_at"`
}

func (m *RunMarker) wire() *runWire {
	if m == nil {
		return nil
	}
	return &runWire{TaskID: nullStr(m.TaskID), Full: m.Full, StartedAt: nullTime(m.StartedAt)}
}

func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(timeLayout)
	return &s
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func parseTimePtr(field string, p *string) (time.Time, error) {
	if p == nil || *p == "" {
		return time.Time{}, nil
	}
	t, err := ParseTime(*p)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an ISO-8601 timestamp", field, *p)
	}
	return t, nil
}

// MarshalJSON writes the reference wire form of the task (encode.go).
func (t *Task) MarshalJSON() ([]byte, error) {
	return t.AppendJSON(make([]byte, 0, 1024), nil)
}

// AppendJSON appends the wire form of t to b (MarshalJSON's object), leaving out each
// member for which omit(name, value) is true, value as MarshalJSON writes it; a nil omit
// leaves out none. A store uses it to keep only the members that do not read back the
// same when absent.
func (t *Task) AppendJSON(b []byte, omit func(name string, value []byte) bool) ([]byte, error) {
	return allFields.appendTo(b, t, omit)
}

// UnmarshalJSON reads the wire form written by MarshalJSON (the canonical form, as stored
// and as returned by the API). Submissions, which allow more shapes, are decoded by the
// submit package instead.
func (t *Task) UnmarshalJSON(data []byte) error {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	*t = Task{
		ID: w.ID, ParentID: str(w.ParentID), TaskTreeID: str(w.TaskTreeID), UserID: str(w.UserID),
		Name: w.Name, Status: w.Status, Priority: w.Priority, Dependencies: w.Dependencies,
		Inputs: w.Inputs, Params: w.Params, Schemas: w.Schemas, Result: w.Result,
		Error: str(w.Error), Progress: w.Progress, HasChildren: w.HasChildren,
		OriginType: OriginType(str(w.OriginType)), OriginalTaskID: str(w.OriginalTaskID),
		HasReferences: w.HasReferences, ScheduleType: str(w.ScheduleType),
		ScheduleExpression: str(w.ScheduleExpression), ScheduleEnabled: w.ScheduleEnabled,
		RunCount: w.RunCount, ScheduleTimezone: str(w.ScheduleTimezone), Plugin: str(w.Plugin), Attempts: w.Attempts, Usage: w.Usage,
		InputsBeforeHooks: w.InputsBeforeHooks, OwnInputs: w.OwnInputs, HookErrors: w.HookErrors, Seq: w.Seq,
	}
	if w.MaxRuns != nil {
		t.MaxRuns = *w.MaxRuns
	}
	if w.Limits != nil {
		t.Limits = *w.Limits
	}
	retry, err := w.Retry.state()
	if err != nil {
		return err
	}
	t.Retry = retry
	if w.Run != nil {
		at, err := parseTimePtr("run.started_at", w.Run.StartedAt)
		if err != nil {
			return err
		}
		t.Run = &RunMarker{TaskID: str(w.Run.TaskID), Full: w.Run.Full, StartedAt: at}
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  *time.Time
	}{
		{"created_at", w.CreatedAt, &t.CreatedAt}, {"updated_at", w.UpdatedAt, &t.UpdatedAt},
		{"started_at", w.StartedAt, &t.StartedAt}, {"completed_at", w.CompletedAt, &t.CompletedAt},
		{"schedule_start_at", w.ScheduleStartAt, &t.ScheduleStartAt},
		{"schedule_end_at", w.ScheduleEndAt, &t.ScheduleEndAt},
		{"next_run_at", w.NextRunAt, &t.NextRunAt}, {"last_run_at", w.LastRunAt, &t.LastRunAt},
	} {
		v, err := parseTimePtr(f.name, f.src)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}
