package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// AnthropicVersion is the anthropic-version header sent with every request.
const AnthropicVersion = "2023-06-01"

// Anthropic is a Completer for Anthropic's messages API (POST {BaseURL}/v1/messages).
// System messages are joined (blank line between) into the top-level "system" field; the
// other messages keep their order.
//
// It makes one HTTP call per Complete and never retries; callers decide. Safe for
// concurrent use once built; build it with New, or set Client for a bounded timeout.
type Anthropic struct {
	// BaseURL is the API base without the trailing "/v1/messages".
	BaseURL string
	Model   string
	// Key is sent as the x-api-key header; empty sends none.
	Key string
	// MaxTokens bounds an answer when the request sets no bound (the API requires one);
	// 0 uses DefaultMaxTokens.
	MaxTokens int
	// Client makes the calls; nil uses a client with DefaultTimeout. It must not follow
	// redirects (New's does not).
	Client *http.Client
}

type anthropicRequest struct {
	Model       string    `json:"model"`
	System      string    `json:"system,omitempty"`
	Messages    []Message `json:"messages"`
	MaxTokens   int       `json:"max_tokens"`
	Temperature *float64  `json:"temperature,omitempty"`
}

// anthropicAnswer is the part of a message the host reads.
type anthropicAnswer struct {
	Type    string `json:"type"`
	Model   string `json:"model"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StopReason string `json:"stop_reason"`
	Usage      struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

// AnthropicJSONInstruction is appended to the system prompt (after a blank line, or
// alone) when Request.JSON asks for a JSON object: the messages API has no JSON switch.
const AnthropicJSONInstruction = "Answer with one JSON object and nothing else: no prose, no code fence."

// Complete asks the model once. Request.JSON, which this API has no switch for, is
// honoured by appending AnthropicJSONInstruction to the system prompt; a ```json fence
// the model wraps its answer in anyway is removed. Callers still check the answer parses,
// as with any provider.
func (a *Anthropic) Complete(ctx context.Context, req Request) (*Response, error) {
	body := anthropicRequest{Model: a.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature}
	if body.MaxTokens == 0 {
		body.MaxTokens = a.MaxTokens
	}
	if body.MaxTokens == 0 {
		body.MaxTokens = DefaultMaxTokens
	}
	var system []string
	body.Messages = make([]Message, 0, len(req.Messages))
	for _, m := range req.Messages {
		if m.Role == RoleSystem {
			system = append(system, m.Content)
			continue
		}
		body.Messages = append(body.Messages, m)
	}
	if req.JSON {
		system = append(system, AnthropicJSONInstruction)
	}
	body.System = strings.Join(system, "\n\n")
	headers := map[string]string{"anthropic-version": AnthropicVersion}
	if a.Key != "" {
		headers["x-api-key"] = a.Key
	}
	data, err := post(ctx, a.Client, ProviderAnthropic, a.BaseURL+"/v1/messages", a.Key, headers, body)
	if err != nil {
		return nil, err
	}
	resp, err := ParseAnthropic(data)
	if err != nil {
		return nil, badAnswer(ProviderAnthropic, err)
	}
	if resp.Model == "" {
		resp.Model = a.Model
	}
	if req.JSON {
		resp.Content = stripJSONFence(resp.Content)
	}
	return resp, nil
}

// stripJSONFence returns the text inside a ```json fence wrapping the whole of s (spaces
// around it allowed), or s unchanged.
func stripJSONFence(s string) string {
	t := strings.TrimSpace(s)
	inner, ok := strings.CutPrefix(t, "```json")
	if !ok {
		return s
	}
	inner, ok = strings.CutSuffix(inner, "```")
	if !ok || !strings.HasPrefix(inner, "\n") {
		return s
	}
	return strings.TrimSpace(inner)
}

// ParseAnthropic reads a message's body: its text blocks joined in order, the stop
// reason, the model and the usage. An answer with no content list is an *AnswerError
// carrying the usage; negative token counts are refused (they would refund a budget).
func ParseAnthropic(data []byte) (*Response, error) {
	var a anthropicAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	if a.Usage.InputTokens < 0 || a.Usage.OutputTokens < 0 {
		return nil, fmt.Errorf("negative token counts (%d, %d)", a.Usage.InputTokens, a.Usage.OutputTokens)
	}
	if a.Content == nil {
		return nil, &AnswerError{Err: errNoContent, Usage: Usage{InputTokens: a.Usage.InputTokens, OutputTokens: a.Usage.OutputTokens}}
	}
	var text strings.Builder
	for _, c := range a.Content {
		if c.Type == "text" || c.Type == "" {
			text.WriteString(c.Text)
		}
	}
	return &Response{
		Content:    text.String(),
		Model:      a.Model,
		StopReason: a.StopReason,
		Usage:      Usage{InputTokens: a.Usage.InputTokens, OutputTokens: a.Usage.OutputTokens},
	}, nil
}
