// Command text_stats is the text_stats executor: character, word, line and sentence
// counts of a text and its most frequent words.
package main

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs.
type In struct {
	Text          string `json:"text" jsonschema:"required" description:"The text to analyse."`
	Top           *int   `json:"top,omitempty" jsonschema:"minimum=0,maximum=100,default=5" description:"How many of the most frequent words to return."`
	CaseSensitive bool   `json:"case_sensitive,omitempty" jsonschema:"default=false" description:"Count 'The' and 'the' as different words."`
	MinWordLength int    `json:"min_word_length,omitempty" jsonschema:"minimum=0,default=0" description:"Ignore words shorter than this in top_words."`
}

// WordCount is one entry of top_words.
type WordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// Out is the executor's result.
type Out struct {
	Characters         int         `json:"characters" description:"Unicode code points."`
	CharactersNoSpaces int         `json:"characters_no_spaces"`
	Words              int         `json:"words"`
	UniqueWords        int         `json:"unique_words"`
	Lines              int         `json:"lines"`
	Sentences          int         `json:"sentences"`
	AverageWordLength  float64     `json:"average_word_length"`
	TopWords           []WordCount `json:"top_words"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:          "text_stats",
		Name:        "Text statistics",
		Description: "Counts characters, words, lines and sentences of a text and lists its most frequent words.",
		Version:     "1.0.0",
		Tags:        []string{"text", "demo"},
		Run:         run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	top := 5
	if in.Top != nil {
		top = *in.Top
	}
	out := Out{Characters: utf8.RuneCountInString(in.Text), TopWords: []WordCount{}}
	for _, r := range in.Text {
		if !unicode.IsSpace(r) {
			out.CharactersNoSpaces++
		}
	}
	if in.Text != "" {
		out.Lines = strings.Count(strings.TrimRight(in.Text, "\n"), "\n") + 1
	}
	words := strings.FieldsFunc(in.Text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '-'
	})
	counts := map[string]int{}
	letters := 0
	for _, w := range words {
		w = strings.Trim(w, "'-")
		if w == "" {
			continue
		}
		out.Words++
		letters += utf8.RuneCountInString(w)
		if !in.CaseSensitive {
			w = strings.ToLower(w)
		}
		counts[w]++
	}
	out.UniqueWords = len(counts)
	if out.Words > 0 {
		out.AverageWordLength = float64(int(float64(letters)/float64(out.Words)*100+0.5)) / 100
	}
	out.Sentences = sentences(in.Text)
	ranked := make([]WordCount, 0, len(counts))
	for w, c := range counts {
		if utf8.RuneCountInString(w) >= in.MinWordLength {
			ranked = append(ranked, WordCount{Word: w, Count: c})
		}
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].Count != ranked[j].Count {
			return ranked[i].Count > ranked[j].Count
		}
		return ranked[i].Word < ranked[j].Word
	})
	if len(ranked) > top {
		ranked = ranked[:top]
	}
	out.TopWords = ranked
	ctx.Log.Debug("text analysed", "words", out.Words, "unique", out.UniqueWords)
	ctx.Progress(1)
	return out, nil
}

// sentences counts runs of text ended by '.', '!' or '?' (a run of terminators ends one
// sentence), plus a final unterminated sentence that contains a letter or digit.
func sentences(text string) int {
	n := 0
	content := false
	for _, r := range text {
		switch {
		case r == '.' || r == '!' || r == '?':
			if content {
				n++
				content = false
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			content = true
		}
	}
	if content {
		n++
	}
	return n
}
