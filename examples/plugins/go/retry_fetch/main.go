// Command retry_fetch is the Go SDK's example of retry with backoff inside a plugin: it
// GETs a URL through the host, retrying network failures, 429 and 5xx answers, and
// waits between attempts with Context.Sleep (the sleep_ms host function), twice as long
// each time.
//
// Grants: http for the URL's host, and clock for the waits (without it the first wait
// fails with code "sleep_refused"). The waits end with the task: when it is cancelled or
// its deadline passes during one, Sleep returns an error with code "cancelled" or
// "deadline_exceeded" and the plugin stops at once (the task then fails as cancelled or
// timed out, as any task whose time is up).
package main

import (
	"cmp"
	"strconv"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs.
type In struct {
	URL         string `json:"url" jsonschema:"required,minLength=1" description:"http or https URL to GET."`
	Attempts    int    `json:"attempts,omitempty" jsonschema:"minimum=1,maximum=10,default=4" description:"Attempts in all, the first included."`
	FirstWaitMS int64  `json:"first_wait_ms,omitempty" jsonschema:"minimum=1,maximum=60000,default=200" description:"Wait before the first retry, in milliseconds; each later wait doubles."`
}

// Out is the executor's result.
type Out struct {
	Status   int    `json:"status"`
	Body     string `json:"body"`
	Attempts int    `json:"attempts" description:"Attempts made, the successful one included."`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "retry_fetch",
		Name:         "Retrying fetch",
		Description:  "GETs a URL, retrying failures, 429 and 5xx with exponential backoff (http and clock grants).",
		Version:      "1.0.0",
		Tags:         []string{"example", "http"},
		Capabilities: []string{"http", "clock"},
		Run:          run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	attempts := cmp.Or(in.Attempts, 4)
	wait := time.Duration(cmp.Or(in.FirstWaitMS, 200)) * time.Millisecond
	for attempt := 1; ; attempt++ {
		resp, err := ctx.HTTP(apflow.HTTPRequest{URL: in.URL})
		if err == nil && !transient(resp.Status) {
			return Out{Status: resp.Status, Body: resp.Body, Attempts: attempt}, nil
		}
		if err == nil {
			err = apflow.NewError("http_status", in.URL+" answered "+strconv.Itoa(resp.Status), map[string]any{"status": resp.Status})
		}
		if attempt == attempts {
			return Out{}, apflow.Errorf("gave up after %d attempts: %w", attempt, err).WithCode("unavailable")
		}
		ctx.Log.Warn("retrying", "attempt", attempt, "wait_ms", wait.Milliseconds(), "error", err)
		if err := ctx.Sleep(wait); err != nil {
			return Out{}, err // cancelled or past the deadline: the task is over
		}
		wait *= 2
	}
}

// transient reports whether an HTTP status is worth retrying.
func transient(status int) bool {
	return status == 429 || status >= 500
}
