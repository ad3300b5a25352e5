package pluginrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/apflow-wasm/apflow/host/schema"
)

// maxDiffLines bounds the differences listed for one comparison.
const maxDiffLines = 20

// diffJSON lists where got differs from want, one line per place, as
// "$.path: want X, got Y" (subset: keys of got that want lacks are not differences).
func diffJSON(want, got json.RawMessage, subset bool) ([]string, error) {
	w, err := decodeNumbers(want)
	if err != nil {
		return nil, fmt.Errorf("the expected value is not JSON: %w", err)
	}
	g, err := decodeNumbers(got)
	if err != nil {
		return []string{fmt.Sprintf("$: the result is not JSON: %v", err)}, nil
	}
	var out []string
	diffValue("$", w, g, subset, &out)
	if len(out) > maxDiffLines {
		out = append(out[:maxDiffLines], fmt.Sprintf("… and %d more", len(out)-maxDiffLines))
	}
	return out, nil
}

func decodeNumbers(raw []byte) (any, error) { return schema.Decode(raw) }

func diffValue(path string, want, got any, subset bool, out *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want an object %s, got %s", path, render(w), render(got)))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			gv, ok := g[k]
			if !ok {
				*out = append(*out, fmt.Sprintf("%s: missing, want %s", keyPath(path, k), render(w[k])))
				continue
			}
			diffValue(keyPath(path, k), w[k], gv, subset, out)
		}
		if !subset {
			for _, k := range slices.Sorted(maps.Keys(g)) {
				if _, ok := w[k]; !ok {
					*out = append(*out, fmt.Sprintf("%s: unexpected, got %s", keyPath(path, k), render(g[k])))
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want an array %s, got %s", path, render(w), render(got)))
			return
		}
		if len(g) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: want %d elements, got %d: %s", path, len(w), len(g), render(g)))
			return
		}
		for i := range w {
			diffValue(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], subset, out)
		}
	default:
		if !sameScalar(want, got) {
			*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, render(want), render(got)))
		}
	}
}

// sameScalar compares JSON scalars; numbers by value (1 equals 1.0).
func sameScalar(a, b any) bool {
	na, ok1 := a.(json.Number)
	nb, ok2 := b.(json.Number)
	if ok1 && ok2 {
		fa, _, err1 := big.ParseFloat(string(na), 10, 256, big.ToNearestEven)
		fb, _, err2 := big.ParseFloat(string(nb), 10, 256, big.ToNearestEven)
		if err1 != nil || err2 != nil {
			return na == nb
		}
		return fa.Cmp(fb) == 0
	}
	return a == b
}

// keyPath appends an object key to a path: $.a, or $["a b"] when k is not a plain name.
func keyPath(path, k string) string {
	plain := k != ""
	for i, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return path + "." + k
	}
	return path + "[" + strconv.Quote(k) + "]"
}

// render is a value as compact JSON, shortened past 120 bytes.
func render(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(b.String())
	if len(s) > 120 {
		s = s[:117] + "…"
	}
	return s
}

// matchLogs returns the expected lines not found, in order, each in a distinct line.
func matchLogs(want []string, got []LogLine) []string {
	var missing []string
	next := 0
	for _, w := range want {
		found := false
		for i := next; i < len(got); i++ {
			if strings.Contains(got[i].String(), w) {
				next, found = i+1, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing
}
