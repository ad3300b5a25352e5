package pgstore

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/apflow-wasm/apflow/host/task"
)

// taskColumns are the columns of apflow_tasks in the order of row.values.
var taskColumns = []string{"id", "parent_id", "tree_id", "user_id", "status", "priority", "seq",
	"created_at", "run_active", "body", "next_run_at", "schedule_type", "schedule_enabled"}

// row is a task as stored: its wire form and the columns derived from it.
type row struct {
	t    *task.Task
	body []byte
}

// encode returns the stored form of t. It calls MarshalJSON directly: json.Marshal would
// validate and compact its output once more.
func encode(t *task.Task) (row, error) {
	b, err := t.MarshalJSON()
	if err != nil {
		return row{}, fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	return row{t: t, body: b}, nil
}

// values returns the columns of r, in taskColumns order, for COPY.
func (r row) values() []any {
	t := r.t
	var created any // NULL for the zero time
	if !t.CreatedAt.IsZero() {
		created = t.CreatedAt.UTC().Truncate(time.Microsecond)
	}
	return []any{t.ID, null(t.ParentID), null(t.TaskTreeID), null(t.UserID), string(t.Status),
		int32(t.Priority), int64(t.Seq), created, t.Run != nil, string(r.body),
		nextRun(t), null(t.ScheduleType), t.ScheduleEnabled}
}

// nextRun is the next_run_at column of t: NULL for the zero time.
func nextRun(t *task.Task) pgtype.Timestamptz {
	if t.NextRunAt.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.NextRunAt.UTC().Truncate(time.Microsecond), Valid: true}
}

// null maps the empty string to SQL NULL.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func decode(id string, raw []byte) (*task.Task, error) {
	t := new(task.Task)
	if err := t.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("decode stored task %s: %w", id, err)
	}
	return t, nil
}

// dependencyIDs returns the distinct ids t depends on, in order.
func dependencyIDs(t *task.Task) []string {
	out := make([]string, 0, len(t.Dependencies))
	seen := make(map[string]bool, len(t.Dependencies))
	for _, d := range t.Dependencies {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d.ID)
		}
	}
	return out
}

// sameDependencies reports whether a and b depend on the same set of ids.
func sameDependencies(a, b *task.Task) bool {
	x, y := dependencyIDs(a), dependencyIDs(b)
	if len(x) != len(y) {
		return false
	}
	set := make(map[string]bool, len(x))
	for _, id := range x {
		set[id] = true
	}
	for _, id := range y {
		if !set[id] {
			return false
		}
	}
	return true
}
