package pluginrun

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

func TestParseFixture(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, errPart string }{
		{name: "pairs", doc: `[{"request":{"method":"post","url":"https://a.example/x","headers":{"A":"1"},"body":{"k":1}},"response":{"status":404,"body":"no"}}]`},
		{name: "empty", doc: `[]`},
		{name: "not an array", doc: `{}`, errPart: "not an http fixture"},
		{name: "unknown field", doc: `[{"request":{"url":"https://a.example/"},"reply":{}}]`, errPart: `unknown field "reply"`},
		{name: "relative url", doc: `[{"request":{"url":"/x"}}]`, errPart: "pair 0: request.url"},
		{name: "ftp url", doc: `[{"request":{"url":"ftp://a.example/"}}]`, errPart: "not an absolute http or https URL"},
		{name: "bad method", doc: `[{"request":{"method":"G T","url":"https://a.example/"}}]`, errPart: "request.method"},
		{name: "bad status", doc: `[{"request":{"url":"https://a.example/"},"response":{"status":42}}]`, errPart: "response.status 42"},
		{name: "trailing data", doc: `[] []`, errPart: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pairs, err := ParseFixture("f.json", []byte(tt.doc))
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "pairs" {
				p := pairs[0]
				if p.Request.Method != "POST" || p.Request.Body.Text != `{"k":1}` || p.Response.Status != 404 || p.Response.Body.Text != "no" {
					t.Fatalf("pair = %+v", p)
				}
			}
		})
	}
}

func TestFixtureMatching(t *testing.T) {
	t.Parallel()
	pairs, err := ParseFixture("f", []byte(`[
	  {"request":{"url":"https://a.example/n"},"response":{"body":"first"}},
	  {"request":{"url":"https://a.example/n"},"response":{"body":"second"}},
	  {"request":{"method":"POST","url":"https://a.example/p","headers":{"X-Key":"k"},"body":"hi"},"response":{"body":"posted"}}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	fx := NewFixture(pairs)
	do := func(method, url, body string, h map[string]string) string {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := fx.RoundTrip(req)
		if err != nil {
			return "error: " + err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	steps := []struct {
		method, url, body string
		h                 map[string]string
		want              string
	}{
		{"GET", "https://a.example/n", "", nil, "first"},
		{"GET", "HTTPS://A.EXAMPLE/n", "", nil, "second"},
		{"GET", "https://a.example/n", "", nil, "second"}, // repeated: the last match again
		{"POST", "https://a.example/p", "hi", map[string]string{"X-Key": "k", "Other": "o"}, "posted"},
		{"POST", "https://a.example/p", "hi", nil, "error: no http fixture pair answers POST https://a.example/p (3 pairs)"},
		{"POST", "https://a.example/p", "bye", map[string]string{"X-Key": "k"}, "error: no http fixture pair answers POST https://a.example/p (3 pairs)"},
		{"GET", "https://a.example/m", "", nil, "error: no http fixture pair answers GET https://a.example/m (3 pairs)"},
	}
	for i, s := range steps {
		if got := do(s.method, s.url, s.body, s.h); got != s.want {
			t.Errorf("step %d: %s %s = %q, want %q", i, s.method, s.url, got, s.want)
		}
	}
	want := "POST https://a.example/p|POST https://a.example/p|GET https://a.example/m"
	if got := strings.Join(fx.Unmatched(), "|"); got != want {
		t.Errorf("Unmatched = %q, want %q", got, want)
	}
}

// A recording replays: what the Recorder wrote answers the same call through a Fixture.
func TestRecordThenReplay(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, `{"got": `+string(b)+"}\n") // not compact: recorded byte for byte
	}))
	t.Cleanup(srv.Close)
	r, tg := setup(t, "http_proxy")
	ctx := context.Background()
	input := json.RawMessage(`{"method":"POST","url":"` + srv.URL + `/x","headers":{"Authorization":"Bearer secret","X-A":"1"},"body":"[1]"}`)
	grants := sandbox.Grants{HTTP: []string{"127.0.0.1"}}
	rec := &Recorder{}
	live, err := r.Call(ctx, tg, Call{Input: input, Grants: grants, HTTP: rec.Wrap})
	if err != nil || live.Failed() {
		t.Fatalf("live call: %v %+v", err, live)
	}
	path := filepath.Join(t.TempDir(), "rec.http.json")
	if err := rec.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	pairs, err := ReadFixture(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1 || pairs[0].Request.Headers["Authorization"] != "" || pairs[0].Request.Headers["X-A"] != "1" ||
		pairs[0].Response.Body.Text != "{\"got\": [1]}\n" {
		t.Fatalf("recorded %+v: want one pair, X-A kept, Authorization left out", pairs)
	}
	srv.Close()
	fx := NewFixture(pairs)
	replay, err := r.Call(ctx, tg, Call{Input: input, Grants: grants, HTTP: fx.Wrap, Unmatched: fx.Unmatched})
	if err != nil || replay.Failed() {
		t.Fatalf("replay: %v %+v", err, replay)
	}
	var a, b map[string]any
	_ = json.Unmarshal(live.Result, &a)
	_ = json.Unmarshal(replay.Result, &b)
	if a["body"] != "{\"got\": [1]}\n" || a["body"] != b["body"] || a["status"] != b["status"] {
		t.Fatalf("replay %s differs from live %s", replay.Result, live.Result)
	}
}
