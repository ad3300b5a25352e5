package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestLocalizeIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"ids become names, kept as injection keys",
			`[{"id":"r","name":"Report","task_tree_id":"t","dependencies":["f",{"id":"p","required":false}]},
			  {"id":"f","name":"Fetch","parent_id":"r","inputs":{"n":9007199254740993}},{"id":"p","name":"Parse","parent_id":"r","dependencies":["f"]}]`,
			`[{"dependencies":[{"name":"Fetch","key":"f"},{"name":"Parse","required":false,"key":"p"}],"name":"Report"},
			  {"name":"Fetch","parent_id":"Report","inputs":{"n":9007199254740993}},{"dependencies":[{"name":"Fetch","key":"f"}],"name":"Parse","parent_id":"Report"}]`, false},
		{"an id wins over a name, as on the server",
			`[{"id":"a","name":"b"},{"id":"b","name":"c","parent_id":"a"},{"name":"d","parent_id":"b","dependencies":["b"]}]`,
			`[{"name":"b"},{"name":"c","parent_id":"b"},{"dependencies":[{"name":"c","key":"b"}],"name":"d","parent_id":"c"}]`, false},
		{"one task", `{"id":"x","name":"X"}`, `{"name":"X"}`, false},
		{"no ids: unchanged", `[{"name":"a"}]`, `[{"name":"a"}]`, false},
		{"not an array: left to the server", `{"x":1}`, `{"x":1}`, false},
		{"an id without a name", `[{"id":"a","name":"A"},{"id":"b"}]`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := localizeIDs(json.RawMessage(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			gb, wb := canonicalJSON(t, got), canonicalJSON(t, []byte(tt.want))
			if string(gb) != string(wb) {
				t.Errorf("got  %s\nwant %s", gb, wb)
			}
		})
	}
}

// FuzzLocalizeIDs: any input either fails cleanly or yields JSON.
func FuzzLocalizeIDs(f *testing.F) {
	f.Add(`[{"id":"a","name":"A","dependencies":["a",{"id":"a"}]}]`)
	f.Add(`[{"id":1,"name":[]}]`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := localizeIDs(json.RawMessage(in))
		if err == nil && json.Valid([]byte(in)) && !json.Valid(out) {
			t.Fatalf("localizeIDs(%s) = %s, not JSON", in, out)
		}
	})
}

// canonicalJSON re-encodes b with sorted keys and numbers as written.
func canonicalJSON(t *testing.T, b []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
