package task

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// MaxMemoryPages is the largest memory_pages limit a task may ask for: 4 GiB of 64 KiB
// WebAssembly pages, the whole of a 32-bit memory. The operator's ceiling
// (docs/configuration.md) caps it further when the task runs.
const MaxMemoryPages = 65536

// LimitProblem is one problem of a limits object (ParseLimits). Field is the key within
// the object ("timeout_ms"), or empty when the object itself is wrong.
type LimitProblem struct {
	Field            string
	Reason           string
	Expected, Actual any
}

// ParseLimits decodes a limits object as decoded JSON (numbers as json.Number or
// float64): {timeout_ms, memory_pages, max_result_bytes}, each a non-negative integer
// or null (no override). It returns every problem, in key order; a key with a problem
// is left out of the limits. nil is no limits at all.
func ParseLimits(v any) (Limits, []LimitProblem) {
	var l Limits
	if v == nil {
		return l, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return l, []LimitProblem{{Reason: "must be an object", Expected: "{timeout_ms, memory_pages, max_result_bytes}", Actual: jsonType(v)}}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var probs []LimitProblem
	for _, k := range keys {
		raw := m[k]
		if raw == nil {
			continue
		}
		n, ok := WholeNumber(raw)
		if !ok || n < 0 {
			probs = append(probs, LimitProblem{Field: k, Reason: "must be a non-negative integer", Expected: "integer >= 0", Actual: raw})
			continue
		}
		switch k {
		case "timeout_ms":
			l.TimeoutMS = n
		case "max_result_bytes":
			l.MaxResultBytes = n
		case "memory_pages":
			if n > MaxMemoryPages {
				probs = append(probs, LimitProblem{Field: k, Reason: fmt.Sprintf("at most %d pages (4 GiB)", MaxMemoryPages),
					Expected: fmt.Sprintf("0-%d", MaxMemoryPages), Actual: n})
				continue
			}
			l.MemoryPages = uint32(n)
		default:
			probs = append(probs, LimitProblem{Field: k, Reason: "unknown limit", Expected: "timeout_ms, memory_pages or max_result_bytes", Actual: k})
		}
	}
	return l, probs
}

// TakeParamsLimits moves params.limits out of params into limits (docs/tree-format.md):
// it returns them, whether params held the key, and their problems. params keeps
// everything else. A null params.limits is no limits.
func TakeParamsLimits(params map[string]any) (l Limits, found bool, probs []LimitProblem) {
	v, found := params["limits"]
	if !found {
		return l, false, nil
	}
	delete(params, "limits")
	l, probs = ParseLimits(v)
	return l, true, probs
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

// jsonType names the JSON type of a decoded value, for problems that must not carry a
// large value.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case json.Number, float64:
		return "number"
	}
	return "object"
}
