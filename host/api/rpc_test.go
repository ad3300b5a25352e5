package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
)

func TestEnvelope(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{mutate: func(c *Config) { c.MaxBodyBytes = 4096; c.MaxBatch = 3 }})
	tests := []struct {
		name     string
		path     string
		body     string
		status   int
		code     int  // JSON-RPC error code of a single response, 0 for success
		nullID   bool // the error response has id null
		field    string
		empty    bool // no body (notification)
		batchLen int  // >0: a batch response with this many entries
	}{
		{name: "parse error", path: "/tasks", body: `{"jsonrpc":"2.0",`, status: 200, code: -32700, nullID: true},
		{name: "not json", path: "/tasks", body: `hello`, status: 200, code: -32700, nullID: true},
		{name: "empty body", path: "/tasks", body: ``, status: 200, code: -32700, nullID: true},
		{name: "empty batch", path: "/tasks", body: `[]`, status: 200, code: -32600, nullID: true},
		{name: "no version", path: "/tasks", body: `{"method":"tasks.list","id":1}`, status: 200, code: -32600},
		{name: "method not string", path: "/tasks", body: `{"jsonrpc":"2.0","method":1,"id":1}`, status: 200, code: -32600},
		{name: "params scalar", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list","params":3,"id":1}`, status: 200, code: -32600},
		{name: "unknown method", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.nope","id":1}`, status: 200, code: -32601},
		{name: "system method on tasks", path: "/tasks", body: `{"jsonrpc":"2.0","method":"system.health","id":1}`, status: 200, code: -32601},
		{name: "task method on system", path: "/system", body: `{"jsonrpc":"2.0","method":"tasks.list","id":1}`, status: 200, code: -32601},
		{name: "wrong type", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list","params":{"limit":"ten"},"id":1}`, status: 200, code: -32602, field: "limit"},
		{name: "out of range", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list","params":{"limit":5000},"id":1}`, status: 200, code: -32602, field: "limit"},
		{name: "bad enum", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list","params":{"status":"done"},"id":1}`, status: 200, code: -32602, field: "status"},
		{name: "unknown field", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list","params":{"colour":1},"id":1}`, status: 200, code: -32602, field: "colour"},
		{name: "missing field", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.delete","params":{},"id":1}`, status: 200, code: -32602, field: "task_id"},
		{name: "missing one of aliases", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.get","params":{},"id":1}`, status: 200, code: -32602, field: "task_id"},
		{name: "missing one of three", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.execute","params":{},"id":1}`, status: 200, code: -32602, field: "task_id"},
		{name: "two of three", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.execute","params":{"task_id":"r","tasks":[{"name":"a"}]},"id":1}`, status: 200, code: -32602, field: "task_id"},
		{name: "two aliases", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.execute","params":{"task_id":"r","id":"g"},"id":1}`, status: 200, code: -32602, field: "task_id"},
		{name: "missing one of cancel's", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.cancel","params":{},"id":1}`, status: 200, code: -32602, field: "task_ids"},
		{name: "array params refused", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.get","params":["x"],"id":1}`, status: 200, code: -32602},
		{name: "success", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list","id":"a"}`, status: 200},
		{name: "notification", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list"}`, status: 204, empty: true},
		{name: "all notifications", path: "/tasks", body: `[{"jsonrpc":"2.0","method":"tasks.list"},{"jsonrpc":"2.0","method":"tasks.count"}]`, status: 204, empty: true},
		{name: "batch", path: "/tasks", body: `[{"jsonrpc":"2.0","method":"tasks.list","id":1},{"jsonrpc":"2.0","method":"tasks.count"},{"x":1}]`, status: 200, batchLen: 2},
		{name: "batch too large", path: "/tasks", body: `[1,2,3,4]`, status: 200, code: -32600, nullID: true},
		{name: "oversized", path: "/tasks", body: `{"jsonrpc":"2.0","method":"tasks.list","params":{"user_id":"` + strings.Repeat("x", 5000) + `"},"id":1}`, status: 413, code: -32600, nullID: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := e.post(t, tt.path, "", tt.body)
			if status != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.status, body)
			}
			if tt.empty {
				if len(body) != 0 {
					t.Fatalf("want empty body, got %s", body)
				}
				return
			}
			if tt.batchLen > 0 {
				var rs []jsonrpc.Response
				if err := json.Unmarshal(body, &rs); err != nil {
					t.Fatalf("batch response %s: %v", body, err)
				}
				if len(rs) != tt.batchLen {
					t.Fatalf("%d responses, want %d: %s", len(rs), tt.batchLen, body)
				}
				if rs[0].Error != nil || rs[1].Error == nil || rs[1].Error.Code != -32600 {
					t.Fatalf("unexpected batch answers: %s", body)
				}
				return
			}
			var r jsonrpc.Response
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("response %s: %v", body, err)
			}
			if tt.code == 0 {
				if r.Error != nil {
					t.Fatalf("error %+v", r.Error)
				}
				return
			}
			if r.Error == nil || r.Error.Code != tt.code {
				t.Fatalf("got %s, want code %d", body, tt.code)
			}
			if tt.nullID && string(r.ID) != "null" {
				t.Fatalf("id = %s, want null", r.ID)
			}
			if tt.field != "" {
				data, _ := r.Error.Data.(map[string]any)
				if data["field"] != tt.field {
					t.Fatalf("data.field = %v, want %s (%s)", data["field"], tt.field, body)
				}
			}
		})
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	resp, err := e.http.Client().Get(e.http.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestRequestBodyLengths: Config.RequestBody learns the length of each JSON request body
// read, JSON-RPC's and A2A's, before it is decoded (one that does not parse counts too),
// and of none refused as too large.
func TestRequestBodyLengths(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []int
	e := setup(t, setupOpts{mutate: func(c *Config) {
		c.MaxBodyBytes = 4096
		c.RequestBody = func(n int) { mu.Lock(); got = append(got, n); mu.Unlock() }
	}})
	bodies := []struct{ path, body string }{
		{"/tasks", `{"jsonrpc":"2.0","method":"tasks.list","id":1}`},
		{"/tasks", `{"jsonrpc":"2.0",`},
		{"/", `{"jsonrpc":"2.0","method":"message/send","id":1,"params":{}}`},
		{"/tasks", strings.Repeat(" ", 5000)},
	}
	for _, b := range bodies {
		e.post(t, b.path, "", b.body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []int{len(bodies[0].body), len(bodies[1].body), len(bodies[2].body)}
	if !slices.Equal(got, want) {
		t.Errorf("RequestBody got %v, want %v", got, want)
	}
}
