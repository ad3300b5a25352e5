package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/auth"
	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// testExec is a Go executor for tests.
type testExec struct {
	info *executor.Info
	run  func(ctx context.Context, req *executor.Request) (any, error)
}

type testHandle struct{ e *testExec }

func (h testHandle) Execute(ctx context.Context, req *executor.Request) (*executor.Response, error) {
	v, err := h.e.run(ctx, req)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &executor.Response{Output: b, Usage: task.Usage{DurationMS: 0.01}}, nil
}
func (h testHandle) Info() *executor.Info { return h.e.info }
func (h testHandle) Release()             {}

// testCatalog is a mutable catalog; it is also the Plugins registry of the tests.
type testCatalog struct {
	mu       sync.Mutex
	m        map[string]*testExec
	problems map[string]string // what Problems answers
}

func (c *testCatalog) Problems() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.problems)
}

func (c *testCatalog) Lookup(id string) (executor.Handle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return nil, executor.NotFound(id)
	}
	return testHandle{e}, nil
}

func (c *testCatalog) List() []*executor.Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*executor.Info, 0, len(c.m))
	for _, e := range c.m {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Add "loads" a module: the bytes must start with the wasm magic; the executor echoes.
func (c *testCatalog) Add(_ context.Context, name string, wasm []byte) (*executor.Info, error) {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, apferr.InvalidParam("file", "not a WebAssembly module", "\\0asm magic", nil)
	}
	info := &executor.Info{ID: name, Kind: "wasm", Hash: fmt.Sprintf("%x", len(wasm)), InputSchema: json.RawMessage(`{"type":"object"}`)}
	c.mu.Lock()
	c.m[name] = &testExec{info: info, run: echoRun}
	c.mu.Unlock()
	return info, nil
}

func (c *testCatalog) Remove(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok {
		return pluginNotFound(id)
	}
	delete(c.m, id)
	return nil
}

func echoRun(_ context.Context, req *executor.Request) (any, error) {
	var in map[string]any
	_ = json.Unmarshal(req.Inputs, &in)
	return map[string]any{"echo": in}, nil
}

func newTestCatalog() *testCatalog {
	c := &testCatalog{m: map[string]*testExec{}}
	add := func(id string, schema string, run func(ctx context.Context, req *executor.Request) (any, error)) {
		info := &executor.Info{ID: id, Name: id, Kind: "builtin", Description: "test executor " + id}
		if schema != "" {
			info.InputSchema = json.RawMessage(schema)
		}
		c.m[id] = &testExec{info: info, run: run}
	}
	add("echo", "", echoRun)
	add("fail", "", func(context.Context, *executor.Request) (any, error) {
		return map[string]any{"error": "boom"}, nil
	})
	add("sleep", "", func(ctx context.Context, req *executor.Request) (any, error) {
		var in struct {
			MS int `json:"ms"`
		}
		_ = json.Unmarshal(req.Inputs, &in)
		select {
		case <-time.After(time.Duration(in.MS) * time.Millisecond):
			return map[string]any{"slept": in.MS}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	return c
}

// env is a server over a real engine and an in-memory store (memstore).
type env struct {
	srv    *Server
	http   *httptest.Server
	eng    *engine.Engine
	cat    *testCatalog
	secret []byte
}

type setupOpts struct {
	auth   bool
	mutate func(*Config)
}

func setup(t testing.TB, o setupOpts) *env {
	t.Helper()
	st := memstore.New()
	cat := newTestCatalog()
	eng, err := engine.New(engine.Config{Store: st, Catalog: cat, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Keys: st, Engine: eng, Catalog: cat, Prepare: SubmitPrepare(cat, st, nil, nil, 0),
		Plugins: cat, Version: "test", KeepAlive: 50 * time.Millisecond, WebhookBackoff: 5 * time.Millisecond}
	e := &env{eng: eng, cat: cat}
	if o.auth {
		e.secret = []byte("0123456789abcdef0123456789abcdef")
		cfg.JWTSecret = e.secret
	}
	if o.mutate != nil {
		o.mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		e.http.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = eng.Close(ctx)
		_ = st.Close()
	})
	return e
}

// token mints a token for sub with roles.
func (e *env) token(t testing.TB, sub string, roles ...string) string {
	t.Helper()
	s, err := auth.Mint(e.secret, auth.MintOptions{Subject: sub, Roles: roles, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// post sends a raw JSON body and returns status and body.
func (e *env) post(t testing.TB, path, token, body string) (int, []byte) {
	t.Helper()
	return e.postHeaders(t, path, token, body, map[string]string{"Content-Type": "application/json"})
}

// postHeaders sends a raw body with headers and returns status and body.
func (e *env) postHeaders(t testing.TB, path, token, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// rpc calls one method and decodes the response.
func (e *env) rpc(t testing.TB, token, method string, params any) *jsonrpc.Response {
	t.Helper()
	p, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "/tasks"
	if strings.HasPrefix(method, "system.") {
		endpoint = "/system"
	}
	body := fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s,"id":1}`, method, p)
	code, b := e.post(t, endpoint, token, body)
	if code != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", method, code, b)
	}
	var r jsonrpc.Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: bad response %s: %v", method, b, err)
	}
	return &r
}

// ok calls a method that must succeed and decodes its result into out (may be nil).
func (e *env) ok(t testing.TB, token, method string, params any, out any) {
	t.Helper()
	r := e.rpc(t, token, method, params)
	if r.Error != nil {
		t.Fatalf("%s: error %d %s %v", method, r.Error.Code, r.Error.Message, r.Error.Data)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			t.Fatalf("%s: decode result %s: %v", method, r.Result, err)
		}
	}
}

// fails calls a method that must fail with code.
func (e *env) fails(t testing.TB, token, method string, params any, code int) *jsonrpc.Error {
	t.Helper()
	r := e.rpc(t, token, method, params)
	if r.Error == nil {
		t.Fatalf("%s(%v): succeeded with %s, want error %d", method, params, r.Result, code)
	}
	if r.Error.Code != code {
		t.Fatalf("%s(%v): error %d %q %v, want %d", method, params, r.Error.Code, r.Error.Message, r.Error.Data, code)
	}
	return r.Error
}

// tree is a small valid submission: root aggregates two echo children.
func tree(prefix string) []map[string]any {
	return []map[string]any{
		{"id": prefix + "-root", "name": prefix + "-root", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{prefix + "-a", prefix + "-b"}},
		{"id": prefix + "-a", "name": prefix + "-a", "parent_id": prefix + "-root", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"x": 1}},
		{"id": prefix + "-b", "name": prefix + "-b", "parent_id": prefix + "-root", "priority": 1, "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"y": 2}},
	}
}

// taskView is the part of a task the tests read.
type taskView struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	ParentID *string        `json:"parent_id"`
	UserID   *string        `json:"user_id"`
	Status   string         `json:"status"`
	Priority int            `json:"priority"`
	Result   any            `json:"result"`
	Error    *string        `json:"error"`
	Inputs   map[string]any `json:"inputs"`
	Deps     []struct {
		ID       string `json:"id"`
		Required bool   `json:"required"`
	} `json:"dependencies"`
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// postRaw posts a body with a content type.
func (e *env) postRaw(t testing.TB, path, token, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
