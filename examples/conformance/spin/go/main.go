// Command spin_go is the spin conformance plugin, Go edition
// (examples/conformance/spin_test.go).
package main

import (
	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the inputs.
type In struct {
	Mode string `json:"mode" jsonschema:"required"`
}

// Out is the result (never returned).
type Out struct{}

// sink is only written: the writes keep the compiler from removing the loops.
//
//lint:ignore U1000 written on purpose, never read
var sink int64

// tree makes a call tree of 2^n calls, never more than n deep.
//
//go:noinline
func tree(n int) {
	sink++
	if n == 0 {
		return
	}
	tree(n - 1)
	tree(n - 1)
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID: "spin_go", Name: "Spin (go)", Version: "1.0.0",
		// Never returns: "loop" spins in a loop, "tree" calls a tree of 2^60 calls.
		Run: func(ctx *apflow.Context, in In) (Out, error) {
			if in.Mode == "tree" {
				tree(60)
			}
			for {
				sink++
			}
		},
	})
}
