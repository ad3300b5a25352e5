package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const scoredTree = `[
 {"id": "r", "name": "root", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["fa", {"id": "s2"}]},
 {"id": "f1", "name": "fa", "parent_id": "r", "schemas": {"method": "rest_executor"}},
 {"id": "f2", "name": "fb", "parent_id": "r", "schemas": {"method": "rest_executor"}},
 {"id": "s2", "name": "stats", "parent_id": "r", "params": {"executor_id": "text_stats"}, "dependencies": ["fb"]}
]`

func TestScore(t *testing.T) {
	cases := []struct {
		name   string
		expect string
		ok     bool
	}{
		{"uses", `{"executors": ["rest_executor", "text_stats"]}`, true},
		{"uses missing", `{"executors": ["word_freq|checksum"]}`, false},
		{"bounds", `{"min_tasks": 4, "max_tasks": 4}`, true},
		{"too few", `{"min_tasks": 5}`, false},
		{"parallel fetches", `{"parallel": [["rest_executor", "rest_executor"]]}`, true},
		{"stats not parallel to its fetch only", `{"parallel": [["rest_executor", "text_stats"]]}`, true},
		{"order", `{"order": [["rest_executor", "text_stats"]]}`, true},
		{"order reversed", `{"order": [["text_stats", "rest_executor"]]}`, false},
		{"root", `{"root": {"executor": "aggregate_results_executor", "aggregates": ["rest_executor", "text_stats"]}}`, true},
		{"root twice the same dep", `{"root": {"executor": "aggregate_results_executor", "aggregates": ["rest_executor", "rest_executor"]}}`, false},
	}
	for _, c := range cases {
		var e Expect
		if err := jsonUnmarshal(c.expect, &e); err != nil {
			t.Fatal(err)
		}
		checks, err := Score(e, []byte(scoredTree))
		if err != nil {
			t.Fatal(err)
		}
		all := true
		for _, ch := range checks {
			all = all && ch.OK
		}
		if all != c.ok {
			t.Errorf("%s: checks %+v, want all ok = %v", c.name, checks, c.ok)
		}
	}
}

// TestCasesLoad: every case of the evaluation set decodes (no unknown field) and names
// only executors of the demo plugins or the built-ins.
func TestCasesLoad(t *testing.T) {
	cases, err := loadCases(filepath.Join("..", "..", "..", "..", "examples", "generate", "cases"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		if c.Requirement == "" {
			t.Errorf("%s: no requirement", c.Name)
		}
		for _, p := range c.Expect.Executors {
			for _, id := range splitPattern(p) {
				if id != "aggregate_results_executor" {
					if _, err := os.Stat(filepath.Join("..", "..", "..", "..", "build", "plugins", id+".wasm")); err != nil {
						t.Errorf("%s: executor %s is no built plugin", c.Name, id)
					}
				}
			}
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func splitPattern(p string) []string { return strings.Split(p, "|") }
