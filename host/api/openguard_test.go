package api

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store/memstore"
)

// TestOpenServerGuard: a server without authentication refuses what a page of another
// site can make a browser send, and Host names DNS could rebind to it, on every route;
// clients that are not browsers, its own pages and the names it is given pass. With
// authentication neither guard applies.
func TestOpenServerGuard(t *testing.T) {
	t.Parallel()
	setupGuarded := func(t *testing.T, auth bool) *env {
		return setup(t, setupOpts{auth: auth, mutate: func(c *Config) {
			c.AllowedHosts = []string{"apflow.lan"}
			c.BaseURL = "https://Pub.Example.com/apflow"
		}})
	}
	open := setupGuarded(t, false)
	self := strings.TrimPrefix(open.http.URL, "http://")
	create := `{"jsonrpc":"2.0","id":1,"method":"tasks.create","params":{"name":"x","schemas":{"method":"echo"}}}`
	tests := []struct {
		name         string
		method, path string
		host         string
		headers      map[string]string
		body         string
		want         int
	}{
		{"a client that is not a browser", "POST", "/tasks", "", nil, create, 200},
		{"the server's own page", "POST", "/tasks", "", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + self}, create, 200},
		{"its own origin, an older browser", "POST", "/tasks", "", map[string]string{"Origin": "http://" + self}, create, 200},
		{"another site's page", "POST", "/tasks", "", map[string]string{"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, create, 403},
		{"another port of localhost (same site)", "POST", "/tasks", "", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:1"}, create, 403},
		{"another origin, an older browser", "POST", "/tasks", "", map[string]string{"Origin": "http://evil.example"}, create, 403},
		{"a plugin upload from another site", "POST", "/plugins?name=x", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, "\x00asm\x01\x00\x00\x00", 403},
		{"another site reads (no CORS: it cannot)", "GET", "/tasks/methods", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 200},
		{"a rebound name", "GET", "/tasks/methods", "attacker.example:8000", nil, "", 403},
		{"a rebound name posting", "POST", "/tasks", "attacker.example", map[string]string{"Sec-Fetch-Site": "same-origin"}, create, 403},
		{"an allowed name", "GET", "/tasks/methods", "APFLOW.lan:8000", nil, "", 200},
		{"the base URL's name", "GET", "/tasks/methods", "pub.example.com", nil, "", 200},
		{"localhost", "GET", "/tasks/methods", "localhost:8000", nil, "", 200},
		{"a name under localhost", "GET", "/tasks/methods", "app.localhost:8000", nil, "", 200},
		{"an IPv6 literal", "GET", "/tasks/methods", "[::1]:8000", nil, "", 200},
		{"a private IPv4 literal", "GET", "/healthz", "10.0.0.5:8000", nil, "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, open.http.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := open.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s (Host %q, %v): %d %s; want %d", tc.method, tc.path, tc.host, tc.headers, resp.StatusCode, body, tc.want)
			}
			if tc.want == 403 && !strings.Contains(string(body), "no authentication") {
				t.Fatalf("refusal without its reason: %s", body)
			}
		})
	}
	var count struct{ Total int }
	open.ok(t, "", "tasks.count", map[string]any{}, &count)
	if count.Total != 3 {
		t.Fatalf("%d tasks stored, want the 3 creates that passed", count.Total)
	}

	// With authentication, a bearer token is what counts, whatever the Host.
	authed := setupGuarded(t, true)
	req, _ := http.NewRequest("GET", authed.http.URL+"/tasks/methods", nil)
	req.Host = "attacker.example"
	req.Header.Set("Authorization", "Bearer "+authed.token(t, "ops", "admin"))
	resp, err := authed.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("an authenticated request to any Host: %d", resp.StatusCode)
	}

	for _, bad := range []string{"http://x", "x:80", "a b", "*.example.com"} {
		if _, err := newHostGuard([]string{bad}, ""); err == nil {
			t.Errorf("allowed host %q accepted", bad)
		}
	}
	if _, err := newHostGuard(nil, "::not a url"); err == nil {
		t.Error("a base URL without a host accepted")
	}
	// A name given fully qualified matches the Host with or without its final dot.
	g, err := newHostGuard([]string{"apflow.lan."}, "https://pub.example.com./")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"apflow.lan", "apflow.lan.:80", "pub.example.com", "pub.example.com."} {
		if !g.allows(host) {
			t.Errorf("Host %q refused by a guard of apflow.lan. and pub.example.com.", host)
		}
	}
	// With authentication there is no guard: its names are not checked (setup fails the
	// test if New refuses them); the base URL, which the agent card gives, always is.
	setup(t, setupOpts{auth: true, mutate: func(c *Config) { c.AllowedHosts = []string{"*.x"} }})
	st, cat := memstore.New(), newTestCatalog()
	t.Cleanup(func() { _ = st.Close() })
	eng, err := engine.New(engine.Config{Store: st, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []bool{false, true} {
		cfg := Config{Store: st, Engine: eng, Catalog: cat, Prepare: SubmitPrepare(cat, st, nil, nil, 0), BaseURL: "apflow.example.com"}
		if auth {
			cfg.JWTSecret = []byte("0123456789abcdef0123456789abcdef")
		}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "base URL") {
			t.Errorf("a base URL without a scheme (auth %v): %v, want it refused", auth, err)
		}
	}
}
