package api

import (
	"net/http"
	"testing"
)

// TestDashboardRoutes: with a Dashboard, its files under /ui/ need no token, / and /ui
// redirect to /ui/, and nothing else is opened: the API and writes under /ui still need
// a token.
func TestDashboardRoutes(t *testing.T) {
	t.Parallel()
	files := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("file " + r.URL.Path))
	})
	e := setup(t, setupOpts{auth: true, mutate: func(c *Config) { c.Dashboard = files }})
	noRedirect := *e.http.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		method, path string
		code         int
		location     string
	}{
		{"GET", "/ui/", http.StatusOK, ""},
		{"GET", "/ui/js/app.js", http.StatusOK, ""},
		{"HEAD", "/ui/app.css", http.StatusOK, ""},
		{"GET", "/ui", http.StatusFound, "/ui/"},
		{"GET", "/", http.StatusFound, "/ui/"},
		{"HEAD", "/", http.StatusFound, "/ui/"},
		{"POST", "/ui/x", http.StatusUnauthorized, ""},
		{"GET", "/uix", http.StatusUnauthorized, ""},
		{"GET", "/healthz", http.StatusUnauthorized, ""},
		{"POST", "/tasks", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, e.http.URL+tt.path, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s %s: HTTP %d Location %q, want %d %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.code, tt.location)
		}
	}
}

// TestNoDashboard: without one, /ui is not a route.
func TestNoDashboard(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	resp, err := e.http.Client().Get(e.http.URL + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /ui/ without a dashboard: HTTP %d, want 404", resp.StatusCode)
	}
}
