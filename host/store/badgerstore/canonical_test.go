package badgerstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestCanonicalMatchesDecode checks canonicalize against the real round trip: whenever
// it vouches for a task, the task equals the decoding of its stored value
// (marshalTask), field by field, and the decoding of its whole wire form too.
func TestCanonicalMatchesDecode(t *testing.T) {
	t.Parallel()
	// canonicalize lists the fields the wire form changes; a new field must be reviewed
	// there (and here).
	if n := reflect.TypeOf(task.Task{}).NumField(); n != 42 {
		t.Fatalf("task.Task has %d fields; review canonicalize for the new ones", n)
	}
	now := time.Now() // monotonic reading, nanoseconds, local zone
	full := func() *task.Task {
		x := mk("full", "p", 3)
		x.UserID, x.Name, x.Error, x.Plugin = "u", "n", "boom", "sha"
		x.Status = task.Completed
		x.Dependencies = []task.Dependency{{ID: "a", Required: true}, {ID: "b"}}
		x.Inputs = map[string]any{"n": json.Number("1"), "l": []any{"x", nil, true, map[string]any{}}}
		x.Params = map[string]any{}
		x.Schemas = map[string]any{"method": "noop"}
		x.Result = map[string]any{"ok": json.Number("2.5e3")}
		x.Progress = 0.25
		x.StartedAt, x.CompletedAt, x.UpdatedAt = now, now.Add(time.Nanosecond), now.In(time.FixedZone("x", 3600))
		x.NextRunAt = time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC)
		x.MaxRuns, x.RunCount, x.Attempts = 4, 2, 1
		x.ScheduleTimezone = "Europe/Paris"
		x.Limits = task.Limits{TimeoutMS: 5}
		x.Usage = &task.Usage{DurationMS: 0.001}
		x.HookErrors = []string{}
		x.InputsBeforeHooks = map[string]any{"n": json.Number("1")}
		x.OwnInputs = map[string]any{} // empty, not null: Inputs are not the own inputs
		x.Run = &task.RunMarker{TaskID: "sub", Full: true, StartedAt: now}
		x.Retry = &task.RetryState{MaxAttempts: 3, NextAttemptAt: now, History: []task.Attempt{
			{Attempt: 1, StartedAt: now, EndedAt: now.Add(time.Nanosecond), DurationMS: 0.5, Error: "boom", Kind: "trap"}}}
		return x
	}
	for _, c := range []struct {
		name string
		mod  func(*task.Task)
		ok   bool
	}{
		{"minimal", func(x *task.Task) { *x = task.Task{ID: "m", Status: task.Pending} }, true},
		{"full", func(*task.Task) {}, true},
		{"negative max_runs", func(x *task.Task) { x.MaxRuns = -1 }, true},
		{"nil dependencies and inputs", func(x *task.Task) { x.Dependencies, x.Inputs = nil, nil }, true},
		{"empty result object", func(x *task.Task) { x.Result = map[string]any{} }, true},
		{"string result", func(x *task.Task) { x.Result = "s" }, true},
		{"false result", func(x *task.Task) { x.Result = false }, true},
		{"zero result", func(x *task.Task) { x.Result = json.Number("0") }, true},
		{"empty string result", func(x *task.Task) { x.Result = "" }, true},
		{"no result", func(x *task.Task) { x.Result = nil }, true},
		{"invalid UTF-8 time zone", func(x *task.Task) { x.ScheduleTimezone = "\xff" }, false},
		{"int in inputs", func(x *task.Task) { x.Inputs["i"] = 1 }, false},
		{"float result", func(x *task.Task) { x.Result = 1.5 }, false},
		{"nil map in result", func(x *task.Task) { x.Result = map[string]any(nil) }, false},
		{"nil slice in inputs", func(x *task.Task) { x.Inputs["s"] = []any(nil) }, false},
		{"empty number", func(x *task.Task) { x.Result = json.Number("") }, false},
		{"struct in params", func(x *task.Task) { x.Params["s"] = struct{ A int }{1} }, false},
		{"typed map in schemas", func(x *task.Task) { x.Schemas["m"] = map[string]string{"a": "b"} }, false},
		{"invalid UTF-8 name", func(x *task.Task) { x.Name = "\xff" }, false},
		{"invalid UTF-8 key", func(x *task.Task) { x.Inputs["\xff"] = "v" }, false},
		{"empty inputs before hooks", func(x *task.Task) { x.InputsBeforeHooks = map[string]any{} }, true},
		{"no inputs before hooks", func(x *task.Task) { x.InputsBeforeHooks = nil }, true},
		{"int in inputs before hooks", func(x *task.Task) { x.InputsBeforeHooks["i"] = 1 }, false},
		{"invalid UTF-8 hook error", func(x *task.Task) { x.HookErrors = []string{"\xfe"} }, false},
		{"whole-tree run marker", func(x *task.Task) { x.Run = &task.RunMarker{StartedAt: now.Add(time.Nanosecond)} }, true},
		{"run marker without start time", func(x *task.Task) { x.Run = &task.RunMarker{TaskID: "t"} }, true},
		{"no run marker", func(x *task.Task) { x.Run = nil }, true},
		{"invalid UTF-8 run task id", func(x *task.Task) { x.Run.TaskID = "\xff" }, false},
		{"run started in year 10000", func(x *task.Task) { x.Run.StartedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"no retry state", func(x *task.Task) { x.Retry = nil }, true},
		{"empty attempt history", func(x *task.Task) { x.Retry.History = nil }, true},
		{"invalid UTF-8 attempt error", func(x *task.Task) { x.Retry.History[0].Error = "\xff" }, false},
		{"attempt ended in year 10000", func(x *task.Task) { x.Retry.History[0].EndedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"year 10000", func(x *task.Task) { x.LastRunAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			x := full()
			c.mod(x)
			raw, err := marshalTask(x)
			if err != nil {
				t.Fatal(err)
			}
			wire, err := x.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			ok := canonicalize(x)
			if ok != c.ok {
				t.Fatalf("canonicalize = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			back, err := decode(x.ID, raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(x, back) {
				t.Fatalf("canonical form differs from the decoded one:\n%#v\n%#v", x, back)
			}
			if backWire, err := decode(x.ID, wire); err != nil || !reflect.DeepEqual(backWire, back) {
				t.Fatalf("the stored value and the wire form decode differently (%v):\n%#v\n%#v", err, back, backWire)
			}
			again, err := marshalTask(x)
			if err != nil || string(again) != string(raw) {
				t.Fatalf("canonical form encodes differently: %s vs %s (%v)", again, raw, err)
			}
		})
	}
}

// TestDecodeCacheNeverStale checks that the cache answers only for the exact bytes it
// holds.
func TestDecodeCacheNeverStale(t *testing.T) {
	t.Parallel()
	c := newDecodeCache(2, 0)
	a := &task.Task{ID: "a"}
	c.put("a", []byte("v1"), a)
	if c.get("a", []byte("v1")) != a {
		t.Fatal("hit missed")
	}
	if c.get("a", []byte("v2")) != nil {
		t.Fatal("a different stored value hit the cache")
	}
	c.put("b", []byte("v"), &task.Task{ID: "b"})
	c.put("c", []byte("v"), &task.Task{ID: "c"})
	if n := c.len(); n != 2 {
		t.Fatalf("%d entries, want at most 2", n)
	}
	c.drop("c")
	if c.get("c", []byte("v")) != nil {
		t.Fatal("dropped entry hit")
	}
	var off *decodeCache // DecodeCacheSize < 0
	off.put("a", []byte("v"), a)
	if off.get("a", []byte("v")) != nil || off.len() != 0 {
		t.Fatal("disabled cache answered")
	}
}
