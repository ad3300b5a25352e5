package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
)

func TestAuthRejects(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	sign := func(key []byte, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := time.Now().Add(time.Hour).Unix()
	tokens := map[string]string{
		"missing": "",
		"garbage": "abc.def.ghi",
		"forged":  sign([]byte("another-secret-another-secret!!"), jwt.MapClaims{"sub": "alice", "exp": exp}),
		"expired": sign(e.secret, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Minute).Unix()}),
		"no sub":  sign(e.secret, jwt.MapClaims{"user_id": "alice", "exp": exp}),
	}
	for name, tok := range tokens {
		for _, path := range []string{"/tasks", "/system", "/"} {
			status, body := e.post(t, path, tok, `{"jsonrpc":"2.0","method":"tasks.list","id":1}`)
			var r jsonrpc.Response
			if status != http.StatusUnauthorized || json.Unmarshal(body, &r) != nil || r.Error == nil || r.Error.Code != -32004 {
				t.Errorf("%s on %s: HTTP %d %s", name, path, status, body)
			}
		}
		for _, path := range []string{"/healthz", "/metrics", "/tasks/methods", "/.well-known/agent-card.json", "/plugins", "/events?root_task_id=x"} {
			req, _ := http.NewRequest("GET", e.http.URL+path, nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := e.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s on GET %s: HTTP %d", name, path, resp.StatusCode)
			}
		}
	}
}

func TestAuthIsolation(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, bob, admin := e.token(t, "alice"), e.token(t, "bob"), e.token(t, "root", "admin")
	var created []taskView
	e.ok(t, alice, "tasks.create", tree("al"), &created)
	if created[0].UserID == nil || *created[0].UserID != "alice" {
		t.Fatalf("user not stamped: %+v", created[0])
	}
	// Bob names another user: refused.
	bad := tree("bb")
	bad[0]["user_id"] = "alice"
	e.fails(t, bob, "tasks.create", bad, -32004)
	// Bob cannot see or touch alice's tasks: they do not exist for him.
	for _, c := range []struct {
		method string
		params map[string]any
	}{
		{"tasks.get", map[string]any{"task_id": "al-root"}},
		{"tasks.tree", map[string]any{"task_id": "al-root"}},
		{"tasks.children", map[string]any{"parent_id": "al-root"}},
		{"tasks.update", map[string]any{"task_id": "al-a", "name": "x"}},
		{"tasks.delete", map[string]any{"task_id": "al-root"}},
		{"tasks.execute", map[string]any{"task_id": "al-root"}},
		{"tasks.clone", map[string]any{"task_id": "al-root"}},
	} {
		err := e.fails(t, bob, c.method, c.params, -32001)
		if d, _ := err.Data.(map[string]any); d["task_id"] == nil {
			t.Errorf("%s: data %v", c.method, err.Data)
		}
	}
	var res []map[string]any
	e.ok(t, bob, "tasks.cancel", map[string]any{"task_ids": "al-root"}, &res)
	if res[0]["status"] != "error" {
		t.Fatalf("bob cancelled alice's task: %v", res)
	}
	var list []taskView
	e.ok(t, bob, "tasks.list", map[string]any{"user_id": "alice"}, &list)
	if len(list) != 0 {
		t.Fatalf("bob lists alice's tasks: %+v", list)
	}
	e.ok(t, alice, "tasks.list", map[string]any{}, &list)
	if len(list) != 1 {
		t.Fatalf("alice's list = %+v", list)
	}
	e.ok(t, admin, "tasks.list", map[string]any{"user_id": "alice"}, &list)
	if len(list) != 1 {
		t.Fatalf("admin's list = %+v", list)
	}
	var got taskView
	// Alice's ids are in her namespace; the admin names them in full.
	e.ok(t, admin, "tasks.get", map[string]any{"task_id": "alice/al-a"}, &got)
	// Admin-created tasks carry the admin's id unless they name a user.
	e.ok(t, admin, "tasks.create", map[string]any{"name": "adm", "schemas": map[string]any{"method": "echo"}}, &got)
	if got.UserID == nil || *got.UserID != "root" {
		t.Fatalf("admin task user = %v", got.UserID)
	}
	var out map[string]any
	e.ok(t, alice, "tasks.execute", map[string]any{"task_id": "al-root"}, &out)
	if out["status"] != "completed" {
		t.Fatalf("alice execute = %v", out)
	}
	// Plugin management is admin-only.
	status, _ := e.postRaw(t, "/plugins?name=p", alice, "application/wasm", []byte("\x00asm\x01\x00\x00\x00"))
	if status != http.StatusForbidden {
		t.Fatalf("non-admin upload: HTTP %d", status)
	}
	status, _ = e.postRaw(t, "/plugins?name=p", admin, "application/wasm", []byte("\x00asm\x01\x00\x00\x00"))
	if status != http.StatusCreated {
		t.Fatalf("admin upload: HTTP %d", status)
	}
}
