package generate

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestFix(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{name: "one root untouched but ids",
			in:   `[{"name":"r"},{"name":"a","parent_id":"r"}]`,
			want: `[{"id":"n1","name":"r"},{"id":"n2","name":"a","parent_id":"n1"}]`},
		{name: "given ids kept, parent by id kept",
			in:   `[{"id":"x","name":"r"},{"id":"","name":"a","parent_id":"x"}]`,
			want: `[{"id":"x","name":"r"},{"id":"n1","name":"a","parent_id":"x"}]`},
		{name: "unknown parent left for the validator",
			in:   `[{"name":"r"},{"name":"a","parent_id":"nobody"}]`,
			want: `[{"id":"n1","name":"r"},{"id":"n2","name":"a","parent_id":"nobody"}]`},
		{name: "several roots wrapped, name root taken",
			in:   `[{"name":"root"},{"name":"b","parent_id":""},{"name":"c","parent_id":"b"}]`,
			want: `[{"dependencies":["root","b"],"id":"n4","inputs":{},"name":"root-2","schemas":{"method":"aggregate_results_executor"}},{"id":"n1","name":"root","parent_id":"n4"},{"id":"n2","name":"b","parent_id":"n4"},{"id":"n3","name":"c","parent_id":"n2"}]`},
		{name: "no root: nothing wrapped",
			in:   `[{"name":"a","parent_id":"b"},{"name":"b","parent_id":"a"}]`,
			want: `[{"id":"n1","name":"a","parent_id":"n2"},{"id":"n2","name":"b","parent_id":"n1"}]`},
		{name: "id of another type left as is",
			in:   `[{"id":7,"name":"a"}]`,
			want: `[{"id":7,"name":"a"}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tasks []map[string]any
			if err := json.Unmarshal([]byte(c.in), &tasks); err != nil {
				t.Fatal(err)
			}
			n := 0
			got, err := json.Marshal(fix(tasks, func() string { n++; return fmt.Sprintf("n%d", n) }))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("fix =\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
