package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/apflow-wasm/apflow/host/submit"
)

func TestFix(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{name: "one root untouched but ids",
			in:   `[{"name":"r"},{"name":"a","parent_id":"r"}]`,
			want: `[{"id":"n1","name":"r"},{"id":"n2","name":"a","parent_id":"n1"}]`},
		{name: "given ids replaced, parent and dependencies by id rewritten",
			in:   `[{"id":"x","name":"r"},{"id":"","name":"a","parent_id":"x","dependencies":["x",{"id":"x"},"r"]}]`,
			want: `[{"id":"n1","name":"r"},{"dependencies":["n1",{"id":"n1"},"r"],"id":"n2","name":"a","parent_id":"n1"}]`},
		{name: "unknown parent left for the validator",
			in:   `[{"name":"r"},{"name":"a","parent_id":"nobody"}]`,
			want: `[{"id":"n1","name":"r"},{"id":"n2","name":"a","parent_id":"nobody"}]`},
		{name: "several roots wrapped, name root taken",
			in:   `[{"name":"root"},{"name":"b","parent_id":""},{"name":"c","parent_id":"b"}]`,
			want: `[{"dependencies":["root","b"],"id":"n4","inputs":{},"name":"root-2","schemas":{"method":"aggregate_results_executor"}},{"id":"n1","name":"root","parent_id":"n4"},{"id":"n2","name":"b","parent_id":"n4"},{"id":"n3","name":"c","parent_id":"n2"}]`},
		{name: "no root: nothing wrapped",
			in:   `[{"name":"a","parent_id":"b"},{"name":"b","parent_id":"a"}]`,
			want: `[{"id":"n1","name":"a","parent_id":"n2"},{"id":"n2","name":"b","parent_id":"n1"}]`},
		{name: "id of another type replaced",
			in:   `[{"id":7,"name":"a"}]`,
			want: `[{"id":"n1","name":"a"}]`},
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

// TestGenerateTwiceGivenIDs: the model's ids are replaced by fresh ones, so the same
// answer generated twice does not collide with the first tree's stored ids.
func TestGenerateTwiceGivenIDs(t *testing.T) {
	answer := `[{"id":"r","name":"root","schemas":{"method":"fetch_executor"},"inputs":{"url":"u"}},` +
		`{"id":"c","name":"child","parent_id":"r","dependencies":["r"],"schemas":{"method":"count_executor"},"inputs":{"text":"t"}}]`
	g, _ := setup(t, setupOpts{steps: []step{{content: answer}, {content: answer}}})
	cat := newTestCatalog(t)
	stored := map[string]bool{}
	validate := func(ctx context.Context, tree []byte) error {
		_, err := submit.Prepare(ctx, tree, submit.Options{Catalog: cat,
			Exists: func(_ context.Context, id string) (bool, error) { return stored[id], nil }})
		return err
	}
	for i := range 2 {
		res, err := g.Generate(t.Context(), Request{Requirement: "r", Validate: validate})
		if err != nil {
			t.Fatalf("generation %d: %v", i+1, err)
		}
		root, child := res.Tasks[0], res.Tasks[1]
		if child["parent_id"] != root["id"] || root["id"] == "r" {
			t.Errorf("generation %d: ids not fresh or parent not rewritten: %v", i+1, res.Tasks)
		}
		if d, _ := child["dependencies"].([]any); len(d) != 1 || d[0] != root["id"] {
			t.Errorf("generation %d: dependency not rewritten: %v", i+1, child["dependencies"])
		}
		for _, tk := range res.Tasks {
			stored[tk["id"].(string)] = true
		}
	}
}
