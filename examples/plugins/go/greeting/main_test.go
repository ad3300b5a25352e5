package main

import (
	"reflect"
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func TestGreeting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config map[string]string
		inputs map[string]any
		want   []string
	}{
		{"default salutation", nil, map[string]any{"names": []string{"Ada", "Linus"}}, []string{"Hello, Ada!", "Hello, Linus!"}},
		{"configured salutation, shouting", map[string]string{"greeting.salutation": "Ahoy"},
			map[string]any{"names": []string{"Grace"}, "shout": true, "suffix": "."}, []string{"AHOY, GRACE."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := apflowtest.New(t)
			h.Host.Config = tt.config
			var out Out
			if err := h.Execute(tt.inputs).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.Greetings, tt.want) || out.Count != len(tt.want) {
				t.Errorf("out = %+v, want %v", out, tt.want)
			}
			if p := h.Host.ProgressReports(); p[len(p)-1] != 1 {
				t.Errorf("progress = %v", p)
			}
		})
	}
}

func TestGreetingErrors(t *testing.T) {
	t.Parallel()
	h := apflowtest.New(t)
	res := h.Execute(map[string]any{"names": []string{"a", " "}})
	if !res.Failed() || res.Code() != "empty_name" || res.Error() != "names[1] is empty" {
		t.Errorf("result = %s", res.Raw)
	}
	if err := h.ValidateInputs(map[string]any{"names": []string{}}); err == nil {
		t.Error("an empty names list validated")
	}
}
