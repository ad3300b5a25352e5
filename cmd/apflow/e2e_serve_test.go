package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// The tests of this file drive a real `apflow serve` process over HTTP on a loopback
// port, exactly as a client would: tokens come from `apflow token`, every request is raw
// HTTP and every answer is decoded from the wire. Every wait has a deadline and every
// process is killed in t.Cleanup.

// e2eWait bounds every wait of the end-to-end tests.
const e2eWait = 90 * time.Second

// serveProc is one running `apflow serve` process.
type serveProc struct {
	bin, dataDir, pluginsDir, secret string
	url                              string
	cmd                              *exec.Cmd
	stderr                           *logbuf.Buffer
	exited                           chan struct{}
	waitErr                          error // valid once exited is closed
	http                             *http.Client
}

var servingLine = regexp.MustCompile(`serving on (http://\S+)`)

// startServe starts `apflow serve` on a random loopback port and returns once it
// listens. secret "" turns authentication off.
func startServe(t testing.TB, bin, dataDir, pluginsDir, secret string, extra ...string) *serveProc {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--plugins", pluginsDir}, extra...)
	if secret != "" {
		args = append(args, "--jwt-secret", secret)
	}
	p := &serveProc{bin: bin, dataDir: dataDir, pluginsDir: pluginsDir, secret: secret,
		stderr: &logbuf.Buffer{}, exited: make(chan struct{}), http: &http.Client{Timeout: e2eWait}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "APFLOW_JWT_SECRET=", "APFLOW_LOG_LEVEL=info")
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start apflow serve: %v", err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(e2eWait):
			t.Errorf("apflow serve (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
		}
	})
	select {
	case p.url = <-urls:
	case <-p.exited:
		t.Fatalf("apflow serve exited before listening: %v\nstderr:\n%s", p.waitErr, p.stderr)
	case <-time.After(e2eWait):
		t.Fatalf("apflow serve did not listen within %s\nstderr:\n%s", e2eWait, p.stderr)
	}
	return p
}

// stop sends sig and returns the exit status once the process ended.
func (p *serveProc) stop(t *testing.T, sig syscall.Signal, within time.Duration) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal apflow serve: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("apflow serve did not exit within %s of %s\nstderr:\n%s", within, sig, p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	if p.waitErr != nil {
		t.Fatalf("apflow serve: %v", p.waitErr)
	}
	return 0
}

// mintToken runs `apflow token`.
func mintToken(t *testing.T, bin, secret, sub string, admin bool, extra ...string) string {
	t.Helper()
	args := append([]string{"token", "--sub", sub, "--jwt-secret", secret}, extra...)
	if admin {
		args = append(args, "--admin")
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("apflow token --sub %s: %v", sub, err)
	}
	return strings.TrimSpace(string(out))
}

// do sends one HTTP request and returns the status and the whole body.
func (p *serveProc) do(t testing.TB, token, method, path string, body []byte, ctype string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", method, path, err, p.stderr)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, raw
}

// rpcError is a JSON-RPC error object as it came over the wire.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%d %s %s", e.Code, e.Message, e.Data) }

// rpcResponse is a JSON-RPC response as it came over the wire.
type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *rpcError       `json:"error"`
}

// call invokes a JSON-RPC method (POST /system for system.*, else POST /tasks) and
// returns its result or its error.
func (p *serveProc) call(t testing.TB, token, method string, params any) (json.RawMessage, *rpcError) {
	t.Helper()
	path := "/tasks"
	if strings.HasPrefix(method, "system.") {
		path = "/system"
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": method, "method": method, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	code, raw := p.do(t, token, http.MethodPost, path, body, "application/json")
	var r rpcResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: HTTP %d, not a JSON-RPC response: %v\n%s", method, code, err, raw)
	}
	if code != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", method, code, raw)
	}
	if r.JSONRPC != "2.0" || string(r.ID) != `"`+method+`"` {
		t.Fatalf("%s: envelope jsonrpc=%q id=%s", method, r.JSONRPC, r.ID)
	}
	return r.Result, r.Error
}

// mustCall invokes a method that must succeed and decodes its result into out.
func (p *serveProc) mustCall(t testing.TB, token, method string, params, out any) {
	t.Helper()
	res, rerr := p.call(t, token, method, params)
	if rerr != nil {
		t.Fatalf("%s: %v", method, rerr)
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			t.Fatalf("%s: decode result: %v\n%s", method, err, res)
		}
	}
}

// wantCode invokes a method that must fail with code.
func (p *serveProc) wantCode(t *testing.T, token, method string, params any, code int) *rpcError {
	t.Helper()
	res, rerr := p.call(t, token, method, params)
	if rerr == nil {
		t.Fatalf("%s succeeded, want error %d: %s", method, code, res)
	}
	if rerr.Code != code {
		t.Fatalf("%s: error %v, want code %d", method, rerr, code)
	}
	return rerr
}

// wireTask is the part of a task's wire JSON the tests look at.
type wireTask struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	ParentID     *string        `json:"parent_id"`
	UserID       *string        `json:"user_id"`
	Status       string         `json:"status"`
	Result       any            `json:"result"`
	Error        *string        `json:"error"`
	Plugin       *string        `json:"plugin"`
	Attempts     int            `json:"attempts"`
	OriginType   string         `json:"origin_type"`
	OriginalTask *string        `json:"original_task_id"`
	Inputs       map[string]any `json:"inputs"`
}

func (w wireTask) errorText() string {
	if w.Error == nil {
		return ""
	}
	return *w.Error
}

func (w wireTask) pluginHash() string {
	if w.Plugin == nil {
		return ""
	}
	return *w.Plugin
}

// wireTree is tasks.tree's answer.
type wireTree struct {
	Task     wireTask   `json:"task"`
	Children []wireTree `json:"children"`
}

// getTask returns a task by id.
func (p *serveProc) getTask(t *testing.T, token, id string) wireTask {
	t.Helper()
	var w wireTask
	p.mustCall(t, token, "tasks.get", map[string]any{"task_id": id}, &w)
	return w
}

// waitStatus polls tasks.get until the task has one of the statuses.
func (p *serveProc) waitStatus(t *testing.T, token, id string, statuses ...string) wireTask {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		w := p.getTask(t, token, id)
		for _, s := range statuses {
			if w.Status == s {
				return w
			}
		}
		if terminal := w.Status == "completed" || w.Status == "failed" || w.Status == "cancelled"; terminal || time.Now().After(deadline) {
			t.Fatalf("task %s is %s (error %q), want %v", id, w.Status, w.errorText(), statuses)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sseFrame is one decoded `data:` frame of an event stream.
type sseFrame map[string]any

func (f sseFrame) typ() string { s, _ := f["type"].(string); return s }
func (f sseFrame) str(k string) string {
	s, _ := f[k].(string)
	return s
}

// openSSE sends a request whose answer is an event stream; it returns once the response
// headers arrived (for GET /events the subscription is in place by then). Frames go to
// the returned channel, which is closed after stream_end or at the end of the body.
func (p *serveProc) openSSE(t *testing.T, token, method, path string, body []byte) <-chan sseFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, bytes.NewReader(body))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("%s %s: HTTP %d %s, not an event stream: %s", method, path, resp.StatusCode, ct, raw)
	}
	frames := make(chan sseFrame, 256)
	go func() {
		defer cancel()
		defer resp.Body.Close()
		defer close(frames)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			case line == "" && len(data) > 0:
				var f sseFrame
				if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &f); err != nil {
					f = sseFrame{"type": "bad_frame", "error": err.Error(), "raw": strings.Join(data, "\n")}
				}
				data = nil
				frames <- f
				if f.typ() == "stream_end" {
					return
				}
			}
		}
	}()
	return frames
}

// collect reads frames until the channel closes or the deadline passes.
func collect(t *testing.T, frames <-chan sseFrame) []sseFrame {
	t.Helper()
	var out []sseFrame
	timeout := time.After(e2eWait)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				return out
			}
			out = append(out, f)
		case <-timeout:
			t.Fatalf("event stream did not end within %s; frames so far: %v", e2eWait, out)
		}
	}
}

// spinPad is a spin (or swap) input of about chars bytes: those executors loop 20000
// times per input byte, about half a millisecond per byte on an idle machine. Pads only
// make tasks slow enough to act on while they run; nothing asserts a duration.
func spinPad(chars int) string { return strings.Repeat("x", chars) }

// Pads: a task the tests cancel (about half a minute of spinning; the executors copy
// their input into one 64 KiB page, which bounds the pad) and one that takes a second or
// two.
var (
	hugePad = spinPad(60_000)
	slowPad = spinPad(4_000)
)

// gateLimits lets a hugePad task spin until a test cancels it.
var gateLimits = map[string]any{"timeout_ms": 300_000}

// TestServeEndToEnd drives every JSON-RPC method and HTTP route of docs/api.md against a
// real `apflow serve` with JWT auth, as three users: alice, bob and an admin.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs apflow serve")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	const secret = "e2e-secret-for-tests-only"
	// The webhook test's receiver listens on loopback.
	srv := startServe(t, bin, dataDir, plugins, secret, "--webhook-allow-private")
	alice := mintToken(t, bin, secret, "alice", false)
	bob := mintToken(t, bin, secret, "bob", false)
	admin := mintToken(t, bin, secret, "root", true)
	forged := mintToken(t, bin, "another-secret", "alice", true)
	shortLived := mintToken(t, bin, secret, "alice", false, "--ttl", "1s")
	expiredAt := time.Now().Add(time.Second)
	env := &e2eEnv{srv: srv, alice: alice, bob: bob, admin: admin, forged: forged, shortLived: shortLived, expiredAt: expiredAt}
	// The steps share the server and build on each other's tasks: they run in order.
	steps := []struct {
		name string
		run  func(*testing.T, *e2eEnv)
	}{
		{"authentication", e2eAuthentication},
		{"discovery routes", e2eDiscoveryRoutes},
		{"system methods", e2eSystemMethods},
		{"create read list count", e2eCreateAndRead},
		{"update", e2eUpdate},
		{"execute", e2eExecute},
		{"clone", e2eClone},
		{"streaming execute", e2eStreamingExecute},
		{"webhook execute", e2eWebhookExecute},
		{"batch and envelope errors", e2eBatch},
		{"A2A message/send", e2eA2A},
		{"running run: follow, isolation, upload, cancel", e2eRunningTree},
		{"delete", e2eDelete},
		{"metrics count the calls", e2eMetrics},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) { step.run(t, env) })
	}
}

// e2eEnv is the server of TestServeEndToEnd and its users' tokens.
type e2eEnv struct {
	srv                *serveProc
	alice, bob, admin  string // tokens; admin has the admin role
	forged, shortLived string // signed with another secret; expiring after a second
	expiredAt          time.Time
}

// e2eAuthentication checks that every route needs a valid, unexpired token signed with the
// server's secret (HTTP 401 with JSON-RPC error -32004 otherwise).
func e2eAuthentication(t *testing.T, env *e2eEnv) {
	srv, alice, admin, forged, shortLived, expiredAt := env.srv, env.alice, env.admin, env.forged, env.shortLived, env.expiredAt
	getTasks := []byte(`{"jsonrpc":"2.0","id":1,"method":"tasks.list","params":{}}`)
	tests := []struct {
		name, token, method, path string
		body                      []byte
		want                      int
	}{
		{"no token rpc", "", http.MethodPost, "/tasks", getTasks, http.StatusUnauthorized},
		{"no token healthz", "", http.MethodGet, "/healthz", nil, http.StatusUnauthorized},
		{"no token events", "", http.MethodGet, "/events?root_task_id=x", nil, http.StatusUnauthorized},
		{"no token plugins", "", http.MethodGet, "/plugins", nil, http.StatusUnauthorized},
		{"forged token", forged, http.MethodPost, "/tasks", getTasks, http.StatusUnauthorized},
		{"garbage token", "not.a.jwt", http.MethodPost, "/system", getTasks, http.StatusUnauthorized},
		{"expired token", shortLived, http.MethodPost, "/tasks", getTasks, http.StatusUnauthorized},
		{"alice", alice, http.MethodPost, "/tasks", getTasks, http.StatusOK},
		{"admin", admin, http.MethodGet, "/healthz", nil, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.token == shortLived {
				// exp has a resolution of one second: wait until it is surely past.
				time.Sleep(time.Until(expiredAt.Add(1100 * time.Millisecond)))
			}
			code, raw := srv.do(t, tc.token, tc.method, tc.path, tc.body, "application/json")
			if code != tc.want {
				t.Fatalf("HTTP %d, want %d: %s", code, tc.want, raw)
			}
			if tc.want == http.StatusUnauthorized {
				var r rpcResponse
				if err := json.Unmarshal(raw, &r); err != nil || r.Error == nil || r.Error.Code != -32004 {
					t.Fatalf("401 body is not JSON-RPC error -32004: %s", raw)
				}
			}
		})
	}
}

// e2eDiscoveryRoutes checks the GET routes: /healthz, /metrics, /tasks/methods, the
// three agent card paths and /plugins.
func e2eDiscoveryRoutes(t *testing.T, env *e2eEnv) {
	srv, alice := env.srv, env.alice
	tests := []struct {
		path  string
		check func(t *testing.T, body []byte)
	}{
		{"/healthz", func(t *testing.T, b []byte) {
			var h struct{ Status, Version string }
			if json.Unmarshal(b, &h) != nil || h.Status != "ok" || h.Version != version {
				t.Fatalf("healthz = %s", b)
			}
		}},
		{"/metrics", func(t *testing.T, b []byte) {
			for _, want := range []string{"apflow_tasks", "apflow_runs_in_progress", "apflow_http_requests_total", "apflow_executors"} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("metrics lack %s", want)
				}
			}
		}},
		{"/tasks/methods", func(t *testing.T, b []byte) {
			var m struct {
				Total   int                                  `json:"total"`
				Methods map[string][]struct{ Method string } `json:"methods"`
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("methods: %v\n%s", err, b)
			}
			seen := map[string]bool{}
			for _, ms := range m.Methods {
				for _, e := range ms {
					seen[e.Method] = true
				}
			}
			for _, want := range []string{"tasks.create", "tasks.get", "tasks.detail", "tasks.update", "tasks.delete",
				"tasks.list", "tasks.count", "tasks.tree", "tasks.children", "tasks.clone", "tasks.execute",
				"tasks.cancel", "tasks.running.list", "tasks.running.status", "tasks.running.count", "tasks.running.cancel"} {
				if !seen[want] {
					t.Errorf("GET /tasks/methods lacks %s", want)
				}
			}
			if m.Total < len(seen) {
				t.Errorf("total %d < %d methods listed", m.Total, len(seen))
			}
		}},
		{"/.well-known/agent-card", checkAgentCard},
		{"/.well-known/agent-card.json", checkAgentCard},
		{"/.well-known/agent.json", checkAgentCard},
		{"/plugins", func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte(`"id":"spin"`)) || !bytes.Contains(b, []byte(`"id":"echo"`)) {
				t.Fatalf("GET /plugins lacks the test plugins: %s", b)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			code, body := srv.do(t, alice, http.MethodGet, tc.path, nil, "")
			if code != http.StatusOK {
				t.Fatalf("HTTP %d: %s", code, body)
			}
			tc.check(t, body)
		})
	}
}

// e2eSystemMethods checks system.health and system.executors on POST /system.
func e2eSystemMethods(t *testing.T, env *e2eEnv) {
	srv, alice := env.srv, env.alice
	var health struct {
		Status  string `json:"status"`
		Version string `json:"version"`
		Running *int   `json:"running_tasks_count"`
	}
	srv.mustCall(t, alice, "system.health", map[string]any{}, &health)
	if health.Status != "healthy" || health.Version != version || health.Running == nil {
		t.Fatalf("system.health = %+v", health)
	}
	var ex struct {
		Executors []struct{ ID, Kind, Hash string } `json:"executors"`
		Count     int                               `json:"count"`
	}
	srv.mustCall(t, alice, "system.executors", map[string]any{}, &ex)
	ids := map[string]string{}
	for _, e := range ex.Executors {
		ids[e.ID] = e.Hash
	}
	for _, want := range []string{"aggregate_results_executor", "spin", "echo", "divzero"} {
		if _, ok := ids[want]; !ok {
			t.Errorf("system.executors lacks %s: %+v", want, ex.Executors)
		}
	}
	if ex.Count != len(ex.Executors) || len(ids["echo"]) != 64 {
		t.Errorf("count %d for %d executors; echo hash %q", ex.Count, len(ex.Executors), ids["echo"])
	}
}

// e2eCreateAndRead creates alice's tree al-root (al-a, al-b), her task al-single and
// bob's bob-single, then reads them with get, detail, tree, children, list (root_only,
// status, paging, per user) and count.
func e2eCreateAndRead(t *testing.T, env *e2eEnv) {
	srv, alice, bob, admin := env.srv, env.alice, env.bob, env.admin
	var created []wireTask
	srv.mustCall(t, alice, "tasks.create", []map[string]any{
		{"id": "al-root", "name": "al-root", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": []string{"al-a", "al-b"}},
		{"id": "al-a", "name": "a", "parent_id": "al-root", "priority": 0, "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"x": 1}},
		{"id": "al-b", "name": "b", "parent_id": "al-root", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"y": 2}, "dependencies": []string{"al-a"}},
	}, &created)
	if len(created) != 3 {
		t.Fatalf("tasks.create of an array answered %d tasks", len(created))
	}
	for _, c := range created {
		if c.Status != "pending" || c.UserID == nil || *c.UserID != "alice" {
			t.Errorf("created %s: status %s user %v", c.ID, c.Status, c.UserID)
		}
	}
	var single wireTask
	srv.mustCall(t, alice, "tasks.create", map[string]any{"id": "al-single", "name": "single", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"z": 3}}, &single)
	if single.ID != "alice/al-single" || single.Status != "pending" {
		t.Fatalf("tasks.create of one object = %+v", single)
	}
	var bobs wireTask
	srv.mustCall(t, bob, "tasks.create", map[string]any{"id": "bob-single", "name": "bob's", "schemas": map[string]any{"method": "echo"}}, &bobs)
	// Naming another user is refused.
	srv.wantCode(t, bob, "tasks.create", map[string]any{"name": "x", "user_id": "alice", "schemas": map[string]any{"method": "echo"}}, -32004)
	// Validation lists the problems.
	srv.wantCode(t, alice, "tasks.create", []map[string]any{{"name": "r", "schemas": map[string]any{"method": "nope"}}}, -32003)

	for _, method := range []string{"tasks.get", "tasks.detail"} {
		got := srv.getTask(t, alice, "al-a")
		var viaMethod wireTask
		srv.mustCall(t, alice, method, map[string]any{"id": "al-a"}, &viaMethod)
		if viaMethod.ID != "alice/al-a" || viaMethod.Name != got.Name {
			t.Errorf("%s = %+v", method, viaMethod)
		}
	}
	srv.wantCode(t, alice, "tasks.get", map[string]any{"task_id": "missing"}, -32001)

	var tree wireTree
	srv.mustCall(t, alice, "tasks.tree", map[string]any{"task_id": "al-b"}, &tree)
	if tree.Task.ID != "alice/al-b" {
		t.Fatalf("tasks.tree of al-b is rooted at %s", tree.Task.ID)
	}
	srv.mustCall(t, alice, "tasks.tree", map[string]any{"root_id": "al-root"}, &tree)
	if tree.Task.ID != "alice/al-root" || len(tree.Children) != 2 {
		t.Fatalf("tasks.tree = %+v", tree)
	}
	var children []wireTask
	srv.mustCall(t, alice, "tasks.children", map[string]any{"parent_id": "al-root"}, &children)
	if len(children) != 2 || children[0].ID != "alice/al-a" {
		t.Fatalf("tasks.children (by priority) = %+v", children)
	}

	listIDs := func(token string, params map[string]any) []string {
		var l []wireTask
		srv.mustCall(t, token, "tasks.list", params, &l)
		var ids []string
		for _, w := range l {
			ids = append(ids, w.ID)
		}
		return ids
	}
	roots := listIDs(alice, map[string]any{})
	if !contains(roots, "alice/al-root") || !contains(roots, "alice/al-single") || contains(roots, "alice/al-a") || contains(roots, "bob/bob-single") {
		t.Errorf("alice's root list = %v", roots)
	}
	if all := listIDs(alice, map[string]any{"root_only": false}); !contains(all, "alice/al-a") || !contains(all, "alice/al-b") {
		t.Errorf("root_only=false list = %v", all)
	}
	if pending := listIDs(alice, map[string]any{"status": "completed"}); len(pending) != 0 {
		t.Errorf("status=completed before any run = %v", pending)
	}
	p1 := listIDs(alice, map[string]any{"limit": 1, "offset": 0})
	p2 := listIDs(alice, map[string]any{"limit": 1, "offset": 1})
	if len(p1) != 1 || len(p2) != 1 || p1[0] == p2[0] {
		t.Errorf("paging: page 1 %v, page 2 %v", p1, p2)
	}
	srv.wantCode(t, alice, "tasks.list", map[string]any{"limit": 5000}, -32602)
	if bobsRoots := listIDs(bob, map[string]any{}); len(bobsRoots) != 1 || bobsRoots[0] != "bob/bob-single" {
		t.Errorf("bob's list = %v", bobsRoots)
	}
	if adminRoots := listIDs(admin, map[string]any{}); !contains(adminRoots, "alice/al-root") || !contains(adminRoots, "bob/bob-single") {
		t.Errorf("admin's list = %v", adminRoots)
	}
	if only := listIDs(admin, map[string]any{"user_id": "bob"}); len(only) != 1 || only[0] != "bob/bob-single" {
		t.Errorf("admin's list of bob = %v", only)
	}

	var count map[string]any
	srv.mustCall(t, alice, "tasks.count", map[string]any{}, &count)
	if count["total"] != 4.0 || count["pending"] != 4.0 {
		t.Errorf("alice's count = %v", count)
	}
	srv.mustCall(t, alice, "tasks.count", map[string]any{"root_only": true, "statuses": []string{"pending"}}, &count)
	if count["total"] != 2.0 {
		t.Errorf("alice's root count = %v", count)
	}
	srv.mustCall(t, admin, "tasks.count", map[string]any{}, &count)
	if count["total"] != 5.0 {
		t.Errorf("admin's count = %v", count)
	}
}

// e2eUpdate changes fields, and checks the refusals: illegal status transition
// (-32006), managed fields (-32602), a dependency cycle (-32002), another user's task
// (-32001).
func e2eUpdate(t *testing.T, env *e2eEnv) {
	srv, alice, bob := env.srv, env.alice, env.bob
	var up wireTask
	srv.mustCall(t, alice, "tasks.update", map[string]any{"task_id": "al-single", "name": "renamed", "inputs": map[string]any{"z": 4}}, &up)
	if up.Name != "renamed" || up.Inputs["z"] != 4.0 {
		t.Fatalf("tasks.update = %+v", up)
	}
	e := srv.wantCode(t, alice, "tasks.update", map[string]any{"task_id": "al-single", "status": "completed"}, -32006)
	if !bytes.Contains(e.Data, []byte(`"current_status":"pending"`)) {
		t.Errorf("-32006 data = %s", e.Data)
	}
	srv.wantCode(t, alice, "tasks.update", map[string]any{"task_id": "al-single", "user_id": "bob"}, -32602)
	srv.wantCode(t, alice, "tasks.update", map[string]any{"task_id": "al-a", "dependencies": []string{"al-b"}}, -32002)
	srv.wantCode(t, bob, "tasks.update", map[string]any{"task_id": "al-single", "name": "bob was here"}, -32001)
	if got := srv.getTask(t, alice, "al-single"); got.Name != "renamed" {
		t.Fatalf("bob's refused update changed the task: %+v", got)
	}
}

// e2eExecute runs al-root by task_id (then again with full), an inline tree with a
// trap, and checks the final statuses, injection, attempts and plugin hashes.
func e2eExecute(t *testing.T, env *e2eEnv) {
	srv, alice, bob := env.srv, env.alice, env.bob
	type execResult struct {
		Success    bool   `json:"success"`
		Protocol   string `json:"protocol"`
		RootTaskID string `json:"root_task_id"`
		TaskID     string `json:"task_id"`
		Status     string `json:"status"`
		Result     any    `json:"result"`
	}
	var r execResult
	srv.mustCall(t, alice, "tasks.execute", map[string]any{"task_id": "al-root"}, &r)
	if !r.Success || r.Status != "completed" || r.RootTaskID != "alice/al-root" || r.Protocol != "jsonrpc" {
		t.Fatalf("execute by task_id = %+v", r)
	}
	b := srv.getTask(t, alice, "al-b")
	// echo declares schemas without properties, which count as none: its result is
	// merged flat into the dependent's inputs.
	if b.Status != "completed" || fmt.Sprint(b.Inputs["x"]) != "1" || b.Inputs["alice/al-a"] != nil || b.Attempts != 1 || len(b.pluginHash()) != 64 {
		t.Fatalf("al-b after the run: %+v (dependency injection, attempts, plugin hash)", b)
	}
	// Re-execution with full re-runs the completed tasks.
	srv.mustCall(t, alice, "tasks.execute", map[string]any{"task_id": "al-root", "full": true}, &r)
	if r.Status != "completed" {
		t.Fatalf("full re-run = %+v", r)
	}
	if b := srv.getTask(t, alice, "al-b"); b.Attempts != 2 {
		t.Errorf("al-b ran %d times after a full re-run, want 2", b.Attempts)
	}
	// Inline tasks: stored, run, and the final status answered.
	srv.mustCall(t, alice, "tasks.execute", map[string]any{"tasks": []map[string]any{
		{"id": "al-inline", "name": "inline", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": []string{"boom"}},
		{"name": "boom", "parent_id": "al-inline", "schemas": map[string]any{"method": "divzero"}},
	}}, &r)
	// The trap fails boom; the root, blocked by its failed required dependency, stays
	// pending with the reason as its error (decisions: blocked tasks).
	if r.RootTaskID != "alice/al-inline" || r.Status != "pending" {
		t.Fatalf("inline run with a trap = %+v", r)
	}
	if root := srv.getTask(t, alice, "al-inline"); !strings.Contains(root.errorText(), "required dependency") {
		t.Errorf("blocked root's error = %q", root.errorText())
	}
	var l []wireTask
	srv.mustCall(t, alice, "tasks.list", map[string]any{"status": "completed"}, &l)
	if len(l) != 1 || l[0].ID != "alice/al-root" {
		t.Errorf("status=completed list = %+v", l)
	}
	srv.wantCode(t, bob, "tasks.execute", map[string]any{"task_id": "al-root"}, -32001)
}

// e2eClone clones al-root recursively.
func e2eClone(t *testing.T, env *e2eEnv) {
	srv, alice, bob := env.srv, env.alice, env.bob
	var clones []wireTask
	srv.mustCall(t, alice, "tasks.clone", map[string]any{"task_id": "al-root"}, &clones)
	if len(clones) != 3 {
		t.Fatalf("recursive clone gave %d tasks", len(clones))
	}
	for _, c := range clones {
		if !strings.HasPrefix(c.ID, "alice/") || strings.HasPrefix(c.ID, "alice/al-") || c.Status != "pending" || c.OriginalTask == nil || c.OriginType != "copy" {
			t.Errorf("clone %+v", c)
		}
	}
	srv.wantCode(t, bob, "tasks.clone", map[string]any{"task_id": "al-root"}, -32001)
}

// e2eStreamingExecute runs an inline tree with use_streaming and parses the SSE
// answer: the JSON-RPC response first, the task events, final, stream_end.
func e2eStreamingExecute(t *testing.T, env *e2eEnv) {
	srv, alice := env.srv, env.alice
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "tasks.execute", "params": map[string]any{
		"use_streaming": true,
		"tasks": []map[string]any{
			{"id": "al-stream", "name": "stream", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": []string{"one", "two"}},
			{"name": "one", "parent_id": "al-stream", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"n": 1}},
			{"name": "two", "parent_id": "al-stream", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"n": 2}, "dependencies": []string{"one"}},
		},
	}})
	frames := collect(t, srv.openSSE(t, alice, http.MethodPost, "/tasks", body))
	if len(frames) < 3 {
		t.Fatalf("frames = %v", frames)
	}
	first := frames[0]
	res, _ := first["result"].(map[string]any)
	if first["jsonrpc"] != "2.0" || first["id"] != 7.0 || res["status"] != "started" || res["streaming"] != true || res["root_task_id"] != "alice/al-stream" {
		t.Fatalf("first frame is not the JSON-RPC response: %v", first)
	}
	types := map[string]int{}
	for _, f := range frames[1:] {
		types[f.typ()]++
		if f.typ() != "stream_end" && f.str("root_task_id") != "alice/al-stream" {
			t.Errorf("frame of another run: %v", f)
		}
	}
	if types["task_start"] != 3 || types["task_completed"] != 3 || types["final"] != 1 || types["stream_end"] != 1 {
		t.Errorf("frame types = %v", types)
	}
	last, final := frames[len(frames)-1], frames[len(frames)-2]
	if last.typ() != "stream_end" || final.typ() != "final" || final["final"] != true || final.str("status") != "completed" {
		t.Errorf("stream ends with %v then %v", final, last)
	}
}

// e2eWebhookExecute runs an inline tree with webhook_config and receives its frames on
// a loopback HTTP server.
func e2eWebhookExecute(t *testing.T, env *e2eEnv) {
	srv, alice := env.srv, env.alice
	type delivery struct {
		header string
		frame  map[string]any
	}
	got := make(chan delivery, 64)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f map[string]any
		_ = json.NewDecoder(r.Body).Decode(&f)
		got <- delivery{r.Header.Get("X-Run"), f}
	}))
	defer hook.Close()
	var r map[string]any
	srv.mustCall(t, alice, "tasks.execute", map[string]any{
		"webhook_config": map[string]any{"url": hook.URL + "/apflow", "headers": map[string]string{"X-Run": "wh"}, "method": "PUT"},
		"tasks": []map[string]any{
			{"id": "al-hook", "name": "hooked", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": []string{"h1"}},
			{"name": "h1", "parent_id": "al-hook", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"w": 1}},
		},
	}, &r)
	if r["streaming"] != true || r["webhook_url"] != hook.URL+"/apflow" {
		t.Fatalf("webhook execute answered %v", r)
	}
	var types []string
	timeout := time.After(e2eWait)
	for len(types) == 0 || types[len(types)-1] != "final" {
		select {
		case d := <-got:
			if d.header != "wh" {
				t.Errorf("delivery without the configured header: %v", d)
			}
			if typ := fmt.Sprint(d.frame["type"]); typ != "progress" && typ != "task_log" {
				types = append(types, typ)
			}
			if d.frame["type"] == "final" && d.frame["status"] != "completed" {
				t.Errorf("final webhook frame %v", d.frame)
			}
		case <-timeout:
			t.Fatalf("webhook got %v, no final frame within %s", types, e2eWait)
		}
	}
	if strings.Join(types, ",") != "task_start,task_completed,task_start,task_completed,final" {
		t.Errorf("webhook frames in order (progress and task_log left out): %v", types)
	}
}

// e2eBatch sends a batch (with a notification and an unknown method) and the
// envelope errors -32700, -32600 and -32602.
func e2eBatch(t *testing.T, env *e2eEnv) {
	srv, alice := env.srv, env.alice
	body := []byte(`[
	 {"jsonrpc":"2.0","id":"g","method":"tasks.get","params":{"task_id":"al-root"}},
	 {"jsonrpc":"2.0","id":"c","method":"tasks.running.count","params":{}},
	 {"jsonrpc":"2.0","id":"u","method":"tasks.nope","params":{}},
	 {"jsonrpc":"2.0","method":"tasks.count","params":{}}
	]`)
	code, raw := srv.do(t, alice, http.MethodPost, "/tasks", body, "application/json")
	var rs []rpcResponse
	if code != http.StatusOK || json.Unmarshal(raw, &rs) != nil {
		t.Fatalf("batch: HTTP %d %s", code, raw)
	}
	if len(rs) != 3 {
		t.Fatalf("batch of 3 requests and a notification answered %d entries: %s", len(rs), raw)
	}
	byID := map[string]rpcResponse{}
	for _, r := range rs {
		byID[strings.Trim(string(r.ID), `"`)] = r
	}
	if byID["g"].Error != nil || !bytes.Contains(byID["g"].Result, []byte(`"alice/al-root"`)) {
		t.Errorf("batch get = %+v", byID["g"])
	}
	if byID["c"].Error != nil {
		t.Errorf("batch running.count = %+v", byID["c"])
	}
	if e := byID["u"].Error; e == nil || e.Code != -32601 {
		t.Errorf("unknown method in a batch = %+v", byID["u"])
	}
	for _, tc := range []struct {
		body string
		code int
	}{{`{not json`, -32700}, {`[]`, -32600}, {`{"jsonrpc":"2.0","id":1,"method":"tasks.get","params":{"task_id":5}}`, -32602}} {
		_, raw := srv.do(t, alice, http.MethodPost, "/tasks", []byte(tc.body), "application/json")
		var r rpcResponse
		if json.Unmarshal(raw, &r) != nil || r.Error == nil || r.Error.Code != tc.code {
			t.Errorf("%s answered %s, want %d", tc.body, raw, tc.code)
		}
	}
}

// e2eA2A sends an A2A message/send with a data part holding a tree.
func e2eA2A(t *testing.T, env *e2eEnv) {
	srv, alice := env.srv, env.alice
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "a2a", "method": "message/send", "params": map[string]any{
		"message": map[string]any{"role": "user", "messageId": "m1", "parts": []map[string]any{{"kind": "data", "data": map[string]any{"tasks": []map[string]any{
			{"id": "al-a2a", "name": "a2a", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"via": "a2a"}},
		}}}}},
	}})
	code, raw := srv.do(t, alice, http.MethodPost, "/", body, "application/json")
	var r struct {
		Result struct {
			ID     string `json:"id"`
			Kind   string `json:"kind"`
			Status struct {
				State string `json:"state"`
			} `json:"status"`
			Artifacts []struct {
				Parts []struct {
					Data map[string]any `json:"data"`
				} `json:"parts"`
			} `json:"artifacts"`
		} `json:"result"`
		Error *rpcError `json:"error"`
	}
	if code != http.StatusOK || json.Unmarshal(raw, &r) != nil || r.Error != nil {
		t.Fatalf("A2A: HTTP %d %s", code, raw)
	}
	if r.Result.Kind != "task" || r.Result.Status.State != "completed" || len(r.Result.Artifacts) == 0 {
		t.Fatalf("A2A task = %s", raw)
	}
	data := r.Result.Artifacts[0].Parts[0].Data
	if data["root_task_id"] != "alice/al-a2a" || !strings.Contains(fmt.Sprint(data["result"]), "a2a") {
		t.Errorf("A2A artifact = %v", data)
	}
	if got := srv.getTask(t, alice, "al-a2a"); got.Status != "completed" || got.UserID == nil || *got.UserID != "alice" {
		t.Errorf("A2A task as stored: %+v", got)
	}
}

// e2eRunningTree runs alice's slow tree al-slow and, while it runs: follows it
// from a second client (GET /events), checks the running views, bob's isolation from it,
// plugin upload (raw and multipart, refused for non-admins and junk), a task on the
// uploaded plugin, plugin removal; then cancels it (running.cancel and cancel).
func e2eRunningTree(t *testing.T, env *e2eEnv) {
	srv, alice, bob, admin := env.srv, env.alice, env.bob, env.admin
	var created []wireTask
	srv.mustCall(t, alice, "tasks.create", []map[string]any{
		{"id": "al-slow", "name": "slow", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": []string{"spin1", "spin2"}},
		{"id": "al-spin1", "name": "spin1", "parent_id": "al-slow", "schemas": map[string]any{"method": "spin"}, "inputs": map[string]any{"pad": hugePad}, "limits": gateLimits},
		{"id": "al-spin2", "name": "spin2", "parent_id": "al-slow", "schemas": map[string]any{"method": "spin"}, "inputs": map[string]any{"pad": hugePad}, "limits": gateLimits},
	}, &created)
	type execOutcome struct {
		result map[string]any
		err    *rpcError
	}
	done := make(chan execOutcome, 1)
	go func() {
		// tasks.execute waits for the end of the run; the test cancels it below.
		var out execOutcome
		res, rerr := srv.callNoFatal(alice, "tasks.execute", map[string]any{"task_id": "al-slow"})
		out.err = rerr
		_ = json.Unmarshal(res, &out.result)
		done <- out
	}()
	srv.waitStatus(t, alice, "al-spin1", "in_progress")
	srv.waitStatus(t, alice, "al-spin2", "in_progress")

	// A second client follows the run.
	follow := srv.openSSE(t, alice, http.MethodGet, "/events?root_task_id=al-spin1", nil)

	// Running views.
	var running []wireTask
	srv.mustCall(t, alice, "tasks.running.list", map[string]any{}, &running)
	if len(running) != 1 || running[0].ID != "alice/al-slow" {
		t.Errorf("alice's running.list = %+v", running)
	}
	var statuses []map[string]any
	srv.mustCall(t, alice, "tasks.running.status", map[string]any{"task_ids": []string{"al-slow", "al-spin1", "nope"}}, &statuses)
	if len(statuses) != 3 || statuses[0]["is_running"] != true || statuses[1]["status"] != "in_progress" || statuses[2]["status"] != "not_found" {
		t.Errorf("running.status = %v", statuses)
	}
	var cnt map[string]any
	srv.mustCall(t, alice, "tasks.running.count", map[string]any{}, &cnt)
	if cnt["count"] != 1.0 {
		t.Errorf("alice's running.count = %v", cnt)
	}
	srv.mustCall(t, admin, "tasks.running.count", map[string]any{}, &cnt)
	if cnt["count"] != 1.0 {
		t.Errorf("admin's running.count = %v", cnt)
	}

	// Bob sees nothing of alice's run and cannot act on it.
	srv.mustCall(t, bob, "tasks.running.count", map[string]any{}, &cnt)
	if cnt["count"] != 0.0 {
		t.Errorf("bob's running.count = %v", cnt)
	}
	srv.mustCall(t, bob, "tasks.running.list", map[string]any{}, &running)
	if len(running) != 0 {
		t.Errorf("bob's running.list = %+v", running)
	}
	srv.mustCall(t, bob, "tasks.running.status", map[string]any{"task_ids": "al-slow"}, &statuses)
	if len(statuses) != 1 || statuses[0]["status"] != "not_found" {
		t.Errorf("bob's running.status of alice's run = %v", statuses)
	}
	srv.wantCode(t, bob, "tasks.get", map[string]any{"task_id": "al-slow"}, -32001)
	srv.wantCode(t, bob, "tasks.tree", map[string]any{"task_id": "al-slow"}, -32001)
	srv.wantCode(t, bob, "tasks.update", map[string]any{"task_id": "al-spin1", "status": "cancelled"}, -32001)
	var cancels []map[string]any
	srv.mustCall(t, bob, "tasks.cancel", map[string]any{"task_ids": []string{"al-slow"}}, &cancels)
	if len(cancels) != 1 || cancels[0]["status"] != "error" || !strings.Contains(fmt.Sprint(cancels[0]["message"]), "not found") {
		t.Errorf("bob's cancel of alice's run = %v", cancels)
	}
	if code, raw := srv.do(t, bob, http.MethodGet, "/events?root_task_id=al-slow", nil, ""); code != http.StatusNotFound {
		t.Errorf("bob following alice's run: HTTP %d %s", code, raw)
	}
	if got := srv.getTask(t, admin, "alice/al-spin1"); got.Status != "in_progress" {
		t.Fatalf("after bob's attempts, alice's task is %s (the admin sees it)", got.Status)
	}
	srv.wantCode(t, alice, "tasks.update", map[string]any{"task_id": "al-spin1", "status": "cancelled"}, -32008)
	srv.wantCode(t, alice, "tasks.delete", map[string]any{"task_id": "al-slow", "force": true}, -32009)

	// Plugin management while the run goes on.
	maybe, err := os.ReadFile("testdata/maybe_ok.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if code, raw := srv.do(t, alice, http.MethodPost, "/plugins?name=maybe", maybe, "application/wasm"); code != http.StatusForbidden {
		t.Errorf("alice (not admin) uploading: HTTP %d %s", code, raw)
	}
	if code, raw := srv.do(t, admin, http.MethodPost, "/plugins?name=junk", []byte("\x00asm but not really"), "application/wasm"); code != http.StatusBadRequest || !bytes.Contains(raw, []byte("-32602")) {
		t.Errorf("junk upload: HTTP %d %s", code, raw)
	}
	code, raw := srv.do(t, admin, http.MethodPost, "/plugins?name=maybe", maybe, "application/wasm")
	var info struct{ ID, Hash string }
	if code != http.StatusCreated || json.Unmarshal(raw, &info) != nil || info.ID != "maybe" || len(info.Hash) != 64 {
		t.Fatalf("upload: HTTP %d %s", code, raw)
	}
	var r map[string]any
	srv.mustCall(t, alice, "tasks.execute", map[string]any{"tasks": []map[string]any{
		{"id": "al-maybe", "name": "uses the uploaded plugin", "schemas": map[string]any{"method": "maybe"}},
	}}, &r)
	if r["status"] != "completed" || !strings.Contains(fmt.Sprint(r["result"]), "fixed") {
		t.Fatalf("a task on the plugin uploaded during a run: %v", r)
	}
	if got := srv.getTask(t, alice, "al-maybe"); got.pluginHash() != info.Hash {
		t.Errorf("al-maybe ran on %s, uploaded %s", got.pluginHash(), info.Hash)
	}
	if code, raw := srv.do(t, alice, http.MethodDelete, "/plugins/maybe", nil, ""); code != http.StatusForbidden {
		t.Errorf("alice deleting a plugin: HTTP %d %s", code, raw)
	}
	if code, raw := srv.do(t, admin, http.MethodDelete, "/plugins/"+info.Hash, nil, ""); code != http.StatusOK {
		t.Errorf("delete by hash: HTTP %d %s", code, raw)
	}
	if code, _ := srv.do(t, admin, http.MethodGet, "/plugins/maybe", nil, ""); code != http.StatusNotFound {
		t.Errorf("GET of a removed plugin: HTTP %d", code)
	}
	if code, _ := srv.do(t, admin, http.MethodDelete, "/plugins/maybe", nil, ""); code != http.StatusNotFound {
		t.Errorf("second delete: HTTP %d", code)
	}
	// The multipart form of the upload (curl -F file=@maybe.wasm).
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("file", "maybe.wasm")
	_, _ = part.Write(maybe)
	_ = mw.Close()
	if code, raw := srv.do(t, admin, http.MethodPost, "/plugins", form.Bytes(), mw.FormDataContentType()); code != http.StatusCreated || !bytes.Contains(raw, []byte(info.Hash)) {
		t.Errorf("multipart upload: HTTP %d %s", code, raw)
	}
	if code, raw := srv.do(t, admin, http.MethodDelete, "/plugins/maybe", nil, ""); code != http.StatusOK {
		t.Errorf("delete after the multipart upload: HTTP %d %s", code, raw)
	}

	// Alice cancels one task through the running alias, then her whole tree.
	srv.mustCall(t, alice, "tasks.running.cancel", map[string]any{"context_ids": []string{"al-spin2"}, "error_message": "enough"}, &cancels)
	if len(cancels) != 1 || cancels[0]["status"] != "cancelled" || cancels[0]["message"] != "enough" {
		t.Fatalf("running.cancel = %v", cancels)
	}
	if got := srv.waitStatus(t, alice, "al-spin2", "cancelled"); !strings.Contains(got.errorText(), "enough") {
		t.Errorf("al-spin2 cancelled with error %q", got.errorText())
	}
	srv.mustCall(t, alice, "tasks.cancel", map[string]any{"task_ids": "al-slow"}, &cancels)
	if len(cancels) != 1 || cancels[0]["status"] != "cancelled" {
		t.Fatalf("cancel = %v", cancels)
	}
	var out execOutcome
	select {
	case out = <-done:
	case <-time.After(e2eWait):
		t.Fatalf("tasks.execute did not answer within %s of the cancel", e2eWait)
	}
	if out.err != nil || out.result["status"] != "cancelled" {
		t.Errorf("the waiting tasks.execute answered %v / %v", out.result, out.err)
	}
	for _, id := range []string{"al-slow", "al-spin1", "al-spin2"} {
		if got := srv.waitStatus(t, alice, id, "cancelled", "failed", "completed"); got.Status != "cancelled" {
			t.Errorf("%s is %s after the cancel", id, got.Status)
		}
	}
	frames := collect(t, follow)
	types := map[string]int{}
	cancelled := 0
	for _, f := range frames {
		types[f.typ()]++
		if f.typ() == "task_failed" && f.str("status") == "cancelled" {
			cancelled++
		}
	}
	if cancelled < 2 || types["final"] != 1 || types["stream_end"] != 1 {
		t.Errorf("the follower saw %v (%d cancelled task frames)", types, cancelled)
	}
	if n := len(frames); n < 2 || frames[n-2].str("status") != "cancelled" {
		t.Errorf("follower's final frame: %v", frames)
	}
	// A finished run is followed with its final frame at once.
	after := collect(t, srv.openSSE(t, alice, http.MethodGet, "/events?root_task_id=al-slow", nil))
	if len(after) != 2 || after[0].typ() != "final" || after[1].typ() != "stream_end" {
		t.Errorf("following a finished run = %v", after)
	}
	var left map[string]any
	srv.mustCall(t, alice, "tasks.running.count", map[string]any{}, &left)
	if left["count"] != 0.0 {
		t.Errorf("running.count after the cancel = %v", left)
	}
}

// e2eDelete deletes tasks: refused for bob, a completed tree only with force.
func e2eDelete(t *testing.T, env *e2eEnv) {
	srv, alice, bob, admin := env.srv, env.alice, env.bob, env.admin
	srv.wantCode(t, bob, "tasks.delete", map[string]any{"task_id": "al-single"}, -32001)
	var del map[string]any
	srv.mustCall(t, alice, "tasks.delete", map[string]any{"task_id": "al-single"}, &del)
	if del["success"] != true || del["deleted_count"] != 1.0 {
		t.Errorf("delete of a pending task = %v", del)
	}
	srv.wantCode(t, alice, "tasks.get", map[string]any{"task_id": "al-single"}, -32001)
	srv.wantCode(t, alice, "tasks.delete", map[string]any{"task_id": "al-stream"}, -32009)
	srv.mustCall(t, alice, "tasks.delete", map[string]any{"task_id": "al-stream", "force": true}, &del)
	if del["success"] != true || del["deleted_count"] != 3.0 {
		t.Errorf("forced delete of a completed tree = %v", del)
	}
	var l []wireTask
	srv.mustCall(t, admin, "tasks.list", map[string]any{"user_id": "alice", "limit": 1000}, &l)
	for _, w := range l {
		if w.ID == "alice/al-stream" || w.ID == "alice/al-single" {
			t.Errorf("%s still listed after delete", w.ID)
		}
	}
}

// e2eMetrics checks that /metrics counted the calls and executions above.
func e2eMetrics(t *testing.T, env *e2eEnv) {
	srv, admin := env.srv, env.admin
	code, metrics := srv.do(t, admin, http.MethodGet, "/metrics", nil, "")
	for _, want := range []string{`apflow_rpc_calls_total{method="tasks.get"`, `apflow_http_requests_total{`, `apflow_executor_duration_seconds`} {
		if code != http.StatusOK || !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
}

// callNoFatal is call for goroutines other than the test's: it never calls t.Fatal.
func (p *serveProc) callNoFatal(token, method string, params any) (json.RawMessage, *rpcError) {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/tasks", bytes.NewReader(body))
	if err != nil {
		return nil, &rpcError{Code: -1, Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, &rpcError{Code: -1, Message: err.Error()}
	}
	defer resp.Body.Close()
	var r rpcResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, &rpcError{Code: -1, Message: fmt.Sprintf("HTTP %d: %v", resp.StatusCode, err)}
	}
	return r.Result, r.Error
}

func checkAgentCard(t *testing.T, b []byte) {
	var card struct {
		Name   string `json:"name"`
		URL    string `json:"url"`
		Skills []struct {
			ID string `json:"id"`
		} `json:"skills"`
	}
	if err := json.Unmarshal(b, &card); err != nil || card.Name == "" {
		t.Fatalf("agent card: %v\n%s", err, b)
	}
	ids := map[string]bool{}
	for _, s := range card.Skills {
		ids[s.ID] = true
	}
	if !ids["tasks.execute"] || !ids["echo"] {
		t.Errorf("agent card skills lack tasks.execute or echo: %s", b)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestServeGracefulShutdownResumes sends SIGTERM to `apflow serve` while a chain of
// slow tasks runs: the process must exit within its drain time, and `apflow serve`
// started again on the same data dir must resume the run and complete it. With a long
// drain the running task finishes before the exit (and never runs again); with a drain
// too short for it, it is interrupted, put back to pending and run again after the
// restart.
func TestServeGracefulShutdownResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs apflow serve twice")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	tests := []struct {
		name          string
		drain         time.Duration
		wantExit      []int // accepted exit statuses of the first process
		wantAttempts1 int   // runs of the task that was executing at SIGTERM
	}{
		{name: "running task finishes in the drain", drain: 45 * time.Second, wantExit: []int{0}, wantAttempts1: 1},
		// Close reports the interrupted tasks as an error, so serve exits 1 (see the report).
		{name: "drain too short: running task re-queued", drain: 50 * time.Millisecond, wantExit: []int{0}, wantAttempts1: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir, plugins := setup(t)
			srv := startServe(t, bin, dataDir, plugins, "", "--drain", tc.drain.String())
			tasks := []map[string]any{{"id": "gs-root", "name": "root", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": []string{"gs-3"}}}
			for i := 1; i <= 3; i++ {
				tk := map[string]any{"id": fmt.Sprintf("gs-%d", i), "name": fmt.Sprintf("step %d", i), "parent_id": "gs-root",
					"schemas": map[string]any{"method": "spin"}, "inputs": map[string]any{"pad": slowPad}}
				if i > 1 {
					tk["dependencies"] = []string{fmt.Sprintf("gs-%d", i-1)}
				}
				tasks = append(tasks, tk)
			}
			srv.mustCall(t, "", "tasks.create", tasks, nil)
			answered := make(chan *rpcError, 1)
			go func() {
				_, rerr := srv.callNoFatal("", "tasks.execute", map[string]any{"task_id": "gs-root"})
				answered <- rerr
			}()
			srv.waitStatus(t, "", "gs-1", "in_progress")

			code := srv.stop(t, syscall.SIGTERM, tc.drain+e2eWait)
			if !slices.Contains(tc.wantExit, code) {
				t.Fatalf("apflow serve exited %d after SIGTERM, want one of %v\nstderr:\n%s", code, tc.wantExit, srv.stderr)
			}
			select {
			case rerr := <-answered:
				if rerr != nil && rerr.Code != -1 {
					t.Errorf("the waiting tasks.execute answered an error: %v", rerr)
				}
			case <-time.After(e2eWait):
				t.Fatal("the waiting tasks.execute call never ended")
			}

			again := startServe(t, bin, dataDir, plugins, "")
			// Recover runs before serve listens: an interrupted run is running (or done) by now.
			var running map[string]any
			again.mustCall(t, "", "tasks.running.count", map[string]any{}, &running)
			if root := again.getTask(t, "", "gs-root"); running["count"] == 0.0 && root.Status == "pending" {
				var tree wireTree
				again.mustCall(t, "", "tasks.tree", map[string]any{"task_id": "gs-root"}, &tree)
				var states []string
				for _, c := range tree.Children {
					states = append(states, fmt.Sprintf("%s %s attempts=%d", c.Task.ID, c.Task.Status, c.Task.Attempts))
				}
				t.Fatalf("the restarted server did not resume the interrupted run: root pending, nothing running; children: %v", states)
			}
			root := again.waitStatus(t, "", "gs-root", "completed")
			if root.Status != "completed" {
				t.Fatalf("after the restart the root is %s", root.Status)
			}
			for i := 1; i <= 3; i++ {
				got := again.getTask(t, "", fmt.Sprintf("gs-%d", i))
				if got.Status != "completed" {
					t.Errorf("%s is %s", got.ID, got.Status)
				}
				if i == 1 && got.Attempts != tc.wantAttempts1 {
					t.Errorf("gs-1 (running at SIGTERM) ran %d times, want %d", got.Attempts, tc.wantAttempts1)
				}
			}
			if code := again.stop(t, syscall.SIGTERM, e2eWait); code != 0 {
				t.Errorf("second apflow serve exited %d", code)
			}
		})
	}
}
