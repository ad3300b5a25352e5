package apflow

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Context is what a Run function or a hook gets besides its inputs: logging, progress, and
// the host capabilities (HTTP, config, the task store). A Context is valid only during the
// call it was passed to.
type Context struct {
	// Log writes to the task's log.
	Log  Logger
	host Host
}

// NewContext returns a Context backed by host. The SDK builds one per call; tests and
// custom harnesses may build their own.
func NewContext(host Host) *Context {
	return &Context{Log: Logger{host: host}, host: host}
}

// Host returns the host the context talks to.
func (c *Context) Host() Host { return c.host }

// Progress reports the task's progress, 0..1 (the host clamps other values).
func (c *Context) Progress(value float64) { c.host.Progress(value) }

// Config returns the value of a config key or secret granted to this plugin (capability
// "config"), and false when the key is not granted or not set.
func (c *Context) Config(key string) (string, bool) {
	v, ok := c.host.ConfigGet(key)
	return string(v), ok
}

// HTTPRequest is a request for the http_request host function (capability "http"). The
// host allows it only for URLs whose host the operator granted to this plugin.
type HTTPRequest struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      string            `json:"body,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
}

// HTTPResponse is the host's answer to an [HTTPRequest].
type HTTPResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// Header returns the value of the response header name, case-insensitively.
func (r *HTTPResponse) Header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// HTTP performs req through the host. A refused or failed request (no grant, host not
// allowed, network error, timeout) is an *Error with code "http_refused" carrying the
// host's message. Any HTTP status, 4xx and 5xx included, is a response, not an error.
func (c *Context) HTTP(req HTTPRequest) (*HTTPResponse, error) {
	if req.Method == "" {
		req.Method = "GET"
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode http request: %w", err)
	}
	raw := c.host.HTTPRequest(body)
	if len(raw) == 0 {
		return nil, NewError("http_refused", "http_request returned nothing (is the http capability granted?)", nil)
	}
	var out struct {
		HTTPResponse
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode http_request response: %w", err)
	}
	if out.Error != nil {
		return nil, NewError("http_refused", "http request to "+req.URL+" failed: "+*out.Error, map[string]any{"url": req.URL})
	}
	return &out.HTTPResponse, nil
}

// Logger writes log lines to the task's log through the host. Each method takes a message
// and optional key/value pairs, rendered as `msg key=value …` (values are JSON-encoded
// when they are not plain strings or numbers).
type Logger struct{ host Host }

// Trace logs at trace level.
func (l Logger) Trace(msg string, kv ...any) { l.log(LevelTrace, msg, kv) }

// Debug logs at debug level.
func (l Logger) Debug(msg string, kv ...any) { l.log(LevelDebug, msg, kv) }

// Info logs at info level.
func (l Logger) Info(msg string, kv ...any) { l.log(LevelInfo, msg, kv) }

// Warn logs at warn level.
func (l Logger) Warn(msg string, kv ...any) { l.log(LevelWarn, msg, kv) }

// Error logs at error level.
func (l Logger) Error(msg string, kv ...any) { l.log(LevelError, msg, kv) }

func (l Logger) log(level int, msg string, kv []any) {
	if l.host == nil {
		return
	}
	l.host.Log(level, formatLine(msg, kv))
}

func formatLine(msg string, kv []any) string {
	if len(kv) == 0 {
		return msg
	}
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i < len(kv); i += 2 {
		b.WriteByte(' ')
		if i+1 == len(kv) {
			b.WriteString("!BADKEY=")
			b.WriteString(formatValue(kv[i]))
			break
		}
		fmt.Fprint(&b, kv[i])
		b.WriteByte('=')
		b.WriteString(formatValue(kv[i+1]))
	}
	return b.String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" || strings.ContainsAny(x, " \t\n\"=") {
			return fmt.Sprintf("%q", x)
		}
		return x
	case error:
		return fmt.Sprintf("%q", x.Error())
	case fmt.Stringer:
		return formatValue(x.String())
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, bool:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
