package apflow_test

import (
	"strings"
	"testing"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// TestRegister is the only test that touches the process-wide registry, so it does not run
// in parallel with anything that could observe it.
func TestRegister(t *testing.T) {
	if _, err := apflow.Registered(); err == nil || !strings.Contains(err.Error(), "registered nothing") {
		t.Fatalf("Registered before Register: %v", err)
	}
	apflow.Register(apflow.Executor[struct{ A int }, int]{
		ID:  "reg",
		Run: func(_ *apflow.Context, in struct{ A int }) (int, error) { return in.A * 2, nil },
	})
	h := apflowtest.New(t)
	if res := h.Execute(map[string]any{"A": 21}); string(res.Raw) != "42" {
		t.Errorf("result = %s", res.Raw)
	}
	m1, _ := apflow.Registered()
	m2, _ := apflow.Registered()
	if m1 != m2 {
		t.Error("Registered rebuilds the module on every call")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "already registered") {
			t.Errorf("second Register: recovered %v, want an 'already registered' panic", r)
		}
	}()
	apflow.Register(apflow.Executor[struct{}, int]{ID: "again", Run: func(*apflow.Context, struct{}) (int, error) { return 0, nil }})
}

func TestRegisterInvalidPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "no Run function") {
			t.Errorf("recovered %v", r)
		}
	}()
	apflow.Register(apflow.Executor[struct{}, int]{ID: "norun"})
}
