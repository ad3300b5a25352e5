package submit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestDecodeShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		shape Shape
		n     int
	}{
		{"array", `[{"name": "a"}, {"name": "b", "parent_id": "a"}]`, ShapeArray, 2},
		{"wrapped", `{"tasks": [{"name": "a"}], "use_streaming": false}`, ShapeWrapped, 1},
		{"single", `{"name": "a", "inputs": {"x": 1}}`, ShapeSingle, 1},
		{"whitespace around", " \n\t[{\"name\": \"a\"}] \n", ShapeArray, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub, err := Decode([]byte(tc.input), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if sub.Shape != tc.shape || len(sub.Specs) != tc.n {
				t.Errorf("shape %v with %d specs, want %v with %d", sub.Shape, len(sub.Specs), tc.shape, tc.n)
			}
			if len(sub.Problems) != 0 {
				t.Errorf("unexpected problems %v", sub.Problems)
			}
		})
	}
}

func TestDecodeDependencyShapes(t *testing.T) {
	t.Parallel()
	sub, err := Decode([]byte(`{"name": "a", "dependencies": [
		"x", {"id": "y"}, {"id": "z", "required": false, "type": "result"}, {"name": "w", "required": null},
		{"id": "v", "name": "ignored"}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []DepRef{{Ref: "x", Required: true}, {Ref: "y", Required: true}, {Ref: "z"},
		{Ref: "w", ByName: true, Required: true}, {Ref: "v", Required: true}}
	got := sub.Specs[0].Dependencies
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("dependency %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDecodeMalformedJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		input     string
		line, col int
	}{
		{"double comma", "[\n {\"name\": \"x\",\n  \"priority\": 1,,\n}]", 3, 17},
		{"trailing garbage", "[{\"name\": \"x\"}]\n]", 2, 1},
		{"unterminated", "[{\"name\": \"x\"", 1, 13},
		{"empty", "", 1, 1},
		{"bare word", "tasks", 1, 2},
		{"non-ascii before error", "[{\"name\": \"héllo\" x}]", 1, 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tc.input), Options{})
			ae := apferr.As(err)
			if ae == nil || ae.Code != apferr.ParseError {
				t.Fatalf("error %v, want a ParseError", err)
			}
			data := ae.Data.(map[string]any)
			if data["line"] != tc.line || data["column"] != tc.col {
				t.Errorf("line %v column %v, want %d:%d (%s)", data["line"], data["column"], tc.line, tc.col, ae.Message)
			}
			if !strings.Contains(ae.Message, "line ") || !strings.Contains(ae.Message, "column ") {
				t.Errorf("message %q does not give line and column", ae.Message)
			}
		})
	}
}

// countingReader yields n bytes of a JSON array of strings and counts what was read.
type countingReader struct {
	n, read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := int64(len(p))
	if k > r.n-r.read {
		k = r.n - r.read
	}
	for i := int64(0); i < k; i++ {
		switch {
		case r.read+i == 0:
			p[i] = '['
		default:
			p[i] = ' '
		}
	}
	r.read += k
	return int(k), nil
}

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	const fifty = 50 << 20
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		big := make([]byte, fifty)
		_, err := Decode(big, Options{})
		ae := apferr.As(err)
		if ae == nil || ae.Code != apferr.InvalidParams {
			t.Fatalf("error %v, want InvalidParams", err)
		}
		if !strings.Contains(ae.Message, "52428800 bytes") || !strings.Contains(ae.Message, "32 MiB") {
			t.Errorf("message %q does not give size and limit", ae.Message)
		}
	})
	t.Run("reader", func(t *testing.T) {
		t.Parallel()
		r := &countingReader{n: fifty}
		_, err := DecodeReader(r, Options{MaxBytes: 1 << 20})
		if ae := apferr.As(err); ae == nil || !strings.Contains(ae.Message, "limit of 1048576 bytes (1 MiB)") {
			t.Fatalf("error %v", err)
		}
		if r.read > 1<<20+1 {
			t.Errorf("read %d bytes of a 50 MB input with a 1 MiB limit", r.read)
		}
	})
	t.Run("reader within limit", func(t *testing.T) {
		t.Parallel()
		sub, err := DecodeReader(strings.NewReader(`[{"name": "a"}]`), Options{})
		if err != nil || len(sub.Specs) != 1 {
			t.Fatalf("sub %v, err %v", sub, err)
		}
	})
	t.Run("reader error", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("disk on fire")
		if _, err := DecodeReader(io.MultiReader(strings.NewReader("[{"), errReader{boom}), Options{}); !errors.Is(err, boom) {
			t.Fatalf("error %v does not wrap the read error", err)
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestSizeLimitIsCheap is not parallel: AllocsPerRun counts every allocation of the
// process. The size check comes before any scanning or copying.
func TestSizeLimitIsCheap(t *testing.T) {
	big := make([]byte, 50<<20)
	allocs := testing.AllocsPerRun(5, func() { _, _ = Decode(big, Options{}) })
	if allocs > 20 {
		t.Errorf("%v allocations to reject an oversized input", allocs)
	}
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"100k brackets", strings.Repeat("[", 100_000), false},
		{"100k balanced", strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000), false},
		{"deep inputs", `[{"name": "a", "inputs": {"x": ` + strings.Repeat(`{"x": `, 300) + `1` + strings.Repeat("}", 300) + `}}]`, false},
		{"brackets in strings do not count", `[{"name": "` + strings.Repeat("[", 1000) + `"}]`, true},
		{"escaped quote in string", `[{"name": "a\"[[[[", "inputs": {}}]`, true},
		{"at the limit", strings.Repeat("[", 256) + strings.Repeat("]", 256), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tc.input), Options{})
			ae := apferr.As(err)
			isDepth := ae != nil && strings.Contains(ae.Message, "deeper than 256 levels")
			if isDepth == tc.ok {
				t.Errorf("depth error %v, want depth rejection %v", err, !tc.ok)
			}
			// An invalid-params error names its field, as every -32602 does.
			if isDepth {
				if d, _ := ae.Data.(map[string]any); d["field"] != "tasks" {
					t.Errorf("depth error's data %v: want field tasks", ae.Data)
				}
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  task.Limits
	}{
		{"params.limits", `{"name": "a", "params": {"x": 1, "limits": {"timeout_ms": 1500, "memory_pages": 16, "max_result_bytes": 4096}}}`,
			task.Limits{TimeoutMS: 1500, MemoryPages: 16, MaxResultBytes: 4096}},
		{"top-level limits", `{"name": "a", "limits": {"timeout_ms": 10}}`, task.Limits{TimeoutMS: 10}},
		{"null limit values", `{"name": "a", "params": {"limits": {"timeout_ms": null}}}`, task.Limits{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sub, err := Decode([]byte(tc.input), Options{})
			if err != nil || len(sub.Problems) != 0 {
				t.Fatalf("err %v, problems %v", err, sub.Problems)
			}
			s := sub.Specs[0]
			if s.Limits != tc.want {
				t.Errorf("limits %+v, want %+v", s.Limits, tc.want)
			}
			if _, ok := s.Params["limits"]; ok {
				t.Error("params.limits left in params")
			}
		})
	}
}

func TestDecodeIgnoresUnknownAndServerFields(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	tasks, err := Prepare(context.Background(), []byte(`{"name": "a", "schemas": {"method": "echo"},
		"color": "blue", "result": {"x": 1}, "error": 5, "progress": "half", "has_children": "yes",
		"origin_type": "link", "created_at": "never", "status": null}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	a := tasks[0]
	if a.Result != nil || a.Error != "" || a.Progress != 0 || a.OriginType != "create" || a.HasChildren {
		t.Errorf("server-managed fields taken from the submission: %+v", a)
	}
}

func TestDecodeNumbersKeepPrecision(t *testing.T) {
	t.Parallel()
	sub, err := Decode([]byte(`{"name": "a", "inputs": {"big": 9007199254740993, "f": 0.1}}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := sub.Specs[0].Inputs["big"].(json.Number); !ok || got != "9007199254740993" {
		t.Errorf("big = %#v, want json.Number 9007199254740993", sub.Specs[0].Inputs["big"])
	}
}

// TestSharedSchemas: the tasks of a submission whose schemas hold a method alone share
// one schemas map per executor; any other schemas stay their own.
func TestSharedSchemas(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	tree := `[{"name": "r", "schemas": {"method": "aggregate_results_executor"}},
		{"name": "a", "parent_id": "r", "schemas": {"method": "echo"}},
		{"name": "b", "parent_id": "r", "schemas": {"method": "echo"}},
		{"name": "c", "parent_id": "r", "schemas": {"method": "echo", "input_schema": {"type": "object"}}},
		{"name": "d", "parent_id": "r", "schemas": {"method": "count"}, "inputs": {"count": 1}},
		{"name": "e", "parent_id": "r", "schemas": {"method": "echo"}}]`
	tasks, err := Prepare(t.Context(), []byte(tree), opts)
	if err != nil {
		t.Fatal(err)
	}
	same := func(a, b map[string]any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	byName := map[string]*task.Task{}
	for _, x := range tasks {
		byName[x.Name] = x
	}
	for _, tc := range []struct {
		a, b  string
		share bool
	}{
		{"a", "b", true},
		{"a", "e", true},
		{"a", "c", false}, // c has an input_schema too
		{"a", "d", false}, // another executor
		{"r", "a", false},
	} {
		if got := same(byName[tc.a].Schemas, byName[tc.b].Schemas); got != tc.share {
			t.Errorf("tasks %s and %s share their schemas map: %v, want %v", tc.a, tc.b, got, tc.share)
		}
	}
	if m := byName["c"].Schemas; len(m) != 2 || m["method"] != "echo" {
		t.Errorf("schemas of c = %v", m)
	}
}

// TestSharedSchemasBounded: a submission shares schemas maps for at most
// maxSharedSchemas executors; the tasks of any further executor keep their own.
func TestSharedSchemasBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("[")
	for i := range maxSharedSchemas + 1 {
		for k := range 2 {
			if i+k > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"name": "t%d-%d", "schemas": {"method": "m%d"}}`, i, k, i)
		}
	}
	b.WriteString("]")
	sub, err := Decode([]byte(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxSharedSchemas + 1 {
		a, c := sub.Specs[2*i].Schemas, sub.Specs[2*i+1].Schemas
		shared := reflect.ValueOf(a).Pointer() == reflect.ValueOf(c).Pointer()
		if want := i < maxSharedSchemas; shared != want {
			t.Errorf("executor m%d: tasks share their schemas map = %v, want %v", i, shared, want)
		}
	}
}
