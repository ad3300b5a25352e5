package task

import (
	"reflect"
	"testing"
	"time"
)

// TestResetInputs: a re-execution starts from the task's own inputs; a task put back
// from in_progress keeps what its dependencies' results made of them, without the
// pre-hooks' edits, for whoever runs it again.
func TestResetInputs(t *testing.T) {
	t.Parallel()
	own := map[string]any{"own": "x"}
	injected := map[string]any{"own": "x", "dep": 1}
	hooked := map[string]any{"own": "x", "dep": 1, "pre": true}
	tests := []struct {
		name       string
		status     Status
		inputs     map[string]any
		before     map[string]any // InputsBeforeHooks
		ownInputs  map[string]any
		wantInputs map[string]any
		wantOwn    map[string]any
	}{
		{"completed: its own again", Completed, hooked, injected, own, own, nil},
		{"failed, nothing injected", Failed, own, nil, nil, own, nil},
		{"in_progress: the injected inputs, without the hooks'", InProgress, hooked, injected, own, injected, own},
		{"in_progress, no hook", InProgress, injected, nil, own, injected, own},
		{"pending (blocked, once put back from in_progress): its own again", Pending, injected, nil, own, own, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := &Task{Status: tc.status, Inputs: tc.inputs, InputsBeforeHooks: tc.before, OwnInputs: tc.ownInputs}
			if err := tk.Reset(time.Now()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tk.Inputs, tc.wantInputs) || !reflect.DeepEqual(tk.OwnInputs, tc.wantOwn) || tk.InputsBeforeHooks != nil {
				t.Fatalf("inputs %v, own %v, before hooks %v; want %v, %v, nil", tk.Inputs, tk.OwnInputs, tk.InputsBeforeHooks, tc.wantInputs, tc.wantOwn)
			}
		})
	}
}
