package schema

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestCompileRefusesExternalRefs(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "int.json")
	if err := os.WriteFile(file, []byte(`{"type":"integer"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		`{"$ref": "file://` + file + `"}`,
		`{"properties": {"a": {"$ref": "other.json"}}}`,
		`{"$id": "http://127.0.0.1:1/x.json", "$ref": "y.json"}`,
		`{"$ref": "http://127.0.0.1:1/schema.json"}`,
	} {
		for _, d := range []Draft{Draft7, Draft2020} {
			_, err := Compile("input_schema", []byte(doc), d)
			if err == nil || !strings.Contains(err.Error(), "must be self-contained") {
				t.Errorf("%s (draft %d): err = %v, want a self-contained error", doc, d, err)
			}
			if err != nil && strings.Contains(err.Error(), "mem:///") {
				t.Errorf("%s: error leaks the internal url: %v", doc, err)
			}
		}
	}
}

func TestCompileDraft(t *testing.T) {
	t.Parallel()
	tuple := `{"items": [{"type": "string"}]}` // draft-07 tuple form; not a schema in 2020-12
	tests := []struct {
		name    string
		doc     string
		d       Draft
		compile bool
	}{
		{"draft-07 default reads tuple items", tuple, Draft7, true},
		{"2020-12 default refuses tuple items", tuple, Draft2020, false},
		{"$schema wins over the default", `{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]}`, Draft2020, true},
		{"internal $ref", `{"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}}`, Draft2020, true},
		{"boolean schema", `true`, Draft7, true},
		{"bad keyword value", `{"type": 12}`, Draft7, false},
		{"unknown draft", `{}`, Draft(5), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Compile("input_schema", []byte(tt.doc), tt.d)
			if (err == nil) != tt.compile {
				t.Fatalf("err = %v, want compile=%v", err, tt.compile)
			}
			if err == nil && tt.doc == tuple {
				if err := s.ValidateJSON([]byte(`[1]`)); err == nil {
					t.Fatal("[1] satisfies a tuple of one string")
				}
			}
		})
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	s := MustCompile("input_schema", []byte(`{
		"type": "object", "required": ["name"], "additionalProperties": false,
		"properties": {"name": {"type": "string"}, "a/b": {"type": "integer"},
			"n": {"type": "object", "properties": {"z": {"type": "string"}, "y": {"minimum": 3}}}}}`), Draft7)
	err := s.ValidateJSON([]byte(`{"a/b": "x", "n": {"z": 1, "y": 1}, "extra": 1}`))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *Error", err, err)
	}
	got := Describe(e.Problems(), "inputs")
	want := "inputs: additionalProperties 'extra' not allowed; inputs: missing properties: 'name'; " +
		"inputs.a/b: expected integer, but got string; inputs.n.y: must be >= 3 but found 1; " +
		"inputs.n.z: expected string, but got number"
	if got != want {
		t.Fatalf("Describe =\n%s\nwant\n%s", got, want)
	}
	if e.Error() != strings.ReplaceAll(strings.ReplaceAll(want, "inputs.", ""), "inputs:", "(top level):") {
		t.Fatalf("Error() = %s", e.Error())
	}
	props := map[string]string{}
	for _, p := range e.Problems() {
		props[p.Keyword] = p.Property()
	}
	if props["required"] != "name" || props["additionalProperties"] != "extra" || props["type"] != "" {
		t.Fatalf("properties by keyword = %v", props)
	}
	if p := e.Problems()[2]; len(p.Path) != 1 || p.Path[0] != "a/b" {
		t.Fatalf("path of the escaped key = %q", p.Path)
	}
}

// invalid returns the *Error of value failing the schema doc (a failure of the test if
// value passes).
func invalid(t *testing.T, doc, value string) *Error {
	t.Helper()
	err := MustCompile("s", []byte(doc), Draft7).ValidateJSON([]byte(value))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	return e
}

func TestAlternativeRequiredNamedTogether(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, value string
		want             string // Describe of the problems
		property         string // Property of the first
	}{
		{"anyOf names every alternative in order", `{"anyOf": [{"required": ["task_id"]}, {"required": ["id"]}]}`, `{}`,
			"(top level): missing properties: one of 'task_id', 'id'", "task_id"},
		{"oneOf too", `{"oneOf": [{"required": ["task_id"]}, {"required": ["id"]}, {"required": ["tasks"]}]}`, `{}`,
			"(top level): missing properties: one of 'task_id', 'id', 'tasks'", "task_id"},
		{"nested", `{"properties": {"o": {"anyOf": [{"required": ["b"]}, {"required": ["a"]}]}}}`, `{"o": {}}`,
			"o: missing properties: one of 'b', 'a'", "b"},
		{"an alternative requiring two stays apart", `{"anyOf": [{"required": ["a", "b"]}, {"required": ["c"]}]}`, `{}`,
			"(top level): missing properties: 'a', 'b'; (top level): missing properties: 'c'", "a"},
		{"an alternative requiring two through allOf stays apart",
			`{"anyOf": [{"allOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"required": ["c"]}]}`, `{}`,
			"(top level): missing properties: 'a'; (top level): missing properties: 'b'; (top level): missing properties: 'c'", "a"},
		{"a property two alternatives require is named once",
			`{"anyOf": [{"required": ["a"]}, {"required": ["a"], "properties": {"a": {"type": "string"}}}, {"required": ["b"]}]}`, `{}`,
			"(top level): missing properties: one of 'a', 'b'", "a"},
		{"another failure stays apart", `{"anyOf": [{"required": ["a"]}, {"properties": {"b": {"type": "string"}}, "required": ["b"]}]}`, `{"b": 1}`,
			"(top level): missing properties: 'a'; b: expected string, but got number", "a"},
		// oneOf satisfied twice names the two alternatives' properties, not their indexes.
		{"oneOf given twice", `{"oneOf": [{"required": ["task_id"]}, {"required": ["id"]}, {"required": ["tasks"]}]}`,
			`{"task_id": "r", "tasks": []}`, "(top level): only one of 'task_id', 'tasks' may be given", "task_id"},
		{"oneOf given twice, nested", `{"properties": {"o": {"oneOf": [{"required": ["b"]}, {"required": ["a"]}]}}}`,
			`{"o": {"a": 1, "b": 2}}`, "o: only one of 'b', 'a' may be given", "b"},
		{"oneOf given twice without required keeps the indexes", `{"oneOf": [{"type": "object"}, {"minProperties": 1}]}`,
			`{"a": 1}`, "(top level): valid against schemas at indexes 0 and 1", ""},
		{"oneOf of the same required property keeps the indexes",
			`{"oneOf": [{"required": ["url"]}, {"required": ["url"], "properties": {"mode": {"const": "x"}}}]}`,
			`{"url": "u"}`, "(top level): valid against schemas at indexes 0 and 1", ""},
		{"oneOf of properties required together keeps the indexes", `{"oneOf": [{"required": ["a", "b"]}, {"required": ["c"]}]}`,
			`{"a": 1, "b": 2, "c": 3}`, "(top level): valid against schemas at indexes 0 and 1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := invalid(t, tt.doc, tt.value).Problems()
			if got := Describe(ps, ""); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if got := ps[0].Property(); got != tt.property {
				t.Fatalf("Property = %q, want %q", got, tt.property)
			}
		})
	}
}

// TestBoundsInPlainNumbers: a bound's message writes its numbers as given, never in
// exponent form.
func TestBoundsInPlainNumbers(t *testing.T) {
	t.Parallel()
	got := Describe(invalid(t, `{"properties": {"n": {"maximum": 1047552}}}`, `{"n": 2000000}`).Problems(), "")
	if strings.Contains(got, "e+") || !strings.Contains(got, "1047552") || !strings.Contains(got, "2000000") {
		t.Fatalf("got %q, want the bound and the value in plain numbers", got)
	}
}

func TestForgiving(t *testing.T) {
	t.Parallel()
	topRequired := func(p Problem) bool { return p.Keyword == "required" && len(p.Path) == 0 }
	tests := []struct {
		name, doc, value string
		want             string // Describe of the unexcused problems
	}{
		{"excused leaf", `{"required": ["a"]}`, `{}`, ""},
		{"nested required counts", `{"properties": {"o": {"required": ["a"]}}}`, `{"o": {}}`, "o: missing properties: 'a'"},
		{"other failures count", `{"required": ["a"], "properties": {"b": {"type": "string"}}}`, `{"b": 1}`,
			"b: expected string, but got number"},
		{"anyOf with an excused alternative", `{"anyOf": [{"required": ["a"]}, {"type": "array"}]}`, `{}`, ""},
		// The alternative for arrays says nothing about an object; the one for objects does.
		{"anyOf without one", `{"anyOf": [{"properties": {"b": {"type": "string"}}}, {"type": "array"}]}`, `{"b": 1}`,
			"b: expected string, but got number"},
		{"anyOf of other types only", `{"anyOf": [{"type": "string"}, {"type": "array"}]}`, `{"b": 1}`,
			"(top level): expected array, but got object; (top level): expected string, but got object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Describe(invalid(t, tt.doc, tt.value).Forgiving(topRequired), ""); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateJSONRefusesNonJSON(t *testing.T) {
	t.Parallel()
	s := MustCompile("s", []byte(`{}`), Draft7)
	for _, raw := range []string{``, `{`, `{} {}`} {
		err := s.ValidateJSON([]byte(raw))
		var e *Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("%q: err = %v, want a decoding error", raw, err)
		}
	}
	if s.Validations() != 0 {
		t.Fatalf("validations = %d, want 0: nothing reached the validator", s.Validations())
	}
}

func TestCacheCompilesEachDocumentOnce(t *testing.T) {
	t.Parallel()
	c := NewCache("input_schema", Draft7, 4)
	docs := [][]byte{[]byte(`{"type":"object"}`), []byte(`{"type":12}`)}
	var wg sync.WaitGroup
	for range 16 {
		for _, d := range docs {
			wg.Go(func() { _, _ = c.Compile(d) })
		}
	}
	wg.Wait()
	if st := c.Stats(); st.Compiles != 2 || st.Hits != 30 {
		t.Fatalf("stats = %+v, want 2 compiles and 30 hits", st)
	}
	a, err := c.Compile(docs[0])
	b, _ := c.Compile(docs[0])
	if err != nil || a != b {
		t.Fatalf("cached schema: %p %p %v", a, b, err)
	}
	if _, err := c.Compile(docs[1]); err == nil {
		t.Fatal("a bad document compiled from the cache")
	}
}

func TestCacheBoundsDocumentBytes(t *testing.T) {
	t.Parallel()
	c := NewCache("s", Draft7, 100)
	c.maxBytes = 1000
	big := func(i int) []byte { // a valid schema of about maxBytes/2
		return []byte(fmt.Sprintf(`{"maximum": %d, "description": "%s"}`, i, strings.Repeat("x", c.maxBytes/2)))
	}
	for i := range 3 {
		if _, err := c.Compile(big(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); c.Len() != 1 || st.Evictions != 2 {
		t.Fatalf("len %d, stats %+v: want one big document kept", c.Len(), st)
	}
	huge := []byte(fmt.Sprintf(`{"description": "%s"}`, strings.Repeat("x", c.maxBytes+1)))
	for range 2 {
		if _, err := c.Compile(huge); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); c.Len() != 1 || st.Hits != 1 {
		t.Fatalf("len %d, stats %+v: the latest document stays cached, however big", c.Len(), st)
	}
}

func TestCacheDropsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := NewCache("s", Draft7, 2)
	doc := func(i int) []byte { return []byte(fmt.Sprintf(`{"maximum": %d}`, i)) }
	for _, i := range []int{1, 2, 1, 3, 1, 2} { // 3 drops 2 (1 was used since); 2 then drops 3
		if _, err := c.Compile(doc(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Compiles != 4 || st.Hits != 2 || st.Evictions != 2 || c.Len() != 2 {
		t.Fatalf("stats = %+v, len %d; want 4 compiles, 2 hits, 2 evictions, 2 entries", st, c.Len())
	}
}

// TestDecode: one JSON value, with white space around it and nothing else; numbers as
// json.Number.
func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw string
		ok  bool
	}{
		{` {"a": [1, 2.5]} `, true},
		{"\n[]\t", true},
		{`{}]`, false}, // a closing bracket after the value
		{`[]}`, false},
		{`{} {}`, false},
		{`1 2`, false},
		{``, false},
		{`{"a":`, false},
	}
	for _, tt := range tests {
		v, err := Decode([]byte(tt.raw))
		if (err == nil) != tt.ok {
			t.Errorf("Decode(%q) = %v, %v; want ok %v", tt.raw, v, err, tt.ok)
		}
	}
	if v, _ := Decode([]byte(`{"n": 2.50}`)); fmt.Sprint(v) != "map[n:2.50]" {
		t.Errorf("numbers: %v, want json.Number 2.50", v)
	}
}

func TestAcceptsEveryObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc  string
		want bool
	}{
		{`true`, true},
		{` {} `, true},
		{`{"type":"object"}`, true},
		{`{"type":["null","object"]}`, true},
		{`{"$schema":"http://json-schema.org/draft-07/schema#","title":"t","description":"d","type":"object","examples":[{}],"default":{},"$comment":"c"}`, true},
		{`{"type":"object","$defs":{"x":{"type":"string"}}}`, true},
		{`false`, false},
		{`{"type":"string"}`, false},
		{`{"type":["string","array"]}`, false},
		{`{"type":"object","x-note":1}`, false}, // conservative: unknown keywords are not read
		{`{"type":"object","required":["a"]}`, false},
		{`{"type":"object","properties":{"a":{"type":"string"}}}`, false},
		{`{"type":"object","additionalProperties":false}`, false},
		{`{"type":"object","minProperties":1}`, false},
		{`{"$ref":"#/$defs/x","$defs":{"x":{"type":"string"}}}`, false},
		{`{"not":{}}`, false},
		{`{"type":"object","properties":{}}`, false}, // conservative: harmless, but not neutral
	}
	for _, doc := range []string{`[]`, `"object"`, `{"type":"object"`} { // not schemas: Compile refuses them
		if acceptsEveryObject([]byte(doc)) {
			t.Errorf("%s: acceptsEveryObject = true", doc)
		}
	}
	for _, tt := range tests {
		s, err := Compile("input_schema", []byte(tt.doc), Draft2020)
		if err != nil {
			t.Fatalf("%s: %v", tt.doc, err)
		}
		if got := s.AcceptsEveryObject(); got != tt.want {
			t.Errorf("%s: AcceptsEveryObject = %v, want %v", tt.doc, got, tt.want)
		}
		// Validate of an object runs the validator only for a schema that could reject it.
		_ = s.Validate(map[string]any{"a": 1.0})
		if ran := s.Validations() == 1; ran == tt.want {
			t.Errorf("%s: Validate of an object ran the validator: %v, want %v", tt.doc, ran, !tt.want)
		}
	}
}

// FuzzAcceptsEveryObject checks the fast path against the validator: a schema said to
// accept every object accepts each of a few objects unlike each other.
func FuzzAcceptsEveryObject(f *testing.F) {
	for _, doc := range []string{`true`, `{}`, `{"type":"object"}`, `{"type":["object","null"],"title":"x"}`,
		`{"type":"object","required":["a"]}`, `{"$defs":{"a":false},"type":"object"}`, `{"type":"object","type":"string"}`} {
		f.Add(doc)
	}
	objects := []any{map[string]any{}, map[string]any{"a": "b", "n": 1.5}, map[string]any{"x": []any{nil, true}}}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, d := range []Draft{Draft7, Draft2020} {
			s, err := Compile("input_schema", []byte(doc), d)
			if err != nil || !s.AcceptsEveryObject() {
				continue
			}
			for _, o := range objects {
				if err := s.s.Validate(o); err != nil { // the validator itself, not the fast path
					t.Fatalf("%s (draft %d) is said to accept every object, but %v fails: %v", doc, d, o, err)
				}
			}
		}
	})
}
