package pluginrun

import (
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestAddGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		specs   []string
		want    string // the grants' HTTP, Clock, Random, KV, and "llm" when granted
		errPart string
	}{
		{specs: []string{"http=a.example, *.b.example", "http=c.example"}, want: "[a.example *.b.example c.example] false false false"},
		{specs: []string{"clock", "random", "kv"}, want: "[] true true true"},
		{specs: []string{"llm"}, want: "[] false false false llm"},
		{specs: []string{"llm=gpt"}, errPart: "takes no value"},
		{specs: []string{"http="}, errPart: "want http=HOST"},
		{specs: []string{"http=a,,b"}, errPart: "empty host"},
		{specs: []string{"clock=yes"}, errPart: "takes no value"},
		{specs: []string{"config=a"}, errPart: "--config KEY=VALUE"},
		{specs: []string{"repository"}, errPart: "store_call"},
		{specs: []string{"disk"}, errPart: `unknown capability "disk"`},
	}
	for _, tt := range tests {
		var g sandbox.Grants
		var err error
		for _, s := range tt.specs {
			if err = AddGrant(&g, s); err != nil {
				break
			}
		}
		if tt.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("%q: error = %v, want it to contain %q", tt.specs, err, tt.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.specs, err)
			continue
		}
		got := strings.Join([]string{"[" + strings.Join(g.HTTP, " ") + "]", fmtBool(g.Clock), fmtBool(g.Random), fmtBool(g.KV != nil)}, " ")
		if g.LLM {
			got += " llm"
		}
		if got != tt.want {
			t.Errorf("%q: grants %s, want %s", tt.specs, got, tt.want)
		}
	}
}

func fmtBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestAddConfig(t *testing.T) {
	t.Parallel()
	var g sandbox.Grants
	for _, s := range []string{"token=a=b", "empty="} {
		if err := AddConfig(&g, s); err != nil {
			t.Fatal(err)
		}
	}
	if g.Config["token"] != "a=b" || g.Config["empty"] != "" || len(g.Config) != 2 {
		t.Fatalf("config = %v", g.Config)
	}
	for _, bad := range []string{"token", "=v"} {
		if err := AddConfig(&g, bad); err == nil {
			t.Errorf("AddConfig(%q) accepted", bad)
		}
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    task.Limits
		errPart string
	}{
		{spec: "", want: task.Limits{}},
		{spec: "timeout_ms=500, memory_pages=32,max_result_bytes=1000", want: task.Limits{TimeoutMS: 500, MemoryPages: 32, MaxResultBytes: 1000}},
		{spec: "timeout_ms", errPart: "want NAME=NUMBER"},
		{spec: "timeout_ms=0", errPart: "positive integer"},
		{spec: "timeout_ms=1s", errPart: "positive integer"},
		{spec: "memory_pages=70000", errPart: "wasm32 maximum"},
		{spec: "cpu=1", errPart: `unknown limit "cpu"`},
	}
	for _, tt := range tests {
		got, err := ParseLimits(tt.spec)
		if tt.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("%q: error = %v, want it to contain %q", tt.spec, err, tt.errPart)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
}

// TestAddGrantKnowsEveryCapability: every capability a plugin may ask for is one
// --grant gives, or one it explains it does not (config has --config; repository and the
// capabilities every plugin has need no grant), never an unknown one.
func TestAddGrantKnowsEveryCapability(t *testing.T) {
	t.Parallel()
	for _, name := range sandbox.CapabilityNames() {
		if name == "log" || name == "progress" {
			continue
		}
		spec := name
		if name == "http" {
			spec = "http=example.com"
		}
		var g sandbox.Grants
		if err := AddGrant(&g, spec); err != nil && strings.Contains(err.Error(), "unknown capability") {
			t.Errorf("--grant %s: %v", spec, err)
		}
	}
}
