package main

import (
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func TestMathOps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inputs map[string]any
		want   string
	}{
		{"empty", map[string]any{"numbers": []float64{}},
			`{"count":0,"sum":0,"product":0,"mean":null,"median":null,"min":null,"max":null,"variance":null,"stddev":null}`},
		{"odd", map[string]any{"numbers": []float64{3, 1, 2}},
			`{"count":3,"sum":6,"product":6,"mean":2,"median":2,"min":1,"max":3,"variance":0.6666666666666666,"stddev":0.816496580927726}`},
		{"even, rounded", map[string]any{"numbers": []float64{4, 1, 2, 10}, "round": 2},
			`{"count":4,"sum":17,"product":80,"mean":4.25,"median":3,"min":1,"max":10,"variance":12.19,"stddev":3.49}`},
		{"negative", map[string]any{"numbers": []float64{-1.5}, "round": 0},
			`{"count":1,"sum":-2,"product":-2,"mean":-2,"median":-2,"min":-2,"max":-2,"variance":0,"stddev":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := apflowtest.New(t).Execute(tt.inputs)
			if string(res.Raw) != tt.want {
				t.Errorf("got  %s\nwant %s", res.Raw, tt.want)
			}
		})
	}
}

func TestMathOpsOverflowAndValidation(t *testing.T) {
	t.Parallel()
	h := apflowtest.New(t)
	res := h.Execute(map[string]any{"numbers": []float64{1e308, 1e308}})
	if !res.Failed() || res.Code() != "overflow" {
		t.Errorf("overflow: %s", res.Raw)
	}
	for _, bad := range []map[string]any{{}, {"numbers": []any{"1"}}, {"numbers": []float64{1}, "round": 13}} {
		if err := h.ValidateInputs(bad); err == nil {
			t.Errorf("inputs %v validated", bad)
		}
	}
}
