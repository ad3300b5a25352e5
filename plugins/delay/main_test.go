package main

import (
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func TestDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inputs map[string]any
		steps  int
	}{
		{"zero", map[string]any{"duration_ms": 0, "message": "now"}, 10},
		{"short, four steps", map[string]any{"duration_ms": 20, "steps": 4, "message": "hi"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := apflowtest.New(t)
			var out Out
			if err := h.Execute(tt.inputs).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if out.Steps != tt.steps || out.Message != tt.inputs["message"] || out.DurationMS != int64(tt.inputs["duration_ms"].(int)) {
				t.Errorf("out = %+v", out)
			}
			if out.ElapsedMS < out.DurationMS {
				t.Errorf("elapsed %d ms is less than the requested %d ms", out.ElapsedMS, out.DurationMS)
			}
			p := h.Host.ProgressReports()
			if len(p) != tt.steps || p[len(p)-1] != 1 {
				t.Errorf("progress = %v, want %d reports ending at 1", p, tt.steps)
			}
			for i := 1; i < len(p); i++ {
				if p[i] <= p[i-1] {
					t.Errorf("progress not increasing: %v", p)
				}
			}
		})
	}
	if err := apflowtest.New(t).ValidateInputs(map[string]any{"duration_ms": -1}); err == nil {
		t.Error("a negative duration validated")
	}
}
