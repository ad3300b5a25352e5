package task

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestFieldsCoverTheWireForm: every field MarshalJSON writes can be selected, and a
// selection of all of them writes the same document.
func TestFieldsCoverTheWireForm(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	tasks := []*Task{
		{ID: "bare"},
		{ID: "full", ParentID: "p", TaskTreeID: "r", UserID: "u", Name: "n", Status: Failed, Priority: 1,
			Dependencies: []Dependency{{ID: "d", Required: false}}, Inputs: map[string]any{"a": 1.0},
			Params: map[string]any{"executor_id": "x"}, Schemas: map[string]any{"method": "m"}, Result: []any{"r"},
			Error: "boom", Progress: 0.5, CreatedAt: now, StartedAt: now, CompletedAt: now, MaxRuns: 3,
			Retry: &RetryState{MaxAttempts: 2, History: []Attempt{{Attempt: 1, StartedAt: now, Error: "e"}}},
			Usage: &Usage{DurationMS: 1.5}, HookErrors: []string{"h"}, Limits: Limits{TimeoutMS: 5},
			Run: &RunMarker{TaskID: "r", StartedAt: now}},
	}
	all, err := SelectFields(FieldNames())
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		whole, err := json.Marshal(tk)
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		_ = json.Unmarshal(whole, &want)
		if names := slices.Sorted(maps.Keys(want)); !slices.Equal(names, slices.Sorted(slices.Values(FieldNames()))) {
			t.Fatalf("MarshalJSON writes %v, FieldNames are %v", names, FieldNames())
		}
		b, err := all.Marshal(tk)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("task %s: all fields\n%s\nwant\n%s", tk.ID, b, whole)
		}
	}
}

func TestSelectFields(t *testing.T) {
	t.Parallel()
	tk := &Task{ID: "a", Name: "A", Status: InProgress, Progress: 0.25}
	tests := []struct {
		names   []string
		want    string
		wantErr bool
	}{
		{[]string{"status", "id", "status"}, `{"id":"a","status":"in_progress"}`, false},
		{[]string{"progress", "parent_id", "name"}, `{"parent_id":null,"name":"A","progress":0.25}`, false},
		{nil, `{}`, false},
		{[]string{"id", "nope"}, "", true},
	}
	for _, tt := range tests {
		f, err := SelectFields(tt.names)
		if (err != nil) != tt.wantErr {
			t.Fatalf("SelectFields(%v): %v", tt.names, err)
		}
		if tt.wantErr {
			continue
		}
		b, err := f.Marshal(tk)
		if err != nil || string(b) != tt.want {
			t.Errorf("SelectFields(%v).Marshal = %s, %v; want %s", tt.names, b, err, tt.want)
		}
	}
}

// TestNewAttemptForgetsHookInputs: a new attempt (Start) and a reset forget the inputs
// the previous attempt's pre-hooks got.
func TestNewAttemptForgetsHookInputs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	tk := &Task{ID: "a", Status: Failed, InputsBeforeHooks: map[string]any{"x": 1.0}}
	if err := tk.Reset(now); err != nil || tk.InputsBeforeHooks != nil {
		t.Fatalf("Reset: %v, inputs before hooks %v", err, tk.InputsBeforeHooks)
	}
	tk.InputsBeforeHooks = map[string]any{"x": 1.0}
	if err := tk.Start(now); err != nil || tk.InputsBeforeHooks != nil {
		t.Fatalf("Start: %v, inputs before hooks %v", err, tk.InputsBeforeHooks)
	}
}
