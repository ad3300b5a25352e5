package pluginrun

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// FuzzParseCases: any document is refused with an error or accepted, never a panic; an
// accepted file survives Marshal and a second parse.
func FuzzParseCases(f *testing.F) {
	for _, seed := range []string{
		`[{"name":"a","input":{"x":1},"expect":{"result":{"x":1},"logs":["l"]}}]`,
		`{"cases":[{"name":"b","hook":"pre","config":{"k":"v"},"grants":{"http":["*"],"kv":{}},"limits":{"timeout_ms":5}}]}`,
		`[{"name":"c","http":[{"request":{"url":"https://a.example/","body":{"a":1}},"response":{"status":500,"body":"x"}}],"expect":{"error":"e"}}]`,
		`[{"name":"d","expect":{"result_schema":{"type":"object"},"result_subset":{}}}]`,
		`[null]`, `{}`, `[{"name":"e","http":"x.json"}]`,
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ParseCases(filepath.Join(dir, "cases.json"), data)
		if err != nil {
			return
		}
		out, err := cf.Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted file: %v", err)
		}
		if _, err := ParseCases(filepath.Join(dir, "cases.json"), out); err != nil {
			t.Fatalf("an accepted file does not parse once written back: %v\n%s", err, out)
		}
	})
}

// FuzzParseFixture: any document is refused or accepted, never a panic; accepted pairs
// survive encoding and a second parse unchanged.
func FuzzParseFixture(f *testing.F) {
	for _, seed := range []string{
		`[{"request":{"method":"post","url":"https://a.example/x?q=1","headers":{"A":"1"},"body":"b"},"response":{"status":201,"headers":{"C":"d"},"body":{"k":[1,2]}}}]`,
		`[]`, `[{"request":{"url":"http://[::1]:80/"}}]`, `[{"request":{"url":"https://a.example"},"response":{"body":12}}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := ParseFixture("f", data)
		if err != nil {
			return
		}
		out, err := json.Marshal(pairs)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := ParseFixture("f", out)
		if err != nil {
			t.Fatalf("accepted pairs do not parse once written back: %v\n%s", err, out)
		}
		b, _ := json.Marshal(again)
		if string(b) != string(out) {
			t.Fatalf("round trip changed the pairs:\n%s\n%s", out, b)
		}
	})
}
