package submit_test

import (
	"context"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/submit"
)

// TestPrepareAgainstAStore checks the store-backed Exists and TreeExists: a submission
// reusing a stored task id, or a stored tree id, is refused before anything is written.
func TestPrepareAgainstAStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	opts := submit.Options{Exists: submit.ExistsIn(st), TreeExists: submit.TreeExistsIn(st)}
	first, err := submit.Prepare(ctx, []byte(`[{"id": "r1", "name": "r", "schemas": {"method": "x"}}]`), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tree, field string
	}{
		{"stored task id", `[{"id": "r1", "name": "again", "schemas": {"method": "x"}}]`, "id"},
		{"stored tree id", `[{"id": "r2", "name": "other", "task_tree_id": "r1", "schemas": {"method": "x"}}]`, "task_tree_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := submit.Prepare(ctx, []byte(tc.tree), opts)
			e := apferr.As(err)
			if e == nil {
				t.Fatalf("Prepare accepted a submission that reuses a %s", tc.name)
			}
			probs, _ := e.Data.(map[string]any)["errors"].([]apferr.Problem)
			if len(probs) != 1 || probs[0].Field != tc.field {
				t.Fatalf("problems = %+v, want one on field %s", probs, tc.field)
			}
		})
	}
	if _, err := submit.Prepare(ctx, []byte(`[{"id": "r3", "name": "new", "schemas": {"method": "x"}}]`), opts); err != nil {
		t.Fatalf("a fresh id must pass: %v", err)
	}
}
