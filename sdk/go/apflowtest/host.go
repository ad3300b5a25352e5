package apflowtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// LogLine is one line a plugin logged.
type LogLine struct {
	Level int
	Msg   string
}

// Host is a fake apflow host that records what the plugin did. The zero value grants
// nothing: no config, no HTTP, no store. Set the fields before executing; read the
// records with the methods. A Host is safe for concurrent use.
type Host struct {
	// Config holds the granted config keys and their values.
	Config map[string]string
	// HTTP serves http_request calls in process; nil refuses them as a host without an
	// http grant would.
	HTTP http.Handler
	// Store answers store_call requests ({"op": …}); its result becomes {"result": …} and
	// its error {"error": …}. nil refuses them.
	Store func(req map[string]any) (any, error)
	// Clock grants sleep_ms; false refuses it as a host without the clock grant does.
	// Sleeps never wait: they advance a virtual clock and are recorded (see Sleeps).
	Clock bool
	// Deadline, when positive, is the task's timeout on the virtual clock: a sleep that
	// would pass it ends there with the deadline status, as on the host.
	Deadline time.Duration
	// KV grants the kv_* functions, served by an in-memory space (see KVEntries);
	// false refuses them as a host without the kv grant does. Entries expire on the
	// virtual clock that sleeps advance. KVMaxKeys, when positive, is the space's
	// max_keys quota.
	KV        bool
	KVMaxKeys int
	// LLM grants llm_complete and answers its requests (see LLMComplete); nil refuses
	// them as a host without the llm grant does. Requests are recorded (LLMRequests).
	LLM func(req apflow.LLMRequest) (apflow.LLMResponse, error)

	mu          sync.Mutex
	kv          map[string]kvEntry
	logs        []LogLine
	progress    []float64
	requests    []map[string]any
	llmRequests []apflow.LLMRequest
	sleeps      []time.Duration
	slept       time.Duration
	cancelled   bool
}

// MaxSleepMS is the longest sleep_ms the fake accepts: the host's default ceiling of a
// task's timeout (the host refuses sleeps above its operator's ceiling).
const MaxSleepMS = 3_600_000

// SleepMS serves a sleep_ms without waiting: it refuses it without Clock or for a
// negative or too long duration, answers the cancelled status after Cancel, and
// otherwise advances the virtual clock, up to Deadline when one is set.
func (h *Host) SleepMS(ms int64) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !h.Clock:
		return apflow.SleepNotGranted
	case ms < 0 || ms > MaxSleepMS:
		return apflow.SleepInvalid
	case h.cancelled:
		h.sleeps = append(h.sleeps, 0)
		return apflow.SleepCancelled
	}
	d := time.Duration(ms) * time.Millisecond
	if h.Deadline > 0 && h.slept+d >= h.Deadline {
		h.sleeps = append(h.sleeps, h.Deadline-h.slept)
		h.slept = h.Deadline
		return apflow.SleepDeadline
	}
	h.sleeps = append(h.sleeps, d)
	h.slept += d
	return apflow.SleepOK
}

// Cancel cancels the task as far as sleeps go: every later sleep_ms answers the
// cancelled status at once.
func (h *Host) Cancel() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cancelled = true
}

// Sleeps returns the time each accepted sleep_ms lasted on the virtual clock, in order
// (a sleep cut short by Deadline or Cancel counts what it lasted).
func (h *Host) Sleeps() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.sleeps...)
}

// Log records a log line.
func (h *Host) Log(level int, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, LogLine{Level: level, Msg: msg})
}

// Progress records a progress report, clamped to 0..1 as the host does.
func (h *Host) Progress(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.progress = append(h.progress, min(max(v, 0), 1))
}

// ConfigGet returns a configured value.
func (h *Host) ConfigGet(key string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.Config[key]
	if !ok || v == "" {
		return nil, false // the ABI cannot tell an empty value from an unset one
	}
	return []byte(v), true
}

// HTTPRequest serves an http_request through h.HTTP.
func (h *Host) HTTPRequest(raw []byte) []byte {
	var req struct {
		Method    string            `json:"method"`
		URL       string            `json:"url"`
		Headers   map[string]string `json:"headers"`
		Body      string            `json:"body"`
		TimeoutMS int64             `json:"timeout_ms"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return errorDoc(fmt.Sprintf("invalid http_request: %v", err))
	}
	h.mu.Lock()
	var rec map[string]any
	_ = json.Unmarshal(raw, &rec)
	h.requests = append(h.requests, rec)
	handler := h.HTTP
	h.mu.Unlock()
	if handler == nil {
		return errorDoc("capability http is not granted to this plugin")
	}
	if !strings.HasPrefix(req.URL, "http://") && !strings.HasPrefix(req.URL, "https://") {
		return errorDoc(fmt.Sprintf("url %q: only http and https are allowed", req.URL))
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, req.URL, strings.NewReader(req.Body))
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	resp := w.Result()
	headers := map[string]string{}
	for k, v := range resp.Header {
		headers[k] = strings.Join(v, ", ")
	}
	out, _ := json.Marshal(map[string]any{"status": resp.StatusCode, "headers": headers, "body": w.Body.String()})
	return out
}

// StoreCall answers a store_call through h.Store.
func (h *Host) StoreCall(raw []byte) []byte {
	if h.Store == nil {
		return errorDoc("capability repository is not granted to this plugin")
	}
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		return errorDoc(fmt.Sprintf("invalid store_call: %v", err))
	}
	res, err := h.Store(req)
	if err != nil {
		return errorDoc(err.Error())
	}
	out, err := json.Marshal(map[string]any{"result": res})
	if err != nil {
		return errorDoc(err.Error())
	}
	return out
}

// Logs returns the recorded log lines.
func (h *Host) Logs() []LogLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogLine(nil), h.logs...)
}

// ProgressReports returns the recorded progress values, in order.
func (h *Host) ProgressReports() []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]float64(nil), h.progress...)
}

// HTTPRequests returns the decoded http_request documents the plugin sent, granted or not.
func (h *Host) HTTPRequests() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.requests...)
}

func errorDoc(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}
