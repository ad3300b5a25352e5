package task

import (
	"encoding/json"
	"fmt"
)

// Summarize is v as a problem of an input shows it: a scalar as it is (strings and
// numbers shortened), an array or an object by its JSON type, so that a problem never
// carries a large value.
func Summarize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if len(x) > 80 {
			r := []rune(x)
			if len(r) > 80 {
				return string(r[:80]) + "…"
			}
		}
		return x
	case json.Number:
		if len(x) > 40 {
			return string(x[:40]) + "…"
		}
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	case bool:
		return x
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
