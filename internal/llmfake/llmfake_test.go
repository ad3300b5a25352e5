package llmfake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/internal/llmfake"
)

func TestScriptOrderAndLastRepeats(t *testing.T) {
	for _, p := range []string{llm.ProviderOpenAI, llm.ProviderAnthropic} {
		t.Run(p, func(t *testing.T) {
			s := llmfake.New(t)
			s.Reply("one")
			s.Fail(http.StatusTooManyRequests, "slow down")
			s.ReplyFunc(func(r llm.Request) (string, error) { return "echo " + r.Messages[len(r.Messages)-1].Content, nil })
			c, err := llm.New(s.Config(p), func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			ask := func(q string) (string, error) {
				r, err := c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "sys"}, {Role: llm.RoleUser, Content: q}}})
				if err != nil {
					return "", err
				}
				return r.Content, nil
			}
			if got, err := ask("a"); got != "one" || err != nil {
				t.Errorf("1st = %q, %v", got, err)
			}
			if _, err := ask("b"); !errors.Is(err, llm.ErrProvider) || !strings.Contains(err.Error(), "slow down") {
				t.Errorf("2nd err = %v", err)
			}
			for _, q := range []string{"c", "d"} {
				if got, err := ask(q); got != "echo "+q || err != nil {
					t.Errorf("%s = %q, %v", q, got, err)
				}
			}
			reqs := s.Requests()
			if len(reqs) != 4 {
				t.Fatalf("requests = %d", len(reqs))
			}
			// Both formats read alike: the system prompt first.
			if m := reqs[0].Request.Messages; len(m) != 2 || m[0].Role != llm.RoleSystem || m[0].Content != "sys" {
				t.Errorf("recorded messages = %+v", m)
			}
		})
	}
}

func TestNothingScripted(t *testing.T) {
	s := llmfake.New(t)
	c, _ := llm.New(s.Config(llm.ProviderOpenAI), func(string) string { return "" })
	if _, err := c.Complete(context.Background(), llm.Request{}); err == nil || !strings.Contains(err.Error(), "nothing scripted") {
		t.Errorf("err = %v", err)
	}
}
