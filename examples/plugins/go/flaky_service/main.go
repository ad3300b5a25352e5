// Command flaky_service is a stand-in for a service that is briefly down, to show the
// engine's retries (docs/retries.md): the first `failures` calls for a key fail with the
// error code "unavailable", the next one succeeds. It counts the calls in its key-value
// space (kv grant) under "calls/<key>" and clears the count when it succeeds, so the next
// run of the same tree fails the same way again.
//
// Its metadata carries its default retry policy: 3 attempts, 300 ms apart at first, on
// the code "unavailable"; so with the default 2 failures the third attempt succeeds, and
// a task's params.retry can ask for fewer attempts (then the task fails) or more.
//
// Grants: kv (docs/kv.md). Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o flaky_service.wasm ./examples/plugins/go/flaky_service
package main

import (
	"fmt"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs.
type In struct {
	Key      string `json:"key" jsonschema:"required,minLength=1,maxLength=200" description:"What is called: calls with the same key share one count."`
	Failures *int   `json:"failures,omitempty" jsonschema:"minimum=0,maximum=10" description:"How many calls fail before one succeeds (default 2)."`
}

// Out is the executor's result.
type Out struct {
	Key   string `json:"key"`
	Calls int    `json:"calls" description:"The calls it took, this one included."`
}

// CodeUnavailable is the error code of a failed call, the one its retry policy retries.
const CodeUnavailable = "unavailable"

func main() {}

func init() {
	zero := 0.0
	initial := int64(300)
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "flaky_service",
		Name:         "Flaky service",
		Description:  "Fails the first calls for a key (code unavailable), then succeeds; retried by its metadata's policy.",
		Version:      "1.0.0",
		Tags:         []string{"example", "retries", "kv"},
		Capabilities: []string{"kv"},
		Retry: &apflow.RetryPolicy{
			MaxAttempts: 3,
			Backoff:     &apflow.Backoff{InitialMS: &initial, Multiplier: 2, Jitter: &zero},
			RetryOn:     []string{"code:" + CodeUnavailable},
		},
		Run: call,
	})
}

// call counts the call and fails it while the count is within the failures.
func call(ctx *apflow.Context, in In) (Out, error) {
	failures := 2
	if in.Failures != nil {
		failures = *in.Failures
	}
	key := "calls/" + in.Key
	var calls int
	if _, err := ctx.KVGet(key, &calls); err != nil {
		return Out{}, err
	}
	calls++
	if calls <= failures {
		if err := ctx.KVSet(key, calls, time.Hour); err != nil {
			return Out{}, err
		}
		return Out{}, apflow.NewError(CodeUnavailable,
			fmt.Sprintf("service unavailable (call %d of %s; the first %d fail)", calls, in.Key, failures), nil)
	}
	if _, err := ctx.KVDelete(key); err != nil {
		return Out{}, err
	}
	return Out{Key: in.Key, Calls: calls}, nil
}
