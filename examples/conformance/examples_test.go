package conformance_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
)

// TestExamplePlugins runs every example and template plugin built by `make kits` through
// the real host and checks its result.
func TestExamplePlugins(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file, inputs, want string
	}{
		{"word_freq", `{"text":"The cat and the hat.\nThe END","top":2}`,
			`{"bytes":28,"characters":28,"words":7,"unique_words":5,"lines":2,"average_word_length":3,"top_words":[{"word":"the","count":3},{"word":"and","count":1}]}`},
		{"template_rust", `{"name":"Ada"}`, `{"greeting":"Hello, Ada!"}`},
		{"checksum", `{"text":"123456789"}`, `{"bytes":9,"crc32":"cbf43926","fnv1a64":"06d5573923c6cdfc","base64":"MTIzNDU2Nzg5"}`},
		{"checksum", `{"text":"hello","algorithms":["base64"]}`, `{"bytes":5,"base64":"aGVsbG8="}`},
		{"template_c", `{"name":"Ada"}`, `{"greeting":"Hello, Ada!"}`},
		{"numeric_stats", `{"values":[2,4,4,4,5,5,7,9]}`, `{"count":8,"sum":40,"min":2,"max":9,"mean":5,"median":4.5,"stddev":2}`},
		{"numeric_stats", `{"values":[1],"sample":true}`, `{"error":"a sample standard deviation needs at least 2 values","code":"invalid_inputs"}`},
		{"template_assemblyscript", `{"name":"Ada"}`, `{"greeting":"Hello, Ada!"}`},
		{"minimal_wat", `{"a":[1,"x"]}`, `{"a":[1,"x"]}`},
	}
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	loaded := map[string]*sandbox.Module{}
	for _, tc := range cases {
		mod, ok := loaded[tc.file]
		if !ok {
			path := filepath.Join("..", "..", "build", "plugins", tc.file+".wasm")
			wasm, err := os.ReadFile(path)
			if err != nil {
				if os.Getenv("APFLOW_REQUIRE_KITS") != "" {
					t.Fatalf("%s missing (run `make kits`): %v", path, err)
				}
				t.Logf("skipping %s: %v (run `make kits`)", tc.file, err)
				continue
			}
			if mod, err = rt.Load(ctx, wasm, tc.file+".wasm"); err != nil {
				t.Fatalf("load %s: %v", tc.file, err)
			}
			loaded[tc.file] = mod
		}
		resp, err := mod.Execute(ctx, &executor.Request{Inputs: json.RawMessage(tc.inputs)})
		if err != nil {
			t.Errorf("%s %s: %v", tc.file, tc.inputs, err)
			continue
		}
		var got, want any
		if err := json.Unmarshal(resp.Output, &got); err != nil {
			t.Fatalf("%s: result %s: %v", tc.file, resp.Output, err)
		}
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.file, tc.inputs, resp.Output, tc.want)
		}
	}
}
