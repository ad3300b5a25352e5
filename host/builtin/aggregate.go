package builtin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
)

// AggregateResultsID is the executor id of the aggregator built-in.
const AggregateResultsID = "aggregate_results_executor"

const aggregateInputSchema = `{
  "type": "object",
  "properties": {
    "_dependencies": {
      "type": "array",
      "description": "List of dependency task IDs (optional, auto-populated by the engine)"
    }
  },
  "description": "Inputs will contain dependency results merged by the engine"
}`

const aggregateOutputSchema = `{
  "type": "object",
  "properties": {
    "summary": {"type": "string", "description": "Summary of the aggregation operation"},
    "timestamp": {"type": "string", "description": "ISO timestamp when aggregation was performed"},
    "results": {"type": "object", "description": "Dictionary of dependency results keyed by task ID"},
    "result_count": {"type": "integer", "description": "Number of aggregated results"}
  },
  "required": ["summary", "timestamp", "results", "result_count"]
}`

// aggregateLayout is Python's datetime.now().isoformat(): local time, no zone, microseconds.
const aggregateLayout = "2006-01-02T15:04:05.000000"

// preHookMarkers are input keys written by the reference's demo pre-hook; they are not results.
var preHookMarkers = map[string]bool{"_pre_hook_executed": true, "_pre_hook_timestamp": true}

func newAggregateResults() *builtinExecutor {
	return &builtinExecutor{
		info: &executor.Info{
			ID:           AggregateResultsID,
			Name:         "Aggregate Results Executor",
			Description:  "Aggregates dependency task results into a single result",
			Tags:         []string{"aggregation", "core", "built-in"},
			Kind:         "builtin",
			InputSchema:  json.RawMessage(aggregateInputSchema),
			OutputSchema: json.RawMessage(aggregateOutputSchema),
			Compiled:     mustCompile(AggregateResultsID, aggregateInputSchema),
		},
		run: func(ctx context.Context, req *executor.Request) (*executor.Response, error) {
			return aggregate(ctx, req, time.Now)
		},
	}
}

// aggregate implements aggregate_results_executor: every input key except the pre-hook
// markers and keys containing "." is a result. Keys are reported in sorted order (the
// engine's inputs are a JSON object, whose key order is not significant).
func aggregate(ctx context.Context, req *executor.Request, now func() time.Time) (*executor.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("aggregation of task %s stopped: %w", taskID(req), err)
	}
	start := time.Now()
	inputs := map[string]any{}
	if len(bytes.TrimSpace(req.Inputs)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(req.Inputs))
		dec.UseNumber()
		if err := dec.Decode(&inputs); err != nil {
			//lint:ignore ST1005 apflow's task error text, kept verbatim for its clients
			return nil, fmt.Errorf("Input validation failed for task %s: inputs are not a JSON object: %w", taskID(req), err)
		}
	}
	results := make(map[string]any, len(inputs))
	keys := make([]string, 0, len(inputs))
	for k, v := range inputs {
		if preHookMarkers[k] || strings.Contains(k, ".") {
			continue
		}
		results[k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]any{
		"summary":      summary(keys),
		"timestamp":    now().Local().Format(aggregateLayout),
		"results":      results,
		"result_count": len(results),
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("aggregation of task %s: encoding the result: %w", taskID(req), err)
	}
	return &executor.Response{
		Output: raw,
		Usage:  usage(start, len(req.Inputs), len(raw)),
	}, nil
}

// summary is the reference text: "No task results to aggregate", or "Aggregated N task
// result(s)" followed by ". from: k1, k2, k3" when there are at most three.
func summary(keys []string) string {
	n := len(keys)
	if n == 0 {
		return "No task results to aggregate"
	}
	s := fmt.Sprintf("Aggregated %d task result", n)
	if n != 1 {
		s += "s"
	}
	if n <= 3 {
		s += ". from: " + strings.Join(keys, ", ")
	}
	return s
}

func taskID(req *executor.Request) string {
	if req.Task == nil {
		return "(unknown)"
	}
	return req.Task.ID
}
