package task

// A task's inputs have two forms: its own, as submitted or last set by tasks.update, and
// what an attempt made of them, dependency results injected and pre-hooks' edits applied,
// which the executor got and Inputs show (docs/semantics.md rule 11). OwnInputs keeps the
// own form while Inputs hold the other, so that no attempt starts from what an earlier
// one injected: a dependency that no longer completes contributes nothing, and a copy
// or a re-run gets the task's own inputs back.

// OwnOrInputs returns the task's own inputs: OwnInputs when set, else Inputs. Each
// attempt's dependency injection starts from them. The map is t's: treat it as read-only.
func (t *Task) OwnOrInputs() map[string]any {
	if t.OwnInputs != nil {
		return t.OwnInputs
	}
	return t.Inputs
}

// SetAttemptInputs sets Inputs to what the current attempt made of the task's own inputs,
// keeping the own inputs in OwnInputs.
func (t *Task) SetAttemptInputs(inputs map[string]any) {
	if t.OwnInputs == nil {
		own := t.Inputs
		if own == nil {
			own = map[string]any{} // set: nil would say Inputs are the own inputs
		}
		t.OwnInputs = own
	}
	t.Inputs = inputs
}

// SetHookedInputs records what the current attempt's pre-hooks made of its inputs: the
// inputs they got (before) are kept beside, as InputsBeforeHooks.
func (t *Task) SetHookedInputs(before, inputs map[string]any) {
	t.SetAttemptInputs(inputs)
	t.InputsBeforeHooks = before
}

// SetOwnInputs makes inputs the task's own, Inputs included (tasks.update, a copy, an
// attempt that injected nothing): what an earlier attempt made of the old ones is dropped.
func (t *Task) SetOwnInputs(inputs map[string]any) {
	t.Inputs, t.OwnInputs = inputs, nil
}

// restoreOwnInputs returns Inputs to the task's own inputs.
func (t *Task) restoreOwnInputs() {
	if t.OwnInputs != nil {
		t.Inputs, t.OwnInputs = t.OwnInputs, nil
	}
}
