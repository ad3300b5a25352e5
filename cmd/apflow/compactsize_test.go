package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCompactSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want int
	}{
		{"empty", "", 0},
		{"compact", `[{"name":"a"}]`, 14},
		{"indented", "[\n  {\n\t\"name\": \"a\"\r\n  }\n]\n", 14},
		{"blanks in a string count", `{"name":"a b\tc"}`, 17},
		{"an escaped quote does not end the string", `{"n":"a\" b"}`, 13},
		{"an escaped backslash before the closing quote", `{"n":"a\\"} `, 11},
		{"not JSON", "  x  y ", 2},
		{"an unterminated string", `"a  b`, 5},
	}
	for _, tc := range tests {
		if got := compactSize([]byte(tc.data)); got != tc.want {
			t.Errorf("%s: compactSize(%q) = %d, want %d", tc.name, tc.data, got, tc.want)
		}
	}
}

// FuzzCompactSize: on valid JSON, compactSize is the length json.Compact gives; on any
// input, it is between 0 and the input's length.
func FuzzCompactSize(f *testing.F) {
	for _, s := range []string{goodTree, `{"a":"\\\""}`, "[1, 2,\n3]", `"\u00e9 "`, "  "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := compactSize(data)
		if n < 0 || n > len(data) {
			t.Fatalf("compactSize = %d for %d bytes", n, len(data))
		}
		var buf bytes.Buffer
		if json.Compact(&buf, data) == nil && buf.Len() != n {
			t.Fatalf("compactSize = %d, json.Compact gives %d bytes for %q", n, buf.Len(), data)
		}
	})
}
