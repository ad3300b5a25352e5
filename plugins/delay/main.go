// Command delay is the delay executor: it waits for a duration in steps, reporting
// progress after each, and echoes a message.
//
// It waits on the sandbox clock. Without the "clock" grant that clock is deterministic:
// it advances a little on every reading and sleeping returns at once, so the delay ends
// almost immediately while elapsed_ms still reports the virtual time that passed. With the
// grant it waits in real time. Either way the task's wall-time limit applies.
package main

import (
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs.
type In struct {
	DurationMS int64  `json:"duration_ms" jsonschema:"required,minimum=0,maximum=3600000" description:"How long to wait, in milliseconds."`
	Steps      int    `json:"steps,omitempty" jsonschema:"minimum=1,maximum=1000,default=10" description:"Number of progress reports."`
	Message    string `json:"message,omitempty" description:"Echoed in the result."`
}

// Out is the executor's result.
type Out struct {
	Message    string `json:"message"`
	DurationMS int64  `json:"duration_ms"`
	ElapsedMS  int64  `json:"elapsed_ms" description:"Time that passed on the sandbox clock (virtual time without the clock grant)."`
	Steps      int    `json:"steps"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "delay",
		Name:         "Delay",
		Description:  "Waits for duration_ms in steps, reporting progress; real time only with the clock grant.",
		Version:      "1.0.0",
		Tags:         []string{"control", "demo"},
		Capabilities: []string{"clock"},
		Run:          run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	steps := in.Steps
	if steps <= 0 {
		steps = 10
	}
	total := time.Duration(in.DurationMS) * time.Millisecond
	start := time.Now()
	for i := 1; i <= steps; i++ {
		// Sleep until the i-th fraction of the total has passed since start, so rounding
		// errors do not accumulate.
		if d := time.Until(start.Add(total * time.Duration(i) / time.Duration(steps))); d > 0 {
			time.Sleep(d)
		}
		ctx.Progress(float64(i) / float64(steps))
	}
	elapsed := time.Since(start)
	ctx.Log.Info("delay done", "requested_ms", in.DurationMS, "elapsed_ms", elapsed.Milliseconds())
	return Out{Message: in.Message, DurationMS: in.DurationMS, ElapsedMS: elapsed.Milliseconds(), Steps: steps}, nil
}
