package main

import (
	"encoding/json"
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func TestEchoesItsInput(t *testing.T) {
	t.Parallel()
	for _, in := range []map[string]any{{}, {"i": 7}, {"text": "a", "nested": map[string]any{"n": []any{1, "x"}}}} {
		want, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		res := apflowtest.New(t).Execute(in)
		if res.Failed() || string(res.Raw) != string(want) {
			t.Fatalf("echo(%s) = %s", want, res.Raw)
		}
	}
}
