package task

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// referenceWire is the wire struct of t: what encoding/json writes for it is what the
// encoder must write.
func referenceWire(t *Task) *wire {
	w := wire{
		ID: t.ID, ParentID: nullStr(t.ParentID), TaskTreeID: nullStr(t.TaskTreeID),
		UserID: nullStr(t.UserID), Name: t.Name, Status: t.Status, Priority: t.Priority,
		Dependencies: t.Dependencies, Inputs: t.Inputs, Params: t.Params, Schemas: t.Schemas,
		Result: t.Result, Error: nullStr(t.Error), Progress: t.Progress,
		CreatedAt: nullTime(t.CreatedAt), UpdatedAt: nullTime(t.UpdatedAt),
		StartedAt: nullTime(t.StartedAt), CompletedAt: nullTime(t.CompletedAt),
		HasChildren: t.HasChildren, OriginType: nullStr(string(t.OriginType)),
		OriginalTaskID: nullStr(t.OriginalTaskID), HasReferences: t.HasReferences,
		ScheduleType: nullStr(t.ScheduleType), ScheduleExpression: nullStr(t.ScheduleExpression),
		ScheduleEnabled: t.ScheduleEnabled, ScheduleStartAt: nullTime(t.ScheduleStartAt),
		ScheduleEndAt: nullTime(t.ScheduleEndAt), NextRunAt: nullTime(t.NextRunAt),
		LastRunAt: nullTime(t.LastRunAt), RunCount: t.RunCount, ScheduleTimezone: nullStr(t.ScheduleTimezone),
		Plugin: nullStr(t.Plugin), Attempts: t.Attempts, Retry: t.Retry.wire(), Usage: t.Usage,
		InputsBeforeHooks: t.InputsBeforeHooks, HookErrors: t.HookErrors, Seq: t.Seq,
	}
	if w.Dependencies == nil {
		w.Dependencies = []Dependency{}
	}
	if w.Inputs == nil {
		w.Inputs = map[string]any{}
	}
	if t.MaxRuns > 0 {
		w.MaxRuns = &t.MaxRuns
	}
	if t.Limits != (Limits{}) {
		w.Limits = &t.Limits
	}
	w.Run = t.Run.wire()
	return &w
}

// checkEncoding fails unless MarshalJSON writes what encoding/json writes for the wire
// struct, or both fail.
func checkEncoding(t *testing.T, tk *Task) {
	t.Helper()
	want, wantErr := json.Marshal(referenceWire(tk))
	got, err := tk.MarshalJSON()
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error %v, encoding/json's %v", err, wantErr)
	}
	if string(got) != string(want) {
		t.Fatalf("MarshalJSON\n%s\nencoding/json\n%s", got, want)
	}
	all, err := SelectFields(FieldNames())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := all.Marshal(tk); (err != nil) != (wantErr != nil) || string(got) != string(want) {
		t.Fatalf("all fields\n%s (%v)\nencoding/json\n%s", got, err, want)
	}
	if wantErr != nil {
		return
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(want, &members); err != nil {
		t.Fatal(err)
	}
	for _, name := range FieldNames() { // each field alone, as a projection writes it
		f, err := SelectFields([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.Marshal(tk); err != nil || string(got) != `{"`+name+`":`+string(members[name])+`}` {
			t.Fatalf("field %s alone: %s (%v), encoding/json: %s", name, got, err, members[name])
		}
	}
}

// TestEncoderWritesEveryMember: a Usage and a Dependency with every field set encode as
// encoding/json encodes them, so a field added to either is not left out of the wire
// form (with omitempty, a zero field would be missing on both sides).
func TestEncoderWritesEveryMember(t *testing.T) {
	t.Parallel()
	var u Usage
	var d Dependency
	for _, v := range []reflect.Value{reflect.ValueOf(&u).Elem(), reflect.ValueOf(&d).Elem()} {
		for i := range v.NumField() {
			switch f := v.Field(i); f.Kind() {
			case reflect.String:
				f.SetString("x" + strconv.Itoa(i))
			case reflect.Bool:
				f.SetBool(true)
			case reflect.Int, reflect.Int32, reflect.Int64:
				f.SetInt(int64(i + 1))
			case reflect.Uint, reflect.Uint32, reflect.Uint64:
				f.SetUint(uint64(i + 1))
			case reflect.Float64:
				f.SetFloat(float64(i) + 0.5)
			default:
				t.Fatalf("%s.%s: a %s; set it here", v.Type(), v.Type().Field(i).Name, f.Kind())
			}
		}
	}
	checkEncoding(t, &Task{ID: "every member", Usage: &u, Dependencies: []Dependency{d}})
}

func TestEncoderMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for _, c := range []struct {
		name string
		task *Task
	}{
		{"bare", &Task{}},
		{"full", &Task{ID: "full", ParentID: "p", TaskTreeID: "r", UserID: "u", Name: "n", Status: Failed, Priority: 1,
			Dependencies: []Dependency{{ID: "d", Required: true}, {ID: "e", Key: "k"}}, Inputs: map[string]any{"a": 1.0},
			Params: map[string]any{"executor_id": "x"}, Schemas: map[string]any{"method": "m"}, Result: []any{"r", nil},
			Error: "boom", Progress: 0.5, CreatedAt: now, UpdatedAt: now, StartedAt: now, CompletedAt: now,
			HasChildren: true, OriginType: "copy", OriginalTaskID: "o", HasReferences: true,
			ScheduleType: "cron", ScheduleExpression: "* * * * *", ScheduleEnabled: true, ScheduleStartAt: now,
			ScheduleEndAt: now, NextRunAt: now, LastRunAt: now, MaxRuns: 3, RunCount: 2, ScheduleTimezone: "UTC",
			Plugin: "abc", Attempts: 2,
			Retry:  &RetryState{MaxAttempts: 2, NextAttemptAt: now, History: []Attempt{{Attempt: 1, StartedAt: now, Error: "e"}}},
			Limits: Limits{TimeoutMS: 5, MemoryPages: 2}, Usage: &Usage{DurationMS: 1.5, PeakMemoryPages: 17, HostCalls: 3,
				BytesIn: 4, BytesOut: 5, LLMInputTokens: 6, LLMOutputTokens: 7},
			InputsBeforeHooks: map[string]any{}, HookErrors: []string{"h"}, Seq: 9, Run: &RunMarker{TaskID: "r", Full: true, StartedAt: now}}},
		{"strings to escape", &Task{ID: "<a&b>", Name: "q\"u\\o\x00\x01\x1f\x7f\b\f\n\r\t", Error: "bad \xff\xfe utf-8 \u2028\u2029 é 😀",
			Inputs: map[string]any{"<k>": "v&", "": "", "\xff": "\u2029"}}},
		{"floats", &Task{Progress: 1e-7, Usage: &Usage{DurationMS: 1e21},
			Result: []any{0.0, math.Copysign(0, -1), 1e-6, 123456789012345678.0, 0.1, 1.0 / 3, -2.5e-300, math.MaxFloat64}}},
		{"values of other Go types", &Task{Inputs: map[string]any{"int": 3, "strings": map[string]string{"b": "<"},
			"number": json.Number("12.50"), "numbers": []any{json.Number("-0"), json.Number("0.5e+10"), json.Number("-12E-3"),
				json.Number("")}, "struct": struct{ A int }{1}, "nil list": []any(nil), "bytes": []byte("hi")},
			Result: map[string]int{"n": 1}}},
		{"nested deep", &Task{Result: deep(150)}},
		{"no usage fields but the duration", &Task{Usage: &Usage{}}},
		{"times at the edges", &Task{CreatedAt: time.Date(0, 1, 1, 0, 0, 0, 999, time.UTC),
			UpdatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), StartedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
			CompletedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), NextRunAt: time.Date(2026, 3, 1, 0, 0, 0, 1000, time.FixedZone("y", -7200))}},
		{"NaN", &Task{Progress: math.NaN()}},
		{"an infinite result", &Task{Result: []any{math.Inf(1)}}},
		{"a cycle", &Task{Inputs: cyclic}},
		{"not a number", &Task{Result: []any{json.Number("1.")}}},
		{"not a number either", &Task{Result: json.Number("01")}},
	} {
		t.Run(c.name, func(t *testing.T) { checkEncoding(t, c.task) })
	}
}

// deep is a value nested n levels: lists in maps.
func deep(n int) any {
	var v any = "bottom"
	for i := range n {
		if i%2 == 0 {
			v = []any{v}
		} else {
			v = map[string]any{"k": v}
		}
	}
	return v
}

// FuzzEncoderMatchesEncodingJSON: for any strings, numbers and JSON inputs and result,
// MarshalJSON writes what encoding/json writes.
func FuzzEncoderMatchesEncodingJSON(f *testing.F) {
	f.Add("name", "err", 0.5, int64(3), `{"a":[1,"<",null,{"b":true}]}`, `[1e-7,"x"]`)
	f.Add("\u2028\xff<>&\x00", "", 1e21, int64(-1), `{}`, `null`)
	f.Add("", "\"\\", math.SmallestNonzeroFloat64, int64(0), `{"\u00e9":"\ud83d\ude00"}`, `"s"`)
	f.Add("n", "-0.5e-7", 2.0, int64(7), `{"n":-12.5E+3}`, `[0]`)
	f.Fuzz(func(t *testing.T, name, errText string, progress float64, seq int64, inputs, result string) {
		tk := &Task{ID: name, Name: name, Error: errText, Progress: progress, Seq: int(seq), CreatedAt: time.Unix(seq, seq),
			Dependencies: []Dependency{{ID: errText, Key: name}}, Usage: &Usage{DurationMS: progress, HostCalls: seq}}
		dec := json.NewDecoder(strings.NewReader(inputs))
		dec.UseNumber() // as the stored form is read
		_ = dec.Decode(&tk.Inputs)
		// A number literal, "" (written as 0), or an error on both sides.
		tk.InputsBeforeHooks = map[string]any{"n": json.Number(errText)}
		_ = json.Unmarshal([]byte(result), &tk.Result)
		checkEncoding(t, tk)
	})
}

// BenchmarkMarshalJSON encodes a completed task of a run as stored and answered: ids,
// a dependency, small inputs and result, times and usage.
func BenchmarkMarshalJSON(b *testing.B) {
	now := time.Now()
	tk := &Task{ID: NewID(), ParentID: NewID(), TaskTreeID: NewID(), Name: "c1", Status: Completed, Priority: 2,
		Dependencies: []Dependency{{ID: NewID(), Required: true}}, Inputs: map[string]any{"i": 1.0},
		Schemas: map[string]any{"method": "echo"}, Result: map[string]any{"i": 1.0}, Progress: 1,
		CreatedAt: now, UpdatedAt: now, StartedAt: now, CompletedAt: now, Seq: 3,
		Usage: &Usage{DurationMS: 0.12, PeakMemoryPages: 17, HostCalls: 1}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendJSONOmits: AppendJSON appends to what b holds and leaves out exactly the
// members omit names, wherever they are, commas kept right.
func TestAppendJSONOmits(t *testing.T) {
	t.Parallel()
	tk := &Task{ID: "a", Name: "n", Status: Pending, Seq: 4}
	for _, c := range []struct {
		name string
		omit func(string, []byte) bool
		want string
	}{
		{"none", func(string, []byte) bool { return false }, ""},
		{"all", func(string, []byte) bool { return true }, `>{}`},
		{"the first and the last", func(n string, _ []byte) bool { return n == "id" || n == "run" }, ""},
		{"nulls", func(_ string, v []byte) bool { return string(v) == "null" }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := tk.AppendJSON([]byte(">"), c.omit)
			if err != nil {
				t.Fatal(err)
			}
			if c.want != "" {
				if string(got) != c.want {
					t.Fatalf("%s, want %s", got, c.want)
				}
				return
			}
			var all, kept map[string]json.RawMessage
			whole, _ := tk.MarshalJSON()
			if err := json.Unmarshal(whole, &all); err != nil {
				t.Fatal(err)
			}
			if got[0] != '>' {
				t.Fatalf("%s does not start with what b held", got)
			}
			if err := json.Unmarshal(got[1:], &kept); err != nil {
				t.Fatalf("%s: %v", got, err)
			}
			for n, v := range all {
				if _, ok := kept[n]; ok == c.omit(n, v) {
					t.Errorf("member %s: kept %v", n, ok)
				}
			}
			if len(kept) == len(all) && c.name != "none" {
				t.Errorf("nothing left out: %s", got)
			}
		})
	}
}
