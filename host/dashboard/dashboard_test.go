package dashboard

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func setup(t *testing.T) http.Handler {
	t.Helper()
	h, err := Handler()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := setup(t)
	tests := []struct {
		name, method, path string
		header             map[string]string
		code               int
		ctype, body        string // part of the body
		gzip               bool
	}{
		{name: "shell", method: "GET", path: "/", code: 200, ctype: "text/html", body: `<main id="view"`},
		{name: "index", method: "GET", path: "/index.html", code: 200, ctype: "text/html", body: `src="js/app.js"`},
		{name: "module", method: "GET", path: "/js/app.js", code: 200, ctype: "text/javascript", body: "import"},
		{name: "css", method: "GET", path: "/app.css", code: 200, ctype: "text/css", body: "--bg"},
		{name: "gzip", method: "GET", path: "/js/api.js", header: map[string]string{"Accept-Encoding": "br, gzip"}, code: 200, body: "export async function rpc", gzip: true},
		{name: "gzip refused", method: "GET", path: "/js/api.js", header: map[string]string{"Accept-Encoding": "gzip;q=0"}, code: 200, body: "export async function rpc"},
		{name: "head", method: "HEAD", path: "/app.css", code: 200, ctype: "text/css"},
		{name: "missing", method: "GET", path: "/js/nope.js", code: 404},
		{name: "a test file is not served", method: "GET", path: "/js/schema.test.mjs", code: 404},
		{name: "post", method: "POST", path: "/", code: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.code {
				t.Fatalf("HTTP %d, want %d", w.Code, tt.code)
			}
			if got := w.Header().Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q", got)
			}
			if tt.code != 200 {
				return
			}
			if !strings.HasPrefix(w.Header().Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type %q, want %q", w.Header().Get("Content-Type"), tt.ctype)
			}
			body := w.Body.Bytes()
			if tt.gzip != (w.Header().Get("Content-Encoding") == "gzip") {
				t.Fatalf("Content-Encoding %q, want gzip %v", w.Header().Get("Content-Encoding"), tt.gzip)
			}
			if tt.gzip {
				zr, err := gzip.NewReader(w.Body)
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
		})
	}
}

// TestRevalidation: a file's ETag answers a conditional request with 304.
func TestRevalidation(t *testing.T) {
	t.Parallel()
	h := setup(t)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/js/app.js", nil))
	etag := w.Header().Get("ETag")
	if etag == "" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, w.Header().Get("Cache-Control"))
	}
	r := httptest.NewRequest("GET", "/js/app.js", nil)
	r.Header.Set("If-None-Match", etag)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified {
		t.Fatalf("conditional GET: HTTP %d, want 304", w.Code)
	}
	// The gzip body is another representation: another validator.
	r = httptest.NewRequest("GET", "/js/app.js", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if gzTag := w.Header().Get("ETag"); gzTag == "" || gzTag == etag {
		t.Fatalf("gzip ETag %q, identity %q: want two validators", gzTag, etag)
	}
}

// TestNoHTMLFromData: the pages never put text into the document as HTML (names, errors,
// logs and schemas come from users and plugins).
func TestNoHTMLFromData(t *testing.T) {
	t.Parallel()
	entries, err := assets.ReadDir("assets/js")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := assets.ReadFile("assets/js/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{".innerHTML", ".outerHTML", ".insertAdjacentHTML(", "document.write(", "eval(", "new Function("} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s", e.Name(), bad)
			}
		}
	}
}

// pageWeightBudget bounds what a first visit downloads: every file, gzip-compressed
// (docs/performance.md, "Dashboard").
const pageWeightBudget = 100 << 10

// TestPageWeight: the whole dashboard, compressed as served, stays within its budget.
func TestPageWeight(t *testing.T) {
	t.Parallel()
	h := setup(t).(handler)
	raw, gz := 0, 0
	for name, f := range h {
		if name == "/" {
			continue // the same file as /index.html
		}
		raw += len(f.body)
		gz += len(f.gz)
	}
	t.Logf("%d files: %d bytes, %d gzip-compressed", len(h)-1, raw, gz)
	if gz > pageWeightBudget {
		t.Fatalf("the dashboard weighs %d bytes compressed, over its budget of %d", gz, pageWeightBudget)
	}
}
