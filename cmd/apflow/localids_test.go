package main

import (
	"encoding/json"
	"testing"
)

func TestLocalizeIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"ids become names",
			`[{"id":"r","name":"Report","task_tree_id":"t","dependencies":["f",{"id":"p","required":false}]},
			  {"id":"f","name":"Fetch","parent_id":"r"},{"id":"p","name":"Parse","parent_id":"r","dependencies":["f"]}]`,
			`[{"dependencies":["Fetch",{"name":"Parse","required":false}],"name":"Report"},
			  {"name":"Fetch","parent_id":"Report"},{"dependencies":["Fetch"],"name":"Parse","parent_id":"Report"}]`, false},
		{"an id wins over a name, as on the server",
			`[{"id":"a","name":"b"},{"id":"b","name":"c","parent_id":"a"},{"name":"d","parent_id":"b","dependencies":["b"]}]`,
			`[{"name":"b"},{"name":"c","parent_id":"b"},{"dependencies":["c"],"name":"d","parent_id":"c"}]`, false},
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
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
				t.Fatal(err)
			}
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
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
