package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxResponseBytes bounds the body read from a provider; a longer answer is an
// ErrProvider error, never a silently truncated one.
const MaxResponseBytes = 8 << 20

// maxErrorMessage bounds the provider's error text quoted in an error.
const maxErrorMessage = 512

// newHTTPClient returns a client bounded by timeout that does not follow redirects (a
// redirect would resend the key elsewhere; it is answered as an error).
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// post sends body as JSON to url with headers and returns the answer's body when the
// status is 2xx. Any other status is an ErrProvider error naming the provider, the status
// and the provider's error message, with key (when not empty) redacted from it should the
// provider echo it; the headers, which hold the key, are never quoted.
func post(ctx context.Context, hc *http.Client, provider, url, key string, headers map[string]string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("llm %s: encode request: %w", provider, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("llm %s: %w: %w", provider, ErrProvider, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if hc == nil {
		hc = newHTTPClient(DefaultTimeout)
	}
	// The URL holds no secret (keys travel in headers), so a transport error is kept
	// whole: its chain still matches context.DeadlineExceeded and net.Error timeouts.
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("llm %s: %w: %w", provider, ErrProvider, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("llm %s: %w: HTTP %d: reading the answer: %w", provider, ErrProvider, resp.StatusCode, err)
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("llm %s: %w: HTTP %d: answer longer than %d bytes", provider, ErrProvider, resp.StatusCode, MaxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if key != "" { // before shortening, so no part of the key survives a cut
			data = redact(data, key)
		}
		return nil, fmt.Errorf("llm %s: %w: HTTP %d: %s", provider, ErrProvider, resp.StatusCode, errorMessage(data))
	}
	return data, nil
}

// redact replaces key in data, as is and as a JSON string's content (escaped by Go's
// default encoder or without HTML escaping), with "[redacted]".
func redact(data []byte, key string) []byte {
	forms := [][]byte{[]byte(key)}
	if b, err := json.Marshal(key); err == nil {
		forms = append(forms, b[1:len(b)-1])
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(key) == nil {
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		forms = append(forms, b[1:len(b)-1])
	}
	for _, f := range forms {
		data = bytes.ReplaceAll(data, f, []byte("[redacted]"))
	}
	return data
}

// errorMessage extracts the provider's error message from an error body: both wire formats
// answer {"error": {"message": "..."}}; anything else is quoted, shortened.
func errorMessage(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		}
		if json.Unmarshal(e.Error, &obj) == nil && obj.Message != "" {
			if obj.Type != "" {
				return shorten(obj.Type + ": " + obj.Message)
			}
			return shorten(obj.Message)
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil && s != "" {
			return shorten(s)
		}
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		return "(empty body)"
	}
	return shorten(msg)
}

func shorten(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	cut := maxErrorMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// badAnswer is the error of a 2xx answer that cannot be read; a parser's *AnswerError
// stays one (at the top, its usage kept) with its Err wrapped likewise.
func badAnswer(provider string, err error) error {
	var ae *AnswerError
	if errors.As(err, &ae) {
		return &AnswerError{Err: badAnswer(provider, ae.Err), Usage: ae.Usage}
	}
	return fmt.Errorf("llm %s: %w: malformed answer: %w", provider, ErrProvider, err)
}

var errNoContent = errors.New("no content in the answer")
