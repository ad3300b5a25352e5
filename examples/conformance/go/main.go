// Command conformance is the conformance plugin, Go edition. Specification:
// examples/conformance/README.md. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o conformance_go.wasm ./examples/conformance/go
package main

import (
	"encoding/json"
	"fmt"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

const (
	inputSchema  = `{"type":"object","properties":{"text":{"type":"string"},"numbers":{"type":"array","items":{"type":"integer"}},"fail":{"type":"boolean"},"url":{"type":"string"}},"required":["text"]}`
	outputSchema = `{"type":"object","properties":{"length":{"type":"integer"},"upper":{"type":"string"},"sum":{"type":"integer"},"count":{"type":"integer"},"lang":{"type":"string"},"http_status":{"type":"integer"},"http_body":{"type":"string"},"http_error":{"type":"string"}},"required":["length","upper","sum","count","lang"]}`
)

// In is the conformance input.
type In struct {
	Text    string  `json:"text"`
	Numbers []int64 `json:"numbers"`
	Fail    bool    `json:"fail"`
	URL     string  `json:"url"`
}

// Out is the conformance result.
type Out struct {
	Length     int     `json:"length"`
	Upper      string  `json:"upper"`
	Sum        int64   `json:"sum"`
	Count      int     `json:"count"`
	Lang       string  `json:"lang"`
	HTTPStatus *int    `json:"http_status,omitempty"`
	HTTPBody   *string `json:"http_body,omitempty"`
	HTTPError  *string `json:"http_error,omitempty"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "conformance_go",
		Name:         "Conformance (go)",
		Description:  "ABI v1 conformance plugin",
		Version:      "1.0.0",
		Tags:         []string{"conformance"},
		Capabilities: []string{"http"},
		InputSchema:  inputSchema,
		OutputSchema: outputSchema,
		Run:          run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	ctx.Log.Info(fmt.Sprintf("conformance: processing %d bytes", len(in.Text)))
	ctx.Progress(0.5)
	if in.Fail {
		return Out{}, apflow.NewError("E_REQUESTED", "requested failure", nil)
	}
	out := Out{Length: len(in.Text), Upper: asciiUpper(in.Text), Count: len(in.Numbers), Lang: "go"}
	for _, n := range in.Numbers {
		out.Sum += n
	}
	if in.URL != "" {
		fetch(ctx, in.URL, &out)
	}
	ctx.Progress(1.0)
	return out, nil
}

// fetch performs the GET through the raw host function, so that http_error carries the
// host's message exactly as the other kits report it.
func fetch(ctx *apflow.Context, url string, out *Out) {
	req, _ := json.Marshal(map[string]string{"method": "GET", "url": url})
	raw := ctx.Host().HTTPRequest(req)
	if len(raw) == 0 {
		msg := "no response"
		out.HTTPError = &msg
		return
	}
	var answer struct {
		Status int             `json:"status"`
		Body   string          `json:"body"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		msg := "malformed host answer: " + err.Error()
		out.HTTPError = &msg
		return
	}
	if answer.Error != nil {
		var msg string
		if json.Unmarshal(answer.Error, &msg) != nil {
			msg = string(answer.Error)
		}
		out.HTTPError = &msg
		return
	}
	out.HTTPStatus, out.HTTPBody = &answer.Status, &answer.Body
}

// asciiUpper maps a-z to A-Z and leaves every other byte unchanged.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
