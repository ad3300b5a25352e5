package llm_test

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
)

// The answer parsers read outside input: they must never panic, and an answer they accept
// has no negative usage.
func fuzzParser(f *testing.F, parse func([]byte) (*llm.Response, error), seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parse(data)
		if err != nil {
			if r != nil {
				t.Fatalf("answer %+v with error %v", r, err)
			}
			return
		}
		if r.Usage.InputTokens < 0 || r.Usage.OutputTokens < 0 {
			t.Fatalf("negative usage accepted: %+v", r.Usage)
		}
	})
}

func FuzzParseOpenAI(f *testing.F) {
	fuzzParser(f, llm.ParseOpenAI,
		`{"model":"m","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
		`{"choices":[]}`, `{"choices":[{"message":{"content":null}}]}`, `null`, `[]`, `{"usage":{"prompt_tokens":-1}}`)
}

func FuzzParseAnthropic(f *testing.F) {
	fuzzParser(f, llm.ParseAnthropic,
		`{"model":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}`,
		`{"content":[]}`, `{"content":null}`, `null`, `{"content":[{"type":"image"}]}`, `{"usage":{"output_tokens":-3},"content":[]}`)
}
