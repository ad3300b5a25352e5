package task

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestCheckParams: every writer of params refuses the same, with every problem in order.
func TestCheckParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		top    any // the task's own limits field; nil for none
		params map[string]any
		want   []string // the problems' fields
		after  map[string]any
		limits Limits
	}{
		{"none", nil, nil, nil, nil, Limits{}},
		{"valid", nil, map[string]any{"executor_id": "echo", "retry": map[string]any{"max_attempts": json.Number("3")},
			"limits": map[string]any{"timeout_ms": json.Number("250")}},
			nil, map[string]any{"executor_id": "echo", "retry": map[string]any{"max_attempts": json.Number("3")}}, Limits{TimeoutMS: 250}},
		{"executor_id null is no override", nil, map[string]any{"executor_id": nil}, nil, map[string]any{"executor_id": nil}, Limits{}},
		{"executor_id not a string", nil, map[string]any{"executor_id": json.Number("5"), "p": true},
			[]string{"params.executor_id"}, map[string]any{"p": true}, Limits{}},
		{"executor_id empty", nil, map[string]any{"executor_id": ""}, []string{"params.executor_id"}, map[string]any{}, Limits{}},
		{"every problem, in order", nil, map[string]any{"executor_id": "", "retry": map[string]any{"tries": json.Number("3")},
			"limits": map[string]any{"bogus": json.Number("1")}},
			[]string{"params.executor_id", "params.retry.tries", "params.limits.bogus"}, map[string]any{"retry": map[string]any{"tries": json.Number("3")}}, Limits{}},
		{"limits given twice", map[string]any{}, map[string]any{"limits": map[string]any{}}, []string{"limits"}, map[string]any{}, Limits{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, _, probs := CheckParams(tc.top, tc.top != nil, tc.params)
			var fields []string
			for _, p := range probs {
				fields = append(fields, p.Field)
			}
			if !reflect.DeepEqual(fields, tc.want) {
				t.Errorf("problems at %v, want %v (%s)", fields, tc.want, DescribeProblems(probs))
			}
			if !reflect.DeepEqual(tc.params, tc.after) {
				t.Errorf("params after the check %v, want %v", tc.params, tc.after)
			}
			if l != tc.limits {
				t.Errorf("limits %+v, want %+v", l, tc.limits)
			}
		})
	}
}
