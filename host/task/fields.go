package task

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// wireFields writes each field of the wire form by its JSON name, in the wire form's
// order (encode.go).
var wireFields = []struct {
	name string
	put  putFunc
}{
	{"id", putString(func(t *Task) string { return t.ID })},
	{"parent_id", putNullable(func(t *Task) string { return t.ParentID })},
	{"task_tree_id", putNullable(func(t *Task) string { return t.TaskTreeID })},
	{"user_id", putNullable(func(t *Task) string { return t.UserID })},
	{"name", putString(func(t *Task) string { return t.Name })},
	{"status", putString(func(t *Task) string { return string(t.Status) })},
	{"priority", putInt(func(t *Task) int { return t.Priority })},
	{"dependencies", putDependencies},
	{"inputs", putInputs},
	{"params", putObject(func(t *Task) map[string]any { return t.Params })},
	{"schemas", putObject(func(t *Task) map[string]any { return t.Schemas })},
	{"result", func(b []byte, t *Task) ([]byte, error) { return appendValue(b, t.Result, 0) }},
	{"error", putNullable(func(t *Task) string { return t.Error })},
	{"progress", func(b []byte, t *Task) ([]byte, error) { return appendFloat(b, t.Progress) }},
	{"created_at", putTime(func(t *Task) time.Time { return t.CreatedAt })},
	{"updated_at", putTime(func(t *Task) time.Time { return t.UpdatedAt })},
	{"started_at", putTime(func(t *Task) time.Time { return t.StartedAt })},
	{"completed_at", putTime(func(t *Task) time.Time { return t.CompletedAt })},
	{"has_children", putBool(func(t *Task) bool { return t.HasChildren })},
	{"origin_type", putNullable(func(t *Task) string { return string(t.OriginType) })},
	{"original_task_id", putNullable(func(t *Task) string { return t.OriginalTaskID })},
	{"has_references", putBool(func(t *Task) bool { return t.HasReferences })},
	{"schedule_type", putNullable(func(t *Task) string { return t.ScheduleType })},
	{"schedule_expression", putNullable(func(t *Task) string { return t.ScheduleExpression })},
	{"schedule_enabled", putBool(func(t *Task) bool { return t.ScheduleEnabled })},
	{"schedule_start_at", putTime(func(t *Task) time.Time { return t.ScheduleStartAt })},
	{"schedule_end_at", putTime(func(t *Task) time.Time { return t.ScheduleEndAt })},
	{"next_run_at", putTime(func(t *Task) time.Time { return t.NextRunAt })},
	{"last_run_at", putTime(func(t *Task) time.Time { return t.LastRunAt })},
	{"max_runs", func(b []byte, t *Task) ([]byte, error) {
		if t.MaxRuns > 0 {
			return strconv.AppendInt(b, int64(t.MaxRuns), 10), nil
		}
		return append(b, "null"...), nil
	}},
	{"run_count", putInt(func(t *Task) int { return t.RunCount })},
	{"schedule_timezone", putNullable(func(t *Task) string { return t.ScheduleTimezone })},
	{"plugin", putNullable(func(t *Task) string { return t.Plugin })},
	{"attempts", putInt(func(t *Task) int { return t.Attempts })},
	{"retry", putJSON(func(t *Task) any {
		if t.Retry == nil {
			return nil
		}
		return t.Retry.wire()
	})},
	{"limits", putJSON(func(t *Task) any {
		if t.Limits == (Limits{}) {
			return nil
		}
		return &t.Limits
	})},
	{"usage", putUsage},
	{"inputs_before_hooks", putObject(func(t *Task) map[string]any { return t.InputsBeforeHooks })},
	{"own_inputs", putObject(func(t *Task) map[string]any { return t.OwnInputs })},
	{"hook_errors", putJSON(func(t *Task) any {
		if t.HookErrors == nil {
			return nil
		}
		return t.HookErrors
	})},
	{"seq", putInt(func(t *Task) int { return t.Seq })},
	{"run", putJSON(func(t *Task) any {
		if t.Run == nil {
			return nil
		}
		return t.Run.wire()
	})},
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
	b, err := f.appendTo(make([]byte, 0, 64*len(f.idx)), t, nil)
	if err != nil {
		return nil, fmt.Errorf("task %q: %w", t.ID, err)
	}
	return b, nil
}

// allFields selects every field: the whole wire form (MarshalJSON).
var allFields = func() Fields {
	f := Fields{idx: make([]int, len(wireFields))}
	for i := range f.idx {
		f.idx[i] = i
	}
	return f
}()

// appendTo appends the JSON object of the selected fields of t to b, without the members
// omit (if not nil) reports (AppendJSON).
func (f Fields) appendTo(b []byte, t *Task, omit func(name string, value []byte) bool) ([]byte, error) {
	b = append(b, '{')
	first := len(b)
	for _, i := range f.idx {
		member := len(b)
		if member > first {
			b = append(b, ',')
		}
		field := wireFields[i]
		b = append(append(append(b, '"'), field.name...), '"', ':')
		value := len(b)
		var err error
		if b, err = field.put(b, t); err != nil {
			return nil, fmt.Errorf("field %s: %w", field.name, err)
		}
		if omit != nil && omit(field.name, b[value:]) {
			b = b[:member]
		}
	}
	return append(b, '}'), nil
}
