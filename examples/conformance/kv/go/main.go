// Command kv_go is the kv conformance plugin, Go edition (examples/conformance/kv_test.go).
package main

import (
	"encoding/json"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the inputs.
type In struct {
	Key string `json:"key" jsonschema:"required"`
}

// Out is the result.
type Out struct {
	Before  bool            `json:"before"`
	Claimed bool            `json:"claimed"`
	Value   json.RawMessage `json:"value"`
	Keys    []string        `json:"keys"`
	Deleted bool            `json:"deleted"`
	After   bool            `json:"after"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID: "kv_go", Name: "KV (go)", Version: "1.0.0", Capabilities: []string{"kv"},
		Run: run,
	})
}

// run is the sequence of examples/conformance/README.md ("kv"); a refused call ends it
// with that call's error and code.
func run(ctx *apflow.Context, in In) (Out, error) {
	var out Out
	var ignored json.RawMessage
	var err error
	if out.Before, err = ctx.KVGet(in.Key, &ignored); err != nil {
		return Out{}, err
	}
	if err := ctx.KVSet(in.Key, map[string]int{"n": 1}, 60*time.Second); err != nil {
		return Out{}, err
	}
	if out.Claimed, err = ctx.KVSetIfAbsent(in.Key, "other", 0); err != nil {
		return Out{}, err
	}
	if _, err := ctx.KVGet(in.Key, &out.Value); err != nil {
		return Out{}, err
	}
	if err := ctx.KVSet(in.Key+"/2", true, 0); err != nil {
		return Out{}, err
	}
	if out.Keys, _, err = ctx.KVList(in.Key, "", 10); err != nil {
		return Out{}, err
	}
	if out.Deleted, err = ctx.KVDelete(in.Key); err != nil {
		return Out{}, err
	}
	if out.After, err = ctx.KVGet(in.Key, &ignored); err != nil {
		return Out{}, err
	}
	return out, nil
}
