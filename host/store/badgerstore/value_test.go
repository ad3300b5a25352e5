package badgerstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestStoredZero: the members left out of a stored tail are the null ones, and the
// false, 0 and "" ones but the result's, and the empty dependencies and inputs; nothing
// else, nested values included.
func TestStoredZero(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, value string
		want        bool
	}{
		{"a", `null`, true},
		{"a", `false`, true},
		{"a", `0`, true},
		{"a", `""`, true},
		{"a", `true`, false},
		{"a", `0.5`, false},
		{"a", `-0`, false},
		{"a", `"0"`, false},
		{"a", `"null"`, false},
		{"a", `{"x":null}`, false},
		{"a", `[null,false,0]`, false},
		{"a", `{}`, false},
		{"a", `[]`, false},
		{"params", `{}`, false},
		{"hook_errors", `[]`, false},
		{"dependencies", `[]`, true},
		{"dependencies", `[{"id":"a","required":false}]`, false},
		{"inputs", `{}`, true},
		{"inputs", `{"":""}`, false},
		{"result", `null`, true},
		{"result", `false`, false},
		{"result", `0`, false},
		{"result", `""`, false},
	} {
		if got := storedZero(c.name, []byte(c.value)); got != c.want {
			t.Errorf("storedZero(%s, %s) = %v, want %v", c.name, c.value, got, c.want)
		}
	}
}

// FuzzStoredTail: for any task, the stored tail is its wire form without the members
// storedZero names, the others byte for byte.
func FuzzStoredTail(f *testing.F) {
	f.Add("n", "", 0.0, `{"a":null,"b":{"c":[0,false,"\"}"]},"d":0}`, `0`)
	f.Add("", "e", 0.5, `{}`, `false`)
	f.Add("x", "", 1.0, `{"x\u0000":"]"}`, `""`)
	f.Fuzz(func(t *testing.T, name, errText string, progress float64, inputs, result string) {
		x := &task.Task{ID: "t", Name: name, Error: errText, Progress: progress}
		dec := json.NewDecoder(strings.NewReader(inputs))
		dec.UseNumber()
		_ = dec.Decode(&x.Inputs)
		_ = json.Unmarshal([]byte(result), &x.Result)
		wire, err := x.MarshalJSON()
		if err != nil {
			return
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(wire, &members); err != nil {
			t.Fatal(err)
		}
		for k, v := range members {
			if storedZero(k, v) {
				delete(members, k)
			}
		}
		tail, err := x.AppendJSON(nil, storedZero)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]json.RawMessage
		if err := json.Unmarshal(tail, &back); err != nil {
			t.Fatalf("tail %s: not JSON: %v", tail, err)
		}
		if !reflect.DeepEqual(back, members) {
			t.Fatalf("tail %s, want the members %v", tail, members)
		}
	})
}

// TestStoredValue: a task is stored compact, well under its wire form, and a value stored
// as earlier versions did (the whole wire form, or without its null, false and 0
// members) reads the same.
func TestStoredValue(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	ctx := t.Context()
	x := mk("echo", "root", 1)
	x.Inputs = map[string]any{"i": json.Number("7")}
	x.Schemas = map[string]any{"method": "echo"}
	if err := s.Create(ctx, []*task.Task{mk("root", "", 0), x}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, fn := range []func(*task.Task) error{
		func(x *task.Task) error { return x.Start(now) },
		func(x *task.Task) error { return x.Complete(map[string]any{"i": json.Number("7")}, now) },
	} {
		if _, err := s.Update(ctx, "echo", fn); err != nil {
			t.Fatal(err)
		}
	}
	stored := s.rawValue(t, "echo")
	done, err := s.Get(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	wire, err := done.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(":null")) || bytes.Contains(stored, []byte(":false")) || len(stored) >= len(wire)*3/4 {
		t.Fatalf("stored value (%d bytes, wire form %d): %s", len(stored), len(wire), stored)
	}
	withoutZeros, err := done.AppendJSON(nil, func(name string, v []byte) bool {
		return string(v) == "null" || name != "result" && (string(v) == "false" || string(v) == "0")
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, earlier := range [][]byte{wire, withoutZeros} {
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(taskKey("echo"), earlier) }); err != nil {
			t.Fatal(err)
		}
		s.cache.drop("echo")
		again, err := s.Get(ctx, "echo")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := again.MarshalJSON(); !bytes.Equal(got, wire) {
			t.Fatalf("the earlier value %s reads as %s, want %s", earlier, got, wire)
		}
	}
}

// rawValue returns the stored value of task id.
func (s *Store) rawValue(t *testing.T, id string) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(taskKey(id))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStoredResults: a result that is false, 0 or empty reads back as itself once the
// decode cache no longer holds the task.
func TestStoredResults(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	for i, result := range []any{false, json.Number("0"), "", map[string]any{}, []any{}, nil} {
		id := fmt.Sprintf("r%d", i)
		if err := s.Create(t.Context(), []*task.Task{mk(id, "", i)}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, fn := range []func(*task.Task) error{
			func(x *task.Task) error { return x.Start(now) },
			func(x *task.Task) error { return x.Complete(result, now) },
		} {
			if _, err := s.Update(t.Context(), id, fn); err != nil {
				t.Fatal(err)
			}
		}
		s.cache.drop(id)
		got, err := s.Get(t.Context(), id)
		if err != nil || !reflect.DeepEqual(got.Result, result) {
			t.Errorf("result %#v reads back as %#v (%v)", result, got.Result, err)
		}
	}
}

// TestCompactFormReadsAsWire: whatever a task holds, its stored value decodes exactly as
// its wire form does, including the strings and times the binary fields cannot hold
// (left in the JSON tail), and it is small for a typical completed task.
func TestCompactFormReadsAsWire(t *testing.T) {
	t.Parallel()
	const uuid, sha = "0b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11", "5f0c6a0d3b2e4f7c8a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
	now := time.Now()
	typical := func() *task.Task {
		return &task.Task{ID: uuid, ParentID: "1" + uuid[1:], TaskTreeID: "1" + uuid[1:], Name: "child-17",
			Status: task.Completed, Priority: 2, Seq: 17, Attempts: 1, Plugin: sha, Progress: 1,
			Inputs: map[string]any{"n": json.Number("17")}, Schemas: map[string]any{"method": "echo"},
			Result: map[string]any{"n": json.Number("17")}, Dependencies: []task.Dependency{},
			CreatedAt: now, UpdatedAt: now.Add(time.Millisecond), StartedAt: now.Add(time.Microsecond), CompletedAt: now.Add(time.Millisecond),
			Usage: &task.Usage{DurationMS: 0.123, PeakMemoryPages: 17, HostCalls: 2, BytesIn: 8, BytesOut: 8, LLMInputTokens: -1}}
	}
	for _, c := range []struct {
		name string
		mod  func(*task.Task)
	}{
		{"typical", func(*task.Task) {}},
		{"zero task", func(x *task.Task) { *x = task.Task{} }},
		{"root", func(x *task.Task) { x.ParentID, x.TaskTreeID = "", x.ID }},
		{"user named as the id", func(x *task.Task) { x.UserID = x.ID }},
		{"uppercase UUID", func(x *task.Task) { x.ID = strings.ToUpper(uuid) }},
		{"UUID without dashes", func(x *task.Task) { x.ParentID = strings.ReplaceAll(uuid, "-", "") }},
		{"uppercase sha", func(x *task.Task) { x.Plugin = strings.ToUpper(sha) }},
		{"63 hex digits", func(x *task.Task) { x.Plugin = sha[1:] }},
		{"plain ids", func(x *task.Task) { x.ID, x.ParentID, x.TaskTreeID, x.UserID = "a", "b\x00", "c", "dé" }},
		{"invalid UTF-8 ids", func(x *task.Task) { x.ID, x.UserID, x.Plugin = "\xff", "u\xfe", "\xc3" }},
		{"unknown status", func(x *task.Task) { x.Status = "paused" }},
		{"invalid UTF-8 status", func(x *task.Task) { x.Status = "\xff" }},
		{"negative numbers", func(x *task.Task) { x.Priority, x.Seq, x.Attempts = -1, -1<<40, -3 }},
		{"times before 1970 and unordered", func(x *task.Task) {
			x.CreatedAt, x.StartedAt = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999, time.FixedZone("x", -3600))
		}},
		{"only later times", func(x *task.Task) { x.CreatedAt = time.Time{} }},
		{"just before 1970, under a microsecond", func(x *task.Task) { x.StartedAt = time.Date(1969, 12, 31, 23, 59, 59, 999999900, time.UTC) }},
		{"years 0 and 9999", func(x *task.Task) {
			x.CreatedAt, x.CompletedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
		}},
		{"one dependency", func(x *task.Task) {
			x.Dependencies = []task.Dependency{{ID: "2" + uuid[1:], Required: true, Key: "c16"}}
		}},
		{"year 10000 (unreadable, as in the wire form)", func(x *task.Task) { x.CompletedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"no usage", func(x *task.Task) { x.Usage = nil }},
		{"zero usage", func(x *task.Task) { x.Usage = &task.Usage{} }},
		{"huge usage", func(x *task.Task) {
			x.Usage = &task.Usage{DurationMS: math.MaxFloat64, PeakMemoryPages: math.MaxUint32, BytesOut: math.MinInt64}
		}},
		{"nil dependencies and inputs", func(x *task.Task) { x.Dependencies, x.Inputs = nil, nil }},
		{"empty params and schemas", func(x *task.Task) { x.Params, x.Schemas = map[string]any{}, map[string]any{} }},
		{"false result", func(x *task.Task) { x.Result = false }},
		{"empty string result", func(x *task.Task) { x.Result = "" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			x := typical()
			c.mod(x)
			raw := checkReadsAsWire(t, x)
			// A typical task stays well under the value threshold, and so does one with a
			// dependency (a chain's): both live in the LSM tree (Options.ValueThreshold).
			if budget := map[string]int{"typical": 256, "one dependency": DefaultValueThreshold}[c.name]; budget > 0 && len(raw) >= budget {
				t.Fatalf("stored in %d bytes, not under %d: %q", len(raw), budget, raw)
			}
		})
	}
	bad := typical()
	bad.Usage.DurationMS = math.NaN()
	if _, err := marshalTask(bad); err == nil {
		t.Fatal("a NaN duration was stored; the wire form cannot hold it")
	}
}

// FuzzUnmarshalTask: any bytes read as a stored value decode or fail, never panic, and a
// value in the compact form that decodes encodes to a value that decodes to the same task.
func FuzzUnmarshalTask(f *testing.F) {
	x := mk("a7b6f6a5-6f0e-4b8e-9d3c-1f5f7a3c2e11", "p", 3)
	x.Usage = &task.Usage{DurationMS: 1.5}
	x.CreatedAt, x.Plugin = time.Now(), strings.Repeat("ab", 32)
	raw, err := marshalTask(x)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add([]byte(`{"id":"x"}`))
	f.Add([]byte{compactTag, strBytes, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := unmarshalTask(data)
		if err != nil || data[0] != compactTag {
			return
		}
		again, err := marshalTask(got)
		if err != nil {
			return // e.g. a huge float the wire form cannot hold
		}
		back, err := unmarshalTask(again)
		if err != nil {
			t.Fatalf("re-encoded value %q does not decode: %v", again, err)
		}
		if !reflect.DeepEqual(got, back) {
			t.Fatalf("re-encoding changed the task:\n%#v\n%#v", got, back)
		}
	})
}

// FuzzCompactMatchesWire: for any values of the fields the compact form holds in binary,
// the stored value decodes exactly as the wire form does (or both fail).
func FuzzCompactMatchesWire(f *testing.F) {
	f.Add("0b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11", "p", "completed", strings.Repeat("ab", 32), int64(2), int64(1796346123456789000), int64(-1), 0.25)
	f.Add("\xff", "", "", "", int64(-1), int64(0), int64(1<<62), math.Inf(1))
	f.Fuzz(func(t *testing.T, id, parent, status, plugin string, n, created, started int64, dur float64) {
		x := &task.Task{ID: id, ParentID: parent, TaskTreeID: parent, UserID: id, Status: task.Status(status), Plugin: plugin,
			Priority: int(n), Seq: int(n >> 3), Attempts: int(n >> 7), Name: status,
			CreatedAt: time.Unix(0, created), StartedAt: time.Unix(0, started).In(time.FixedZone("z", int(n%50000))),
			Usage: &task.Usage{DurationMS: dur, HostCalls: n}}
		checkReadsAsWire(t, x)
	})
}

// checkReadsAsWire fails t unless x's stored value decodes exactly as its wire form does
// (or both fail, or both fail to encode), and returns the stored value.
func checkReadsAsWire(t *testing.T, x *task.Task) []byte {
	t.Helper()
	raw, err := marshalTask(x)
	wire, wireErr := x.MarshalJSON()
	if (err == nil) != (wireErr == nil) {
		t.Fatalf("marshalTask: %v, MarshalJSON: %v", err, wireErr)
	}
	if err != nil {
		return nil
	}
	got, err := decode(x.ID, raw)
	want, wantErr := decode(x.ID, wire)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("the stored value decodes with error %v, the wire form with %v", err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("the stored value and the wire form decode differently:\n%#v\n%#v", got, want)
	}
	return raw
}
