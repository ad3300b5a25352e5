package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// OpenAI is a Completer for OpenAI-compatible chat completions (POST
// {BaseURL}/chat/completions): OpenAI itself and the servers speaking its wire, such as
// vLLM, llama.cpp's server and Ollama (BaseURL "http://127.0.0.1:11434/v1").
//
// It makes one HTTP call per Complete and never retries; callers decide. Safe for
// concurrent use once built; build it with New, or set Client for a bounded timeout.
type OpenAI struct {
	// BaseURL is the API base without the trailing "/chat/completions".
	BaseURL string
	Model   string
	// Key is sent as "Authorization: Bearer Key"; empty sends no Authorization header.
	Key string
	// MaxTokens bounds an answer when the request sets no bound; 0 sends no bound.
	MaxTokens int
	// Client makes the calls; nil uses a client with DefaultTimeout. It must not follow
	// redirects (New's does not).
	Client *http.Client
}

type openAIRequest struct {
	Model          string        `json:"model"`
	Messages       []Message     `json:"messages"`
	MaxTokens      int           `json:"max_tokens,omitempty"`
	Temperature    *float64      `json:"temperature,omitempty"`
	ResponseFormat *openAIFormat `json:"response_format,omitempty"`
}

type openAIFormat struct {
	Type string `json:"type"`
}

// openAIAnswer is the part of a chat completion the host reads.
type openAIAnswer struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

// Complete asks the model once.
func (o *OpenAI) Complete(ctx context.Context, req Request) (*Response, error) {
	body := openAIRequest{Model: o.Model, Messages: req.Messages, MaxTokens: req.MaxTokens, Temperature: req.Temperature}
	if body.MaxTokens == 0 {
		body.MaxTokens = o.MaxTokens
	}
	if req.JSON {
		body.ResponseFormat = &openAIFormat{Type: "json_object"}
	}
	headers := map[string]string{}
	if o.Key != "" {
		headers["Authorization"] = "Bearer " + o.Key
	}
	data, err := post(ctx, o.Client, ProviderOpenAI, o.BaseURL+"/chat/completions", o.Key, headers, body)
	if err != nil {
		return nil, err
	}
	resp, err := ParseOpenAI(data)
	if err != nil {
		return nil, badAnswer(ProviderOpenAI, err)
	}
	if resp.Model == "" {
		resp.Model = o.Model
	}
	return resp, nil
}

// ParseOpenAI reads a chat completion's body: the first choice's content, its finish
// reason, the model and the usage. An answer without a choice or content is an
// *AnswerError carrying the usage; negative token counts are refused (they would refund a
// budget).
func ParseOpenAI(data []byte) (*Response, error) {
	var a openAIAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	if a.Usage.PromptTokens < 0 || a.Usage.CompletionTokens < 0 {
		return nil, fmt.Errorf("negative token counts (%d, %d)", a.Usage.PromptTokens, a.Usage.CompletionTokens)
	}
	if len(a.Choices) == 0 || a.Choices[0].Message.Content == nil {
		return nil, &AnswerError{Err: errNoContent, Usage: Usage{InputTokens: a.Usage.PromptTokens, OutputTokens: a.Usage.CompletionTokens}}
	}
	return &Response{
		Content:    *a.Choices[0].Message.Content,
		Model:      a.Model,
		StopReason: a.Choices[0].FinishReason,
		Usage:      Usage{InputTokens: a.Usage.PromptTokens, OutputTokens: a.Usage.CompletionTokens},
	}, nil
}
