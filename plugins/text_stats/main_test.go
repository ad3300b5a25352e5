package main

import (
	"reflect"
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func TestTextStats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inputs map[string]any
		want   Out
	}{
		{"empty", map[string]any{"text": ""}, Out{TopWords: []WordCount{}}},
		{"basic", map[string]any{"text": "The cat sat. The cat ran!\nA dog? yes"},
			Out{Characters: 36, CharactersNoSpaces: 28, Words: 9, UniqueWords: 7, Lines: 2, Sentences: 4, AverageWordLength: 2.78,
				TopWords: []WordCount{{"cat", 2}, {"the", 2}, {"a", 1}, {"dog", 1}, {"ran", 1}}}},
		{"case sensitive, top 2, min length 3", map[string]any{"text": "Go go GO gopher", "case_sensitive": true, "top": 2, "min_word_length": 3},
			Out{Characters: 15, CharactersNoSpaces: 12, Words: 4, UniqueWords: 4, Lines: 1, Sentences: 1, AverageWordLength: 3,
				TopWords: []WordCount{{"gopher", 1}}}},
		{"top 0, unicode, apostrophes", map[string]any{"text": "l'été est là... don't -- stop", "top": 0},
			Out{Characters: 29, CharactersNoSpaces: 24, Words: 5, UniqueWords: 5, Lines: 1, Sentences: 2, AverageWordLength: 3.8, TopWords: []WordCount{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := apflowtest.New(t)
			res := h.Execute(tt.inputs)
			var got Out
			if err := res.Decode(&got); err != nil || res.Failed() {
				t.Fatalf("result %s: %v", res.Raw, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTextStatsRejectsMissingText(t *testing.T) {
	t.Parallel()
	h := apflowtest.New(t)
	if err := h.ValidateInputs(map[string]any{"top": 3}); err == nil {
		t.Fatal("inputs without text validated")
	}
	if err := h.ValidateInputs(map[string]any{"text": "x", "top": 101}); err == nil {
		t.Fatal("top above 100 validated")
	}
}
