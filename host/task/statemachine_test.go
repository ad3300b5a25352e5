package task

import (
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// TestStateMachine pins docs/semantics.md rule 1: the allowed status changes, and -32006
// with the task unchanged for every other one.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	allowed := map[[2]Status]bool{
		{Pending, InProgress}:   true,
		{Pending, Cancelled}:    true,
		{InProgress, Completed}: true,
		{InProgress, Failed}:    true,
		{InProgress, Cancelled}: true,
		{InProgress, Pending}:   true, // crash recovery and shutdown only
		{Completed, Pending}:    true, // re-execution
		{Failed, Pending}:       true,
		{Cancelled, Pending}:    true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			err := CheckTransition(from, to)
			switch {
			case from == to || allowed[[2]Status{from, to}]:
				if err != nil {
					t.Errorf("%s -> %s: %v, want allowed", from, to, err)
				}
			case apferr.CodeOf(err) != apferr.InvalidTransition:
				t.Errorf("%s -> %s: %v, want -32006", from, to, err)
			}
		}
	}
	if err := CheckTransition(Pending, "done"); apferr.CodeOf(err) != apferr.InvalidParams {
		t.Errorf("pending -> done: %v, want -32602", err)
	}
}

// TestLifecycleFields pins docs/semantics.md rule 2: each lifecycle method leaves the
// fields consistent with the new status, and a refused change leaves the task as it was.
func TestLifecycleFields(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 := t0.Add(time.Second)
	setup := func() *Task { return &Task{ID: "x", Status: Pending, CreatedAt: t0, UpdatedAt: t0} }

	tk := setup()
	if err := tk.Start(t0); err != nil {
		t.Fatal(err)
	}
	if tk.Status != InProgress || !tk.StartedAt.Equal(t0) || !tk.CompletedAt.IsZero() || tk.Error != "" ||
		tk.Result != nil || tk.Attempts != 1 {
		t.Fatalf("after Start: %+v", tk)
	}
	if err := tk.Complete(map[string]any{"v": 1}, t1); err != nil {
		t.Fatal(err)
	}
	if tk.Status != Completed || tk.Progress != 1 || !tk.CompletedAt.Equal(t1) || tk.Result == nil || tk.Error != "" {
		t.Fatalf("after Complete: %+v", tk)
	}
	before := *tk
	if err := tk.Start(t1); apferr.CodeOf(err) != apferr.InvalidTransition {
		t.Fatalf("Start of a completed task = %v, want -32006", err)
	}
	if tk.Status != before.Status || !tk.StartedAt.Equal(before.StartedAt) || tk.Attempts != before.Attempts {
		t.Fatalf("a refused change modified the task: %+v", tk)
	}
	if err := tk.Reset(t1); err != nil {
		t.Fatal(err)
	}
	if tk.Status != Pending || tk.Result != nil || tk.Error != "" || tk.Progress != 0 ||
		!tk.StartedAt.IsZero() || !tk.CompletedAt.IsZero() || tk.Attempts != 1 {
		t.Fatalf("after Reset: %+v", tk)
	}

	tk = setup()
	_ = tk.Start(t0)
	if err := tk.Fail("", nil, t1); err != nil {
		t.Fatal(err)
	}
	if tk.Status != Failed || tk.Error == "" || tk.Progress != 0 || !tk.CompletedAt.Equal(t1) {
		t.Fatalf("after Fail: %+v", tk)
	}

	tk = setup()
	if err := tk.Cancel("", t1); err != nil {
		t.Fatal(err)
	}
	if tk.Status != Cancelled || tk.Error != "Cancelled by user" || tk.Result != nil || !tk.CompletedAt.Equal(t1) {
		t.Fatalf("after Cancel: %+v", tk)
	}

	// A task waiting for its next attempt waits no more once cancelled.
	tk = &Task{Status: Pending, Retry: &RetryState{MaxAttempts: 3, NextAttemptAt: t1, History: []Attempt{{Attempt: 1}}}}
	if err := tk.Cancel("", t1); err != nil {
		t.Fatal(err)
	}
	if !tk.Retry.NextAttemptAt.IsZero() || len(tk.Retry.History) != 1 {
		t.Fatalf("retry after Cancel: %+v", tk.Retry)
	}
}
