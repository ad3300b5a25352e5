package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
)

// readSSE reads data frames until stream_end or EOF.
func readSSE(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	var frames []map[string]any
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(line[6:]), &f); err != nil {
			t.Fatalf("bad frame %q: %v", line, err)
		}
		frames = append(frames, f)
		if f["type"] == "stream_end" {
			break
		}
	}
	return frames
}

func TestStreamingExecute(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	p, _ := json.Marshal(map[string]any{"tasks": tree("st"), "use_streaming": true})
	req, _ := http.NewRequest("POST", e.http.URL+"/tasks", strings.NewReader(`{"jsonrpc":"2.0","method":"tasks.execute","id":7,"params":`+string(p)+`}`))
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	frames := readSSE(t, resp.Body)
	if len(frames) < 3 {
		t.Fatalf("frames = %v", frames)
	}
	first := frames[0]
	if first["jsonrpc"] != "2.0" || first["id"] != float64(7) {
		t.Fatalf("first frame = %v", first)
	}
	if res, _ := first["result"].(map[string]any); res["root_task_id"] != "st-root" || res["streaming"] != true {
		t.Fatalf("first result = %v", first["result"])
	}
	types := map[string]int{}
	for _, f := range frames[1:] {
		types[f["type"].(string)]++
	}
	if types["task_start"] != 3 || types["task_completed"] != 3 || types["final"] != 1 || types["stream_end"] != 1 {
		t.Fatalf("frame types = %v (%v)", types, frames)
	}
	final := frames[len(frames)-2]
	if final["type"] != "final" || final["status"] != "completed" || final["final"] != true {
		t.Fatalf("final = %v", final)
	}
	// Streaming in a batch is refused.
	_, body := e.post(t, "/tasks", "", `[{"jsonrpc":"2.0","method":"tasks.execute","id":1,"params":{"task_id":"st-root","use_streaming":true}}]`)
	if !bytes.Contains(body, []byte("-32602")) {
		t.Fatalf("batch streaming: %s", body)
	}
}

func TestEventsFollow(t *testing.T) {
	t.Parallel()
	e := setup(t, privateWebhooks)
	slow := []map[string]any{
		{"id": "ev-root", "name": "ev-root", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{"ev-a"}},
		{"id": "ev-a", "name": "ev-a", "parent_id": "ev-root", "schemas": map[string]any{"method": "sleep"}, "inputs": map[string]any{"ms": 300}},
	}
	e.ok(t, "", "tasks.create", slow, nil)
	e.ok(t, "", "tasks.execute", map[string]any{"task_id": "ev-root", "webhook_config": map[string]any{"url": "http://127.0.0.1:1/x", "max_retries": 0}}, nil)
	resp, err := e.http.Client().Get(e.http.URL + "/events?root_task_id=ev-a")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	frames := readSSE(t, resp.Body)
	last := frames[len(frames)-1]
	final := frames[len(frames)-2]
	if last["type"] != "stream_end" || final["type"] != "final" || final["status"] != "completed" || final["root_task_id"] != "ev-root" {
		t.Fatalf("frames = %v", frames)
	}
	// Not running: the final frame at once.
	resp2, err := e.http.Client().Get(e.http.URL + "/events?root_task_id=ev-root")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if frames := readSSE(t, resp2.Body); len(frames) != 2 || frames[0]["type"] != "final" {
		t.Fatalf("idle follow = %v", frames)
	}
	resp3, _ := e.http.Client().Get(e.http.URL + "/events?root_task_id=nope")
	resp3.Body.Close()
	if resp3.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown root: %d", resp3.StatusCode)
	}
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []map[string]any
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every second call fails with 503 first: retried.
		if calls.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("X-Token") != "t" || r.Method != http.MethodPut {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var f map[string]any
		_ = json.NewDecoder(r.Body).Decode(&f)
		mu.Lock()
		got = append(got, f)
		mu.Unlock()
	}))
	defer hook.Close()
	e := setup(t, privateWebhooks)
	var res map[string]any
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": tree("wh"), "webhook_config": map[string]any{
		"url": hook.URL, "method": "PUT", "headers": map[string]string{"X-Token": "t"}, "timeout": 5}}, &res)
	if res["streaming"] != true || res["webhook_url"] != hook.URL || res["root_task_id"] != "wh-root" {
		t.Fatalf("execute = %v", res)
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1]["type"] == "final"
	})
	mu.Lock()
	defer mu.Unlock()
	if got[len(got)-1]["status"] != "completed" || got[0]["protocol"] != "jsonrpc" {
		t.Fatalf("deliveries = %v", got)
	}
	if len(got) < 4 {
		t.Fatalf("only %d deliveries: %v", len(got), got)
	}
}

func TestWebhook4xxStops(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer hook.Close()
	e := setup(t, privateWebhooks)
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": tree("w4"), "webhook_config": map[string]any{"url": hook.URL}}, nil)
	waitFor(t, func() bool { return !e.srv.rootRunning(t.Context(), "w4-root", nil) && calls.Load() >= 1 })
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls after a 403, want 1", n)
	}
}

func TestPlugins(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{mutate: func(c *Config) { c.MaxPluginBytes = 1024 }})
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	status, body := e.postRaw(t, "/plugins?name=raw", "", "application/wasm", wasm)
	if status != http.StatusCreated || !bytes.Contains(body, []byte(`"id":"raw"`)) || !bytes.Contains(body, []byte(`"hash"`)) {
		t.Fatalf("raw upload: %d %s", status, body)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "multi.wasm")
	fw.Write(wasm)
	mw.Close()
	status, body = e.postRaw(t, "/plugins", "", mw.FormDataContentType(), buf.Bytes())
	if status != http.StatusCreated || !bytes.Contains(body, []byte(`"id":"multi"`)) {
		t.Fatalf("multipart upload: %d %s", status, body)
	}
	if status, body = e.postRaw(t, "/plugins?name=x", "", "application/wasm", []byte("not wasm")); status != http.StatusBadRequest {
		t.Fatalf("bad module: %d %s", status, body)
	}
	if status, _ = e.postRaw(t, "/plugins?name=x", "", "application/wasm", make([]byte, 2048)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized module: %d", status)
	}
	resp, _ := e.http.Client().Get(e.http.URL + "/plugins/multi")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("get plugin: %d", resp.StatusCode)
	}
	// An id that needs escaping in the path is found by its escaped form, whether or
	// not the router sees the path escaped (it does when it holds a %2F).
	if status, body = e.postRaw(t, "/plugins?name=100%25+a%2Fb", "", "application/wasm", wasm); status != http.StatusCreated {
		t.Fatalf("upload of %q: %d %s", "100% a/b", status, body)
	}
	if status, body = e.postRaw(t, "/plugins?name=100%25", "", "application/wasm", wasm); status != http.StatusCreated {
		t.Fatalf("upload of %q: %d %s", "100%", status, body)
	}
	for path, id := range map[string]string{"/plugins/100%25%20a%2Fb": "100% a/b", "/plugins/100%25": "100%"} {
		if code, body := e.getPath(t, "", path); code != http.StatusOK || !bytes.Contains(body, []byte(`"id":"`+id+`"`)) {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	// The list names the files that failed to load (an older version may go on serving).
	e.cat.mu.Lock()
	e.cat.problems = map[string]string{"raw.wasm": "does not compile"}
	e.cat.mu.Unlock()
	code, list := e.getPath(t, "", "/plugins")
	var listed struct {
		Count    int               `json:"count"`
		Problems map[string]string `json:"problems"`
	}
	if err := json.Unmarshal(list, &listed); code != http.StatusOK || err != nil || listed.Count != 7 || listed.Problems["raw.wasm"] != "does not compile" {
		t.Fatalf("GET /plugins: %d %s", code, list)
	}
	// The uploaded executor runs.
	var res map[string]any
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": []map[string]any{{"name": "p", "schemas": map[string]any{"method": "raw"}}}}, &res)
	if res["status"] != "completed" {
		t.Fatalf("plugin run = %v", res)
	}
	req, _ := http.NewRequest("DELETE", e.http.URL+"/plugins/raw", nil)
	resp, _ = e.http.Client().Do(req)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp, _ = e.http.Client().Do(req)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("second delete: %d", resp.StatusCode)
	}
}

func TestA2A(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	resp, err := e.http.Client().Get(e.http.URL + "/.well-known/agent-card")
	if err != nil {
		t.Fatal(err)
	}
	var card struct {
		Name   string `json:"name"`
		Skills []struct {
			ID string `json:"id"`
		} `json:"skills"`
	}
	json.NewDecoder(resp.Body).Decode(&card)
	resp.Body.Close()
	if card.Name != "apflow" || len(card.Skills) != 4 || card.Skills[1].ID != "echo" {
		t.Fatalf("card = %+v", card)
	}
	data, _ := json.Marshal(map[string]any{"tasks": tree("a2")})
	body := `{"jsonrpc":"2.0","id":"r1","method":"message/send","params":{"message":{"role":"user","messageId":"m1","parts":[{"kind":"data","data":` + string(data) + `}]}}}`
	status, out := e.post(t, "/", "", body)
	var r struct {
		Result struct {
			Kind   string `json:"kind"`
			Status struct {
				State string `json:"state"`
			} `json:"status"`
			Artifacts []struct {
				Parts []struct {
					Data map[string]any `json:"data"`
				} `json:"parts"`
			} `json:"artifacts"`
			Metadata map[string]any `json:"metadata"`
		} `json:"result"`
	}
	if status != 200 || json.Unmarshal(out, &r) != nil || r.Result.Kind != "task" || r.Result.Status.State != "completed" ||
		r.Result.Metadata["protocol"] != "a2a" || r.Result.Metadata["root_task_id"] != "a2-root" ||
		r.Result.Artifacts[0].Parts[0].Data["task_count"] != float64(3) {
		t.Fatalf("a2a: %d %s", status, out)
	}
	_, out = e.post(t, "/", "", `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{}}`)
	if !bytes.Contains(out, []byte("-32601")) {
		t.Fatalf("unsupported a2a method: %s", out)
	}
	_, out = e.post(t, "/", "", `{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"parts":[{"kind":"text","text":"hi"}]}}}`)
	if !bytes.Contains(out, []byte("-32602")) {
		t.Fatalf("no data part: %s", out)
	}
}

func TestDiscoveryMetricsHealth(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": tree("m")}, nil)
	resp, err := e.http.Client().Get(e.http.URL + "/tasks/methods")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Total   int `json:"total"`
		Methods map[string][]struct {
			Method      string          `json:"method"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"methods"`
	}
	json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	n := 0
	for _, ms := range disc.Methods {
		for _, m := range ms {
			n++
			if len(m.InputSchema) < 10 {
				t.Errorf("%s: no schema", m.Method)
			}
		}
	}
	if disc.Total != 26 || n != 26 {
		t.Fatalf("discovery lists %d/%d methods", disc.Total, n)
	}
	resp, err = e.http.Client().Get(e.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`apflow_tasks{status="completed"} 3`, `apflow_http_requests_total{method="POST",route="/tasks",code="200"}`,
		`apflow_run_duration_seconds_count 1`, `apflow_executor_duration_seconds_count{executor="echo"} 3`, `apflow_rpc_calls_total{method="tasks.execute"} 1`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
	resp, _ = e.http.Client().Get(e.http.URL + "/healthz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}

// TestEventFrameOfLostEvents: a stream that lost events says so, with how many.
func TestEventFrameOfLostEvents(t *testing.T) {
	t.Parallel()
	f := eventFrame(engine.Event{Type: engine.EventLost, RootID: "r", Lost: 76, Time: time.Now()}, "jsonrpc")
	if f["type"] != "events_lost" || f["lost"] != 76 || f["root_task_id"] != "r" || f["final"] != false ||
		!strings.Contains(f["message"].(string), "lost 76 events") {
		t.Fatalf("frame %v", f)
	}
}
