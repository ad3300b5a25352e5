package pluginrun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCases(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.http.json"), []byte(`[{"request":{"url":"https://a.example/"}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, doc, errPart string }{
		{name: "array", doc: `[{"name":"a","input":{"x":1},"expect":{"result":{"x":1}}}]`},
		{name: "wrapped", doc: `{"cases":[{"name":"a","expect":{}}]}`},
		{name: "fixture file", doc: `[{"name":"a","http":"a.http.json","expect":{}}]`},
		{name: "inline fixture", doc: `[{"name":"a","http":[{"request":{"url":"https://a.example/"}}],"expect":{}}]`},
		{name: "no cases", doc: `[]`, errPart: "no cases"},
		{name: "no name", doc: `[{"expect":{}}]`, errPart: "case 0: name is required"},
		{name: "same name", doc: `[{"name":"a"},{"name":"a"}]`, errPart: "case a: the name is used twice"},
		{name: "unknown field", doc: `[{"name":"a","expected":{}}]`, errPart: `case a: unknown field "expected"`},
		// A wrong type names the case and the field in the file's terms, not Go's.
		{name: "wrong type", doc: `[{"name":"a"},{"name":"kv","grants":{"kv":true}}]`, errPart: "case kv: grants.kv: must be an object, not bool"},
		{name: "wrong type, no name", doc: `[{"limits":{"timeout_ms":"5"}}]`, errPart: "case 0: limits.timeout_ms: must be an integer, not string"},
		{name: "not a case", doc: `[{"name":"a"}, 5]`, errPart: "case 1: must be an object, not number"},
		{name: "unknown expectation", doc: `[{"name":"a","expect":{"status":1}}]`, errPart: `unknown field "status"`},
		{name: "bad hook", doc: `[{"name":"a","hook":"around"}]`, errPart: `hook "around"`},
		{name: "error and result", doc: `[{"name":"a","expect":{"error":"x","result":{}}}]`, errPart: "exclude each other"},
		{name: "empty error", doc: `[{"name":"a","expect":{"error":""}}]`, errPart: "expect.error: must not be empty"},
		{name: "bad schema", doc: `[{"name":"a","expect":{"result_schema":{"type":"thing"}}}]`, errPart: "expect.result_schema"},
		{name: "repository", doc: `[{"name":"a","grants":{"repository":true}}]`, errPart: "grants.repository"},
		{name: "config twice", doc: `[{"name":"a","config":{"k":"1"},"grants":{"config":{"k":"2"}}}]`, errPart: `config "k" is given both`},
		{name: "missing fixture file", doc: `[{"name":"a","http":"nope.http.json"}]`, errPart: "read http fixture"},
		{name: "bad inline fixture", doc: `[{"name":"a","http":[{"request":{}}]}]`, errPart: "pair 0"},
		{name: "memory pages", doc: `[{"name":"a","limits":{"memory_pages":70000}}]`, errPart: "limits.memory_pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseCases(filepath.Join(dir, "cases.json"), []byte(tt.doc))
			if tt.errPart == "" && err != nil {
				t.Fatal(err)
			}
			if tt.errPart != "" && (err == nil || !strings.Contains(err.Error(), tt.errPart)) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.errPart)
			}
		})
	}
}

func TestRunCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, plugin, doc string
		problems          []string // each a part of one problem line, in order; none: passes
	}{
		{name: "exact", plugin: "echo", doc: `{"name":"c","input":{"a":1.0,"b":[1,2]},"expect":{"result":{"b":[1,2],"a":1}}}`},
		{name: "exact differs", plugin: "echo", doc: `{"name":"c","input":{"a":1,"b":[1,3],"c":"x"},"expect":{"result":{"a":2,"b":[1,2],"d":true}}}`,
			problems: []string{"result differs (4 places):", "$.a: want 2, got 1", "$.b[1]: want 2, got 3", "$.d: missing, want true", `$.c: unexpected, got "x"`}},
		{name: "subset", plugin: "echo", doc: `{"name":"c","input":{"a":{"b":1,"c":2},"d":3},"expect":{"result_subset":{"a":{"b":1}}}}`},
		{name: "subset differs", plugin: "echo", doc: `{"name":"c","input":{"a":{"b":1}},"expect":{"result_subset":{"a":{"b":2}}}}`,
			problems: []string{"result_subset differs (1 place):", "$.a.b: want 2, got 1"}},
		{name: "schema", plugin: "echo", doc: `{"name":"c","input":{"n":3},"expect":{"result_schema":{"properties":{"n":{"type":"integer"}}}}}`},
		{name: "schema refuses", plugin: "echo", doc: `{"name":"c","input":{"n":"3"},"expect":{"result_schema":{"properties":{"n":{"type":"integer"}}}}}`,
			problems: []string{"result_schema: result.n"}},
		{name: "expected error", plugin: "strict", doc: `{"name":"c","input":{},"expect":{"error":"missing properties: 'name'"}}`},
		{name: "other error", plugin: "strict", doc: `{"name":"c","input":{},"expect":{"error":"timed out"}}`,
			problems: []string{`error: want it to contain "timed out", got "plugin strict`}},
		{name: "error expected, result given", plugin: "echo", doc: `{"name":"c","expect":{"error":"boom"}}`,
			problems: []string{`want an error containing "boom", got the result {}`}},
		{name: "unexpected failure", plugin: "unreachable", doc: `{"name":"c"}`, problems: []string{"failed: plugin unreachable"}},
		{name: "logs", plugin: "echo", doc: `{"name":"c","expect":{"logs":["info  echo called"]}}`},
		{name: "logs in order", plugin: "echo", doc: `{"name":"c","expect":{"logs":["echo called","echo called"]}}`,
			problems: []string{`logs: no line (after the previous match) contains "echo called"`}},
		{name: "fixture", plugin: "http_proxy", doc: `{"name":"c","input":{"url":"https://a.example/"},"grants":{"http":["a.example"]},
			"http":[{"request":{"url":"https://a.example/"},"response":{"status":204}}],"expect":{"result_subset":{"status":204}}}`},
		{name: "unmatched request", plugin: "http_proxy", doc: `{"name":"c","input":{"url":"https://a.example/z"},"grants":{"http":["a.example"]},
			"http":[]}`,
			problems: []string{"http: no fixture pair answered GET https://a.example/z", "failed: request failed"}},
		{name: "unmatched request expected", plugin: "http_proxy", doc: `{"name":"c","input":{"url":"https://a.example/z"},"grants":{"http":["a.example"]},
			"http":[],"expect":{"error":"no http fixture pair answers GET https://a.example/z"}}`},
		{name: "hook", plugin: "hook", doc: `{"name":"c","hook":"post","input":{},"config":{"{}":"[7]"},"expect":{"result":[7]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, tg := setup(t, tt.plugin)
			f, err := ParseCases("cases.json", []byte("["+tt.doc+"]"))
			if err != nil {
				t.Fatal(err)
			}
			results, err := r.RunCases(context.Background(), tg, f)
			if err != nil {
				t.Fatal(err)
			}
			got := results[0].Problems
			if len(got) != len(tt.problems) {
				t.Fatalf("problems = %q, want %d containing %q", got, len(tt.problems), tt.problems)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.problems[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tt.problems[i])
				}
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	r, tg := setup(t, "echo")
	path := filepath.Join(t.TempDir(), "cases.json")
	doc := `{"cases": [
	  {"name": "stale", "input": {"a": 2}, "expect": {"result": {"a": 1}}},
	  {"name": "new", "input": {"a": 3}},
	  {"name": "wrong error", "input": {"error": "x < 1 & y > 2"}, "expect": {"error": "bang"}},
	  {"name": "subset", "input": {"a": 2}, "expect": {"result_subset": {"a": 1}}},
	  {"name": "logs", "input": {"a": 2}, "expect": {"result": {"a": 1}, "logs": ["nothing like it"]}}
	]}`
	f, err := ParseCases(path, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	results, err := r.RunCases(context.Background(), tg, f)
	if err != nil {
		t.Fatal(err)
	}
	if n := Update(f, results); n != 2 {
		t.Fatalf("Update = %d, want 2 (stale and wrong error)", n)
	}
	if err := f.WriteFile(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), `{`+"\n"+`  "cases": [`) {
		t.Fatalf("the file lost its form:\n%s", data)
	}
	if !strings.Contains(string(data), `"x < 1 & y > 2"`) {
		t.Fatalf("the updated error is not written as it reads:\n%s", data)
	}
	again, err := ParseCases(path, data)
	if err != nil {
		t.Fatalf("updated file: %v\n%s", err, data)
	}
	results, err = r.RunCases(context.Background(), tg, again)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, res := range results {
		if !res.Passed() {
			failed = append(failed, res.Case.Name)
		}
	}
	if strings.Join(failed, ",") != "subset,logs" {
		t.Fatalf("failed after update: %v, want subset,logs\n%s", failed, data)
	}
}

// TestExpectedError: what --update expects of a failed case survives a rebuild of the
// plugin: no hash, no stack trace.
func TestExpectedError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plugin bad_c (sha256 43e31146e119…): trapped: unreachable\nwasm stack trace:\n\tbad_c.run()", "trapped: unreachable"},
		{"plugin echo (sha256 9f86d081884c…): invalid input: inputs.n: expected integer", "invalid input: inputs.n: expected integer"},
		{"boom", "boom"},
		{"plugin of mine failed): for reasons", "plugin of mine failed): for reasons"},
		// A source location moves with any edit above it.
		{"plugin slug (sha256 1f2e…): panicked: thread '<unnamed>' panicked at 'empty title', src/lib.rs:12:20 (trapped: unreachable)",
			"panicked: thread '<unnamed>' panicked at 'empty title'"},
		{"plugin c (sha256 1f2e…): Assertion failed: n > 0 (main.c: execute: 12) (trapped: unreachable)", "Assertion failed: n > 0"},
	} {
		if got := expectedError(tc.in); got != tc.want {
			t.Errorf("expectedError(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReadCasesDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, doc := range map[string]string{
		"b.json":      `[{"name":"b"}]`,
		"a.json":      `[{"name":"a","http":"x.http.json"}]`,
		"x.http.json": `[]`,
		"notes.txt":   `not json`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := ReadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[0].Path) != "a.json" || filepath.Base(files[1].Path) != "b.json" {
		t.Fatalf("files = %v", files)
	}
	if _, err := ReadCases(t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no cases file") {
		t.Fatalf("empty dir: %v", err)
	}
}

// TestDurationNeverInExponentForm: a call's time reads as a plain number of
// milliseconds, three significant digits, whatever its size.
func TestDurationNeverInExponentForm(t *testing.T) {
	t.Parallel()
	for ms, want := range map[float64]string{0.195: "0.195 ms", 12.44: "12.4 ms", 99.96: "100 ms", 3010.4: "3010 ms", 125000: "125000 ms"} {
		if got := duration(ms); got != want {
			t.Errorf("duration(%v) = %q, want %q", ms, got, want)
		}
	}
}
