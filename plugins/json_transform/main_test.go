package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func TestJSONTransform(t *testing.T) {
	t.Parallel()
	stats := map[string]any{"words": 120, "top_words": []any{map[string]any{"word": "go", "count": 9}, map[string]any{"word": "wasm", "count": 4}}}
	tests := []struct {
		name   string
		inputs string
		want   string
	}{
		{"no-op returns the inputs", `{"a": 1, "b": {"c": 2}}`, `{"a":1,"b":{"c":2}}`},
		{"pick nested and array paths", `{"data": {"a": {"b": 1, "c": 2}, "l": [{"x": 1}, {"x": 2}], "z": 0}, "pick": ["a.b", "l.1.x", "missing"]}`,
			`{"a":{"b":1},"l":{"1":{"x":2}}}`},
		{"rename, omit, set", `{"user": {"name": "ada", "pw": "x"}, "n": 3, "rename": {"user.name": "name", "nope": "x"}, "omit": ["user.pw"],
			"set": {"meta.count": "{{n}}", "meta.label": "n={{n}}", "meta.fixed": true}}`,
			`{"meta":{"count":3,"fixed":true,"label":"n=3"},"n":3,"name":"ada","user":{}}`},
		{"template over injected dependency results", `{"word-stats": ` + mustJSON(stats) + `, "template": {
			"summary": "{{word-stats.words}} words, top: {{word-stats.top_words.0.word | upper}}",
			"words": "{{ word-stats.words }}", "top": "{{word-stats.top_words | length}}",
			"all": "{{word-stats.top_words.1 | json}}", "missing": "{{nope | default:n/a}}", "zero": "{{nope|default:0}}"}}`,
			`{"all":"{\"count\":4,\"word\":\"wasm\"}","missing":"n/a","summary":"120 words, top: GO","top":2,"words":120,"zero":0}`},
		{"filters", `{"s": "  MiXed ", "x": 3.14159, "l": ["a", 1, true], "template": ["{{s|trim|lower}}", "{{x|round:2}}", "{{x|round}}", "{{l|join:-}}", "{{s|length}}"]}`,
			`["mixed",3.14,3,"a-1-true",8]`},
		{"whole document paths", `{"data": [1, 2], "template": {"doc": "{{.}}"}}`, `{"doc":[1,2]}`},
		{"delete array element", `{"data": {"l": [1, 2, 3]}, "omit": ["l.0"]}`, `{"l":[2,3]}`},
		{"set into array", `{"data": {"l": [1, {"a": 1}]}, "set": {"l.1.b": 2, "l.0": "x"}}`, `{"l":["x",{"a":1,"b":2}]}`},
		{"null counts as missing for default", `{"v": null, "template": "{{v | default:\"d\"}}"}`, `"d"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in map[string]any
			if err := json.Unmarshal([]byte(tt.inputs), &in); err != nil {
				t.Fatal(err)
			}
			res := apflowtest.New(t).Execute(in)
			if string(res.Raw) != tt.want {
				t.Errorf("got  %s\nwant %s", res.Raw, tt.want)
			}
		})
	}
}

func TestJSONTransformErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, inputs, code, msg string
	}{
		{"missing path", `{"template": "{{a.b}}"}`, "template", `template: path "a.b" not found`},
		{"unknown filter", `{"a": 1, "template": "{{a | shout}}"}`, "template", `unknown filter "shout"`},
		{"unclosed", `{"a": 1, "template": "x {{a"}`, "template", "unclosed {{"},
		{"round of a string", `{"a": "x", "template": "{{a|round}}"}`, "template", "round of a string"},
		{"set through a scalar", `{"a": 1, "set": {"a.b": 2}}`, "invalid_path", `cannot descend into a number`},
		{"array index out of range", `{"data": {"l": []}, "set": {"l.3": 1}}`, "invalid_path", "index out of range"},
		{"rename not an object", `{"rename": ["a"]}`, "invalid_inputs", "rename must be an object"},
		{"pick not strings", `{"pick": [1]}`, "invalid_inputs", "pick[0] must be a string"},
		{"set error names the key", `{"set": {"k": {"deep": "{{nope}}"}}}`, "template", `set "k": deep: path "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in map[string]any
			if err := json.Unmarshal([]byte(tt.inputs), &in); err != nil {
				t.Fatal(err)
			}
			res := apflowtest.New(t).ExecuteRaw([]byte(tt.inputs))
			if !res.Failed() || res.Code() != tt.code || !strings.Contains(res.Error(), tt.msg) {
				t.Errorf("result = %s, want code %s and message containing %q", res.Raw, tt.code, tt.msg)
			}
		})
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{a}}", "x {{a.b | upper}} y", "{{", "}}{{", "{{a|default:{}}}", "{{|}}", "{{a|round:99}}"} {
		f.Add(s)
	}
	ctx := map[string]any{"a": map[string]any{"b": "v"}, "n": 1.5}
	f.Fuzz(func(t *testing.T, tmpl string) {
		v, err := render(tmpl, ctx)
		if err == nil {
			if _, mErr := json.Marshal(v); mErr != nil {
				t.Fatalf("template %q rendered an unencodable value: %v", tmpl, mErr)
			}
		}
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
