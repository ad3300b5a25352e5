package badgerstore

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/task"
)

// emptyForNull gives t the empty dependencies and inputs that the wire form writes for
// null ones (task.Task.MarshalJSON): what decoding that form returns, and what a stored
// value, which leaves them out when empty (storedZero), reads back as.
func emptyForNull(t *task.Task) {
	if t.Dependencies == nil {
		t.Dependencies = []task.Dependency{}
	}
	if t.Inputs == nil {
		t.Inputs = map[string]any{}
	}
}

// canonicalize turns t, which has just been encoded without error, into what decoding
// that encoding returns, so that the store can keep t as the decoded form of the value it
// writes instead of decoding it again. It reports false when it cannot vouch for that
// (values of other Go types than those decoding produces, invalid UTF-8, times outside
// the years 0–9999, ...); the caller then decodes the bytes. t may be partly normalized
// in that case and must be discarded.
//
// What the wire form changes, and canonicalize mirrors: times (run.started_at too) are
// stored in UTC with microseconds (and lose their monotonic reading); null dependencies
// and inputs read back as empty; a non-positive max_runs reads back as 0.
// TestCanonicalMatchesDecode checks the result against decoding, field by field, and
// fails when task.Task gains a field.
func canonicalize(t *task.Task) bool {
	for _, p := range []*time.Time{&t.CreatedAt, &t.UpdatedAt, &t.StartedAt, &t.CompletedAt,
		&t.ScheduleStartAt, &t.ScheduleEndAt, &t.NextRunAt, &t.LastRunAt} {
		if !canonicalTime(p) {
			return false
		}
	}
	for _, s := range []string{t.ID, t.ParentID, t.TaskTreeID, t.UserID, t.Name, string(t.Status),
		t.Error, string(t.OriginType), t.OriginalTaskID, t.ScheduleType, t.ScheduleExpression, t.ScheduleTimezone, t.Plugin} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	emptyForNull(t)
	for _, d := range t.Dependencies {
		if !utf8.ValidString(d.ID) {
			return false
		}
	}
	for _, m := range []map[string]any{t.Inputs, t.Params, t.Schemas, t.InputsBeforeHooks, t.OwnInputs} {
		if m != nil && !canonicalValue(m) {
			return false
		}
	}
	if !canonicalValue(t.Result) {
		return false
	}
	for _, s := range t.HookErrors {
		if !utf8.ValidString(s) {
			return false
		}
	}
	if t.MaxRuns < 0 {
		t.MaxRuns = 0
	}
	if t.Run != nil && (!utf8.ValidString(t.Run.TaskID) || !canonicalTime(&t.Run.StartedAt)) {
		return false
	}
	return canonicalRetry(t.Retry)
}

// canonicalRetry normalizes the attempt history: its times as every time, an empty
// history as the empty list it reads back as.
func canonicalRetry(r *task.RetryState) bool {
	if r == nil {
		return true
	}
	if !canonicalTime(&r.NextAttemptAt) {
		return false
	}
	if r.History == nil {
		r.History = []task.Attempt{}
	}
	for i := range r.History {
		a := &r.History[i]
		if !canonicalTime(&a.StartedAt) || !canonicalTime(&a.EndedAt) ||
			!utf8.ValidString(a.Error) || !utf8.ValidString(a.Kind) || a.DurationMS != a.DurationMS {
			return false
		}
	}
	return true
}

// canonicalTime normalizes a time as the wire form stores it: zero stays zero, anything
// else becomes UTC truncated to the microsecond.
func canonicalTime(p *time.Time) bool {
	if p.IsZero() {
		*p = time.Time{}
		return true
	}
	u := p.UTC().Truncate(time.Microsecond)
	if y := u.Year(); y < 0 || y > 9999 {
		return false
	}
	*p = u
	return true
}

// canonicalValue reports whether v is a JSON value as decoding produces it (with
// UseNumber): nil, bool, valid UTF-8 string, non-empty json.Number, and non-nil
// map[string]any and []any of those.
func canonicalValue(v any) bool {
	switch x := v.(type) {
	case nil, bool:
		return true
	case string:
		return utf8.ValidString(x)
	case json.Number:
		return x != "" // the encoder writes "" as 0
	case map[string]any:
		if x == nil {
			return false // encodes as null, which decodes as an untyped nil
		}
		for k, e := range x {
			if !utf8.ValidString(k) || !canonicalValue(e) {
				return false
			}
		}
		return true
	case []any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !canonicalValue(e) {
				return false
			}
		}
		return true
	default:
		return false
	}
}
