package main

import (
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inputs   map[string]any
		want     string
		wantCode string
	}{
		{"once", map[string]any{"text": "ab"}, `{"text":"ab"}`, ""},
		{"three times", map[string]any{"text": "ab", "repeat": 3}, `{"text":"ababab"}`, ""},
		{"blank", map[string]any{"text": "  "}, "", "empty_text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := apflowtest.New(t).Execute(tt.inputs)
			if tt.wantCode != "" {
				if !res.Failed() || res.Code() != tt.wantCode {
					t.Fatalf("result = %s, want error code %s", res.Raw, tt.wantCode)
				}
				return
			}
			if string(res.Raw) != tt.want {
				t.Errorf("result = %s, want %s", res.Raw, tt.want)
			}
		})
	}
}
