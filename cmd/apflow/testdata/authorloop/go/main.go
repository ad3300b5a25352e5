package main

import (
	"strings"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

type In struct {
	Text    string `json:"text,omitempty"`
	URL     string `json:"url,omitempty"`
	Explode bool   `json:"explode,omitempty"`
}

type Out struct {
	Words int `json:"words"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{ID: "word_count", Name: "Word count", Version: "0.1.0", Run: run})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	if in.Explode {
		explode(in.Text)
	}
	text := in.Text
	if in.URL != "" {
		resp, err := ctx.HTTP(apflow.HTTPRequest{URL: in.URL})
		if err != nil {
			return Out{}, err
		}
		text = resp.Body
	}
	n := len(strings.Fields(text))
	ctx.Log.Info("counted words", "words", n)
	return Out{Words: n}, nil
}

//go:noinline
func explode(text string) {
	var counts []int
	_ = counts[len(text)] // index out of range: the bug the trap shows
}
