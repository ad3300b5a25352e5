package task

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MaxMemoryPages is the largest memory_pages limit a task may ask for: 4 GiB of 64 KiB
// WebAssembly pages, the whole of a 32-bit memory. The operator's ceiling
// (docs/configuration.md) caps it further when the task runs.
const MaxMemoryPages = 65536

// FieldProblem is one problem of a task's params or limits. Field is where: from
// ParseLimits, the key within the object ("timeout_ms", empty when the object itself is
// wrong); from PlaceLimits and CheckParams, the whole path ("params.limits.timeout_ms").
type FieldProblem struct {
	Field            string
	Reason           string
	Expected, Actual any
}

// ParseLimits decodes a limits object as decoded JSON (numbers as json.Number or
// float64): {timeout_ms, memory_pages, max_result_bytes}, each a non-negative integer
// or null (no override). It returns every problem, in key order; a key with a problem
// is left out of the limits. nil is no limits at all.
func ParseLimits(v any) (Limits, []FieldProblem) {
	var l Limits
	if v == nil {
		return l, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return l, []FieldProblem{{Reason: "must be an object", Expected: "{timeout_ms, memory_pages, max_result_bytes}", Actual: Summarize(v)}}
	}
	var probs []FieldProblem
	for _, k := range slices.Sorted(maps.Keys(m)) {
		raw := m[k]
		if raw == nil {
			continue
		}
		n, ok := WholeNumber(raw)
		if !ok || n < 0 {
			probs = append(probs, FieldProblem{Field: k, Reason: "must be a non-negative integer", Expected: "integer >= 0", Actual: Summarize(raw)})
			continue
		}
		switch k {
		case "timeout_ms":
			l.TimeoutMS = n
		case "max_result_bytes":
			l.MaxResultBytes = n
		case "memory_pages":
			if n > MaxMemoryPages {
				probs = append(probs, FieldProblem{Field: k, Reason: fmt.Sprintf("at most %d pages (4 GiB)", MaxMemoryPages),
					Expected: fmt.Sprintf("0-%d", MaxMemoryPages), Actual: n})
				continue
			}
			l.MemoryPages = uint32(n)
		default:
			probs = append(probs, FieldProblem{Field: k, Reason: "unknown limit", Expected: "timeout_ms, memory_pages or max_result_bytes", Actual: k})
		}
	}
	return l, probs
}

// PlaceLimits applies the one rule of where a task's limits are given
// (docs/tree-format.md): in params.limits, which it moves out of params, or at the top
// (top, given: the field was present), not both. A null counts as not given, except
// that an explicit null, with nothing else given, is limits of none. set is false when
// neither says anything (a submission then has no limits, an update keeps them).
// Problems name fields in full ("params.limits.timeout_ms"); on a problem, set is false.
func PlaceLimits(top any, given bool, params map[string]any) (l Limits, set bool, probs []FieldProblem) {
	inParams, inParamsGiven := params["limits"]
	delete(params, "limits") // a no-op on a nil map
	var field string
	var v any
	switch {
	case top != nil && inParams != nil:
		return l, false, []FieldProblem{{Field: "limits", Reason: "limits given twice; give them once, in params.limits",
			Expected: "params.limits only", Actual: "both"}}
	case inParams != nil:
		field, v = "params.limits", inParams
	case top != nil:
		field, v = "limits", top
	default:
		return l, given || inParamsGiven, nil
	}
	l, probs = ParseLimits(v)
	for i := range probs {
		if probs[i].Field == "" {
			probs[i].Field = field
		} else {
			probs[i].Field = field + "." + probs[i].Field
		}
	}
	if len(probs) > 0 {
		return Limits{}, false, probs
	}
	return l, true, nil
}

// DescribeProblems joins problems of PlaceLimits or CheckParams as "field: reason; …".
func DescribeProblems(probs []FieldProblem) string {
	parts := make([]string, len(probs))
	for i, p := range probs {
		parts[i] = p.Field + ": " + p.Reason
	}
	return strings.Join(parts, "; ")
}

// WholeNumber returns v, a decoded JSON number (json.Number or float64), as an integer.
// As in JSON Schema, a number with a zero fraction (2.0, 2e0) is an integer; other
// fractions, and numbers beyond int64, are refused (ok false).
func WholeNumber(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, false
		}
		return floatWhole(f)
	case float64:
		return floatWhole(x)
	}
	return 0, false
}

func floatWhole(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}
