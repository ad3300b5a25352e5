package task

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The wire form's encoder. MarshalJSON and Fields.Marshal write a task field by field
// (wireFields), each value appended straight from the Task: the bytes encoding/json
// writes for the wire struct, byte for byte (TestEncoderMatchesEncodingJSON and
// FuzzEncoderMatchesEncodingJSON compare them), without its reflection. That is the
// encoding/json of the default build: with GOEXPERIMENT=jsonv2 it writes invalid UTF-8
// as U+FFFD itself where this encoder writes \ufffd, and those tests fail. Every write of a
// task to a store and every task in an API answer is encoded here, a few times per task
// in a run.
//
// Values of the JSON-decoded types (map[string]any, []any, string, float64, json.Number,
// bool, nil) are encoded here; any other value, and the rare fields (retry, limits, hook errors,
// the run marker), go through encoding/json.

// putFunc appends the JSON value of one field of t to b.
type putFunc func(b []byte, t *Task) ([]byte, error)

func putString(get func(*Task) string) putFunc {
	return func(b []byte, t *Task) ([]byte, error) { return appendString(b, get(t)), nil }
}

// putNullable writes an empty string as null.
func putNullable(get func(*Task) string) putFunc {
	return func(b []byte, t *Task) ([]byte, error) {
		if s := get(t); s != "" {
			return appendString(b, s), nil
		}
		return append(b, "null"...), nil
	}
}

// putTime writes a zero time as null, any other in UTC with microseconds (timeLayout).
func putTime(get func(*Task) time.Time) putFunc {
	return func(b []byte, t *Task) ([]byte, error) {
		v := get(t)
		if v.IsZero() {
			return append(b, "null"...), nil
		}
		return append(appendTime(append(b, '"'), v), '"'), nil
	}
}

// appendTime appends v as v.UTC().Format(timeLayout) writes it: microseconds, truncated.
func appendTime(b []byte, v time.Time) []byte {
	v = v.UTC()
	year, month, day := v.Date()
	if year < 0 || year > 9999 {
		return v.AppendFormat(b, timeLayout)
	}
	hour, minute, second := v.Clock()
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), second, 2)
	b = appendDigits(append(b, '.'), v.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends v, not negative, in n decimal digits, zeros first.
func appendDigits(b []byte, v, n int) []byte {
	start := len(b)
	for range n {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= start && v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

func putInt(get func(*Task) int) putFunc {
	return func(b []byte, t *Task) ([]byte, error) { return strconv.AppendInt(b, int64(get(t)), 10), nil }
}

func putBool(get func(*Task) bool) putFunc {
	return func(b []byte, t *Task) ([]byte, error) { return strconv.AppendBool(b, get(t)), nil }
}

// putObject writes a nil map as null.
func putObject(get func(*Task) map[string]any) putFunc {
	return func(b []byte, t *Task) ([]byte, error) { return appendObject(b, get(t), 0) }
}

// putJSON writes what encoding/json writes for the value get returns. An untyped nil is
// written as null without encoding/json (a typed nil would be too, only slower).
func putJSON(get func(*Task) any) putFunc {
	return func(b []byte, t *Task) ([]byte, error) {
		if v := get(t); v != nil {
			return appendJSON(b, v)
		}
		return append(b, "null"...), nil
	}
}

func putDependencies(b []byte, t *Task) ([]byte, error) {
	b = append(b, '[')
	for i, d := range t.Dependencies {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, d.ID)
		b = append(b, `,"required":`...)
		b = strconv.AppendBool(b, d.Required)
		if d.Key != "" {
			b = append(b, `,"key":`...)
			b = appendString(b, d.Key)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// putInputs writes nil inputs as {} (the wire form has no null inputs).
func putInputs(b []byte, t *Task) ([]byte, error) {
	if t.Inputs == nil {
		return append(b, "{}"...), nil
	}
	return appendObject(b, t.Inputs, 0)
}

func putUsage(b []byte, t *Task) ([]byte, error) {
	u := t.Usage
	if u == nil {
		return append(b, "null"...), nil
	}
	b = append(b, `{"duration_ms":`...)
	b, err := appendFloat(b, u.DurationMS)
	if err != nil {
		return nil, err
	}
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"peak_memory_pages", int64(u.PeakMemoryPages)}, {"host_calls", u.HostCalls}, {"bytes_in", u.BytesIn},
		{"bytes_out", u.BytesOut}, {"llm_input_tokens", u.LLMInputTokens}, {"llm_output_tokens", u.LLMOutputTokens},
	} {
		if f.v != 0 {
			b = append(append(append(b, `,"`...), f.name...), `":`...)
			b = strconv.AppendInt(b, f.v, 10)
		}
	}
	return append(b, '}'), nil
}

// maxNesting is the depth of nested values this encoder writes itself; deeper ones go to
// encoding/json, which reports a cycle instead of recursing forever.
const maxNesting = 100

// appendValue appends v as encoding/json writes it.
func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxNesting {
		return appendJSON(b, v)
	}
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		return appendFloat(b, v)
	case json.Number: // what decoding the stored form gives (UnmarshalJSON uses numbers)
		if isNumber(string(v)) {
			return append(b, v...), nil
		}
	case map[string]any:
		return appendObject(b, v, depth)
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return appendJSON(b, v)
}

// appendObject appends m with its keys sorted, as encoding/json writes a map; nil is null.
func appendObject(b []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var room [16]string
	keys := room[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		var err error
		if b, err = appendValue(b, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// isNumber reports whether s is a JSON number literal:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isNumber(s string) bool {
	s, _ = strings.CutPrefix(s, "-")
	digits := func() bool { // one or more
		n := len(s)
		s = strings.TrimLeft(s, "0123456789")
		return len(s) < n
	}
	switch {
	case s == "":
		return false
	case s[0] == '0':
		s = s[1:]
	case !digits():
		return false
	}
	if rest, ok := strings.CutPrefix(s, "."); ok {
		if s = rest; !digits() {
			return false
		}
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		if !digits() {
			return false
		}
	}
	return s == ""
}

func appendJSON(b []byte, v any) ([]byte, error) {
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// appendFloat appends f as encoding/json does: the shortest form that reads back the
// same, with an exponent below 1e-6 and from 1e21; NaN and infinities are errors.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return appendJSON(b, f) // its error
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-09 → e-9
		b = b[:n-1]
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as encoding/json writes a string: <, > and & escaped
// (HTML-safe), invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}
