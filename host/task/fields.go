package task

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// wireFields reads each field of the wire form by its JSON name, in the wire form's order.
var wireFields = []struct {
	name string
	get  func(*wire) any
}{
	{"id", func(w *wire) any { return w.ID }},
	{"parent_id", func(w *wire) any { return w.ParentID }},
	{"task_tree_id", func(w *wire) any { return w.TaskTreeID }},
	{"user_id", func(w *wire) any { return w.UserID }},
	{"name", func(w *wire) any { return w.Name }},
	{"status", func(w *wire) any { return w.Status }},
	{"priority", func(w *wire) any { return w.Priority }},
	{"dependencies", func(w *wire) any { return w.Dependencies }},
	{"inputs", func(w *wire) any { return w.Inputs }},
	{"params", func(w *wire) any { return w.Params }},
	{"schemas", func(w *wire) any { return w.Schemas }},
	{"result", func(w *wire) any { return w.Result }},
	{"error", func(w *wire) any { return w.Error }},
	{"progress", func(w *wire) any { return w.Progress }},
	{"created_at", func(w *wire) any { return w.CreatedAt }},
	{"updated_at", func(w *wire) any { return w.UpdatedAt }},
	{"started_at", func(w *wire) any { return w.StartedAt }},
	{"completed_at", func(w *wire) any { return w.CompletedAt }},
	{"has_children", func(w *wire) any { return w.HasChildren }},
	{"origin_type", func(w *wire) any { return w.OriginType }},
	{"original_task_id", func(w *wire) any { return w.OriginalTaskID }},
	{"has_references", func(w *wire) any { return w.HasReferences }},
	{"schedule_type", func(w *wire) any { return w.ScheduleType }},
	{"schedule_expression", func(w *wire) any { return w.ScheduleExpression }},
	{"schedule_enabled", func(w *wire) any { return w.ScheduleEnabled }},
	{"schedule_start_at", func(w *wire) any { return w.ScheduleStartAt }},
	{"schedule_end_at", func(w *wire) any { return w.ScheduleEndAt }},
	{"next_run_at", func(w *wire) any { return w.NextRunAt }},
	{"last_run_at", func(w *wire) any { return w.LastRunAt }},
	{"max_runs", func(w *wire) any { return w.MaxRuns }},
	{"run_count", func(w *wire) any { return w.RunCount }},
	{"schedule_timezone", func(w *wire) any { return w.ScheduleTimezone }},
	{"plugin", func(w *wire) any { return w.Plugin }},
	{"attempts", func(w *wire) any { return w.Attempts }},
	{"retry", func(w *wire) any { return w.Retry }},
	{"limits", func(w *wire) any { return w.Limits }},
	{"usage", func(w *wire) any { return w.Usage }},
	{"inputs_before_hooks", func(w *wire) any { return w.InputsBeforeHooks }},
	{"hook_errors", func(w *wire) any { return w.HookErrors }},
	{"seq", func(w *wire) any { return w.Seq }},
	{"run", func(w *wire) any { return w.Run }},
}

// FieldNames are the names of the wire form's fields, in its order: what Fields may
// select.
func FieldNames() []string {
	names := make([]string, len(wireFields))
	for i, f := range wireFields {
		names[i] = f.name
	}
	return names
}

// Fields is a selection of the wire form's fields (a projection), made by SelectFields.
type Fields struct{ idx []int }

// fieldIndex maps a field's name to its place in wireFields.
var fieldIndex = func() map[string]int {
	m := make(map[string]int, len(wireFields))
	for i, f := range wireFields {
		m[f.name] = i
	}
	return m
}()

// SelectFields returns the selection of names (FieldNames), kept in the wire form's
// order (a name given twice counts once); an unknown name is an error naming it.
func SelectFields(names []string) (Fields, error) {
	var f Fields
	for _, n := range names {
		i, ok := fieldIndex[n]
		if !ok {
			return Fields{}, fmt.Errorf("unknown task field %q", n)
		}
		if !slices.Contains(f.idx, i) {
			f.idx = append(f.idx, i)
		}
	}
	slices.Sort(f.idx)
	return f, nil
}

// Marshal writes the selected fields of t's wire form, each exactly as MarshalJSON
// writes it.
func (f Fields) Marshal(t *Task) ([]byte, error) {
	w := t.wire()
	var b bytes.Buffer
	b.WriteByte('{')
	for k, i := range f.idx {
		if k > 0 {
			b.WriteByte(',')
		}
		v, err := json.Marshal(wireFields[i].get(w))
		if err != nil {
			return nil, fmt.Errorf("task %s: field %s: %w", t.ID, wireFields[i].name, err)
		}
		b.WriteString(`"` + wireFields[i].name + `":`)
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
