package pluginrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// Pair is one recorded HTTP exchange of a fixture file (a JSON array of pairs).
type Pair struct {
	Request  PairRequest  `json:"request"`
	Response PairResponse `json:"response"`
}

// PairRequest is what a request must be for its pair to answer it. Method (default GET)
// and URL must be equal (the method case-insensitively, the URL as parsed); every header
// listed must be present with that value (others are ignored); Body, when set, must be
// equal.
type PairRequest struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    *Body             `json:"body,omitempty"`
}

// PairResponse is the answer of a pair. Status defaults to 200.
type PairResponse struct {
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    *Body             `json:"body,omitempty"`
}

// Body is an HTTP body in a fixture: a JSON string is the body's text; any other JSON
// value (an object, an array, a number) is the body's text as JSON, so that JSON bodies
// need no escaping.
type Body struct{ Text string }

// UnmarshalJSON implements json.Unmarshaler.
func (b *Body) UnmarshalJSON(data []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte(`"`)) {
		return json.Unmarshal(data, &b.Text)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return err
	}
	b.Text = buf.String()
	return nil
}

// MarshalJSON implements json.Marshaler: a body that is a compact JSON object or array
// is written as JSON, any other as a string, so that it reads back byte for byte (a
// recorded body keeps its exact bytes, and its Content-Length stays true).
func (b Body) MarshalJSON() ([]byte, error) {
	t := b.Text
	if (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Valid([]byte(t)) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(t)); err == nil && buf.String() == t {
			return buf.Bytes(), nil
		}
	}
	return json.Marshal(b.Text)
}

// ParseFixture decodes and checks a fixture document: a JSON array of pairs. name says
// where it comes from in error messages.
func ParseFixture(name string, data []byte) ([]Pair, error) {
	var pairs []Pair
	if err := decodeStrict(data, &pairs); err != nil {
		return nil, fmt.Errorf("%s: not an http fixture (a JSON array of {\"request\", \"response\"} pairs): %w", name, err)
	}
	for i := range pairs {
		if err := pairs[i].check(); err != nil {
			return nil, fmt.Errorf("%s: pair %d: %w", name, i, err)
		}
	}
	return pairs, nil
}

// ReadFixture reads and parses a fixture file.
func ReadFixture(path string) ([]Pair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read http fixture: %w", err)
	}
	return ParseFixture(path, data)
}

// check validates a pair and normalises its method and status.
func (p *Pair) check() error {
	if p.Request.Method == "" {
		p.Request.Method = http.MethodGet
	}
	p.Request.Method = strings.ToUpper(p.Request.Method)
	for _, c := range p.Request.Method {
		if c < 'A' || c > 'Z' {
			return fmt.Errorf("request.method %q is not an HTTP method", p.Request.Method)
		}
	}
	u, err := url.Parse(p.Request.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("request.url %q is not an absolute http or https URL", p.Request.URL)
	}
	if p.Response.Status == 0 {
		p.Response.Status = http.StatusOK
	}
	if p.Response.Status < 100 || p.Response.Status > 999 {
		return fmt.Errorf("response.status %d is not an HTTP status", p.Response.Status)
	}
	return nil
}

// matches reports whether the pair answers a request.
func (p *Pair) matches(method, rawURL string, h http.Header, body string) bool {
	if p.Request.Method != method || !sameURL(p.Request.URL, rawURL) {
		return false
	}
	for k, v := range p.Request.Headers {
		if h.Get(k) != v {
			return false
		}
	}
	return p.Request.Body == nil || p.Request.Body.Text == body
}

// sameURL compares two URLs as parsed (so that "HTTP://Host/p" equals "http://host/p").
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	norm := func(u *url.URL) string {
		u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		if u.Path == "" {
			u.Path = "/"
		}
		return u.String()
	}
	return norm(ua) == norm(ub)
}

// Fixture answers http_request calls from recorded pairs: a request is answered by the
// first pair that matches it and has not answered yet, else by the last pair that
// matches (so a request repeated more often than recorded gets the last answer again).
// A request no pair matches fails with an error naming its method and URL, and is
// remembered for [Fixture.Unmatched]. It is safe for concurrent use.
type Fixture struct {
	pairs []Pair
	mu    sync.Mutex
	used  []bool
	miss  []string
}

// NewFixture returns a fixture answering from pairs (as ParseFixture returns them).
func NewFixture(pairs []Pair) *Fixture {
	return &Fixture{pairs: pairs, used: make([]bool, len(pairs))}
}

// Wrap is the fixture as a [sandbox.WithHTTPTransport] wrapper: it never calls guarded.
func (f *Fixture) Wrap(sandbox.HTTPTransport) sandbox.HTTPTransport { return f }

// RoundTrip implements http.RoundTripper.
func (f *Fixture) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	last := -1
	for i := range f.pairs {
		if !f.pairs[i].matches(r.Method, r.URL.String(), r.Header, body) {
			continue
		}
		if !f.used[i] {
			f.used[i] = true
			return f.pairs[i].response(r), nil
		}
		last = i
	}
	if last >= 0 {
		return f.pairs[last].response(r), nil
	}
	what := r.Method + " " + r.URL.String()
	f.miss = append(f.miss, what)
	return nil, fmt.Errorf("no http fixture pair answers %s (%d %s)", what, len(f.pairs), plural(len(f.pairs), "pair", "pairs"))
}

// Unmatched lists the requests no pair answered, as "METHOD URL", in order.
func (f *Fixture) Unmatched() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.miss...)
}

func (p *Pair) response(r *http.Request) *http.Response {
	h := http.Header{}
	for k, v := range p.Response.Headers {
		h.Set(k, v)
	}
	var text string
	if p.Response.Body != nil {
		text = p.Response.Body.Text
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", p.Response.Status, http.StatusText(p.Response.Status)), StatusCode: p.Response.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(text)), ContentLength: int64(len(text)), Request: r,
	}
}

// readBody reads a request's body and puts an unread copy back.
func readBody(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return "", nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return "", fmt.Errorf("reading the request body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b), nil
}

// maxRecordedBody bounds a recorded response body; the sandbox's own response limit is
// normally far lower.
const maxRecordedBody = 64 << 20

// secretHeaders are request headers a Recorder never writes down.
var secretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// Recorder records the exchanges of real http_request calls as pairs. Request headers
// are recorded except Authorization, Proxy-Authorization and Cookie, so that a fixture
// holds no credentials (a replay then matches whatever the plugin sends in them). It is
// safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	pairs []Pair
}

// Wrap is the recorder as a [sandbox.WithHTTPTransport] wrapper: it sends every request
// through guarded, the sandbox's own transport, and records the exchange.
func (rec *Recorder) Wrap(guarded sandbox.HTTPTransport) sandbox.HTTPTransport {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) { return rec.roundTrip(guarded, r) })
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (rec *Recorder) roundTrip(next sandbox.HTTPTransport, r *http.Request) (*http.Response, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the response to record it: %w", err)
	}
	if len(b) > maxRecordedBody {
		return nil, errors.New("response body too large to record")
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	p := Pair{
		Request:  PairRequest{Method: r.Method, URL: r.URL.String()},
		Response: PairResponse{Status: resp.StatusCode, Headers: flatten(resp.Header, nil)},
	}
	if hs := flatten(r.Header, secretHeaders); len(hs) > 0 {
		p.Request.Headers = hs
	}
	if body != "" {
		p.Request.Body = &Body{Text: body}
	}
	if len(b) > 0 {
		p.Response.Body = &Body{Text: string(b)}
	}
	rec.mu.Lock()
	rec.pairs = append(rec.pairs, p)
	rec.mu.Unlock()
	return resp, nil
}

// Pairs returns what was recorded, in order.
func (rec *Recorder) Pairs() []Pair {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Pair(nil), rec.pairs...)
}

// WriteFile writes the recorded pairs as a fixture file.
func (rec *Recorder) WriteFile(path string) error {
	pairs := rec.Pairs()
	if pairs == nil {
		pairs = []Pair{}
	}
	b, err := json.MarshalIndent(pairs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write http recording: %w", err)
	}
	return nil
}

// flatten joins a header's values with ", ", leaving out the names in skip.
func flatten(h http.Header, skip []string) map[string]string {
	out := map[string]string{}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		skipped := false
		for _, s := range skip {
			skipped = skipped || strings.EqualFold(s, k)
		}
		if !skipped {
			out[k] = strings.Join(h[k], ", ")
		}
	}
	return out
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
