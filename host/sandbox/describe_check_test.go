package sandbox

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
)

// TestCheckDescription: a module may not name itself with what is no file name, carry
// control characters (a terminal's escape sequences) into what apflow prints, nor ask
// for a capability that does not exist.
func TestCheckDescription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		info executor.Info
		want string // in the error; "" for none
	}{
		{"plain", executor.Info{ID: "text_stats", Name: "Text stats", Version: "1.0.0", Tags: []string{"text"},
			Description: "Counts words.\r\n\tAnd lines."}, ""},
		{"spaces and dots in the id", executor.Info{ID: "my plugin.v2"}, ""},
		{"a path", executor.Info{ID: "../evil"}, `plugin id "../evil" cannot be a file name`},
		{"a backslash", executor.Info{ID: `a\b`}, "cannot be a file name"},
		{"dot dot", executor.Info{ID: ".."}, "cannot be a file name"},
		{"escape in the id", executor.Info{ID: "x\x1b[31m"}, `get_metadata's id "x\x1b[31m" holds a control character`},
		{"escape in the name", executor.Info{ID: "x", Name: "\x1b]0;title\a"}, "get_metadata's name"},
		{"newline in the version", executor.Info{ID: "x", Version: "1\n2"}, "get_metadata's version"},
		{"escape in a tag", executor.Info{ID: "x", Tags: []string{"ok", "\x1b[2J"}}, "get_metadata's tag"},
		{"escape in the description", executor.Info{ID: "x", Description: "fine\x1b[2J"}, "description"},
		{"C1 control in the name", executor.Info{ID: "x", Name: "a\u009bb"}, "get_metadata's name"},
		// A capability asked for is one an operator can grant: a typo is refused.
		{"capabilities", executor.Info{ID: "x", Capabilities: []string{"http", "kv", "repository", "config", "clock", "random", "llm"}}, ""},
		{"a capability misspelt", executor.Info{ID: "x", Capabilities: []string{"http", "htp"}}, `capabilities name "htp", which is not a capability`},
		{"log and progress, which every plugin has", executor.Info{ID: "x", Capabilities: []string{"log", "progress"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDescription(&tc.info)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// TestCapabilityNamesAreTheGrants: the capabilities a module may ask for are what an
// operator can grant (the fields of Grants), and log and progress, which every plugin has.
func TestCapabilityNamesAreTheGrants(t *testing.T) {
	t.Parallel()
	want := []string{"log", "progress"}
	for f := range reflect.TypeFor[Grants]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		want = append(want, name)
	}
	slices.Sort(want)
	if got := CapabilityNames(); !slices.Equal(got, want) {
		t.Errorf("capability names %v, want %v (the grants, log and progress)", got, want)
	}
}
