package api

import (
	"encoding/json"
	"testing"
)

// mustJSONString is the JSON text of v.
func mustJSONString(t testing.TB, v any) string {
	t.Helper()
	return string(mustJSON(t, v))
}

func TestCloneModes(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var res map[string]any
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": tree("cm")}, &res)
	if res["status"] != "completed" {
		t.Fatalf("fixture run = %v", res)
	}
	e.ok(t, "", "tasks.create", tree("pend"), nil)

	list := func(t *testing.T, params map[string]any) []map[string]any {
		t.Helper()
		r := e.rpc(t, "", "tasks.clone", params)
		if r.Error != nil {
			t.Fatalf("clone %v: %d %s %v", params, r.Error.Code, r.Error.Message, r.Error.Data)
		}
		var many []map[string]any
		if err := json.Unmarshal(r.Result, &many); err == nil {
			return many
		}
		var one map[string]any
		if err := json.Unmarshal(r.Result, &one); err != nil {
			t.Fatalf("clone result %s", r.Result)
		}
		return []map[string]any{one}
	}
	byOrig := func(ts []map[string]any) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, x := range ts {
			if id, _ := x["original_task_id"].(string); id != "" {
				m[id] = x
			} else {
				m[x["id"].(string)] = x
			}
		}
		return m
	}
	get := func(t *testing.T, id string) map[string]any {
		t.Helper()
		var m map[string]any
		e.ok(t, "", "tasks.get", map[string]any{"task_id": id}, &m)
		return m
	}

	cases := []struct {
		name   string
		params map[string]any
		check  func(t *testing.T, out []map[string]any)
	}{
		{"copy", map[string]any{"task_id": "cm-root"}, func(t *testing.T, out []map[string]any) {
			if len(out) != 3 || out[0]["origin_type"] != "copy" || out[0]["status"] != "pending" || out[0]["original_task_id"] != "cm-root" {
				t.Fatalf("copy = %v", out)
			}
		}},
		{"copy with reset_fields", map[string]any{"task_id": "cm-root", "reset_fields": map[string]any{"name": "again", "priority": 0, "status": "pending"}}, func(t *testing.T, out []map[string]any) {
			if out[0]["name"] != "again" || out[0]["priority"] != float64(0) || out[1]["priority"] != float64(0) || out[1]["name"] == "again" {
				t.Fatalf("overrides = %v", out)
			}
		}},
		{"copy preview", map[string]any{"task_id": "cm-root", "save": false}, func(t *testing.T, out []map[string]any) {
			if len(out) != 3 {
				t.Fatalf("preview = %v", out)
			}
			e.fails(t, "", "tasks.get", map[string]any{"task_id": out[0]["id"]}, -32001)
		}},
		{"link", map[string]any{"task_id": "cm-root", "origin_type": "link"}, func(t *testing.T, out []map[string]any) {
			by := byOrig(out)
			if len(out) != 3 || by["cm-a"]["origin_type"] != "link" || by["cm-a"]["status"] != "completed" {
				t.Fatalf("link = %v", out)
			}
			// Reads resolve to the original: the link's own id, the original's data.
			orig := get(t, "cm-a")
			got := get(t, by["cm-a"]["id"].(string))
			if got["id"] == "cm-a" || got["origin_type"] != "link" || got["parent_id"] != out[0]["id"] {
				t.Fatalf("link identity lost: %v", got)
			}
			if mustJSONString(t, got["result"]) != mustJSONString(t, orig["result"]) || mustJSONString(t, got["inputs"]) != mustJSONString(t, orig["inputs"]) || got["schemas"] == nil {
				t.Fatalf("link read %v, original %v", got, orig)
			}
			var node struct {
				Task     map[string]any `json:"task"`
				Children []struct {
					Task map[string]any `json:"task"`
				} `json:"children"`
			}
			e.ok(t, "", "tasks.tree", map[string]any{"task_id": out[0]["id"]}, &node)
			if node.Task["result"] == nil || len(node.Children) != 2 || node.Children[0].Task["result"] == nil {
				t.Fatalf("tree of links not resolved: %+v", node)
			}
			// Links are frozen: a full re-run is refused, a plain execute has nothing to do.
			e.fails(t, "", "tasks.execute", map[string]any{"task_id": out[0]["id"], "full": true}, -32005)
			var r map[string]any
			e.ok(t, "", "tasks.execute", map[string]any{"task_id": out[0]["id"]}, &r)
			if r["status"] != "completed" || r["result"] == nil || mustJSONString(t, r["result"]) != mustJSONString(t, node.Task["result"]) {
				t.Fatalf("execute of links = %v, want the original's result %v", r, node.Task["result"])
			}
			if get(t, "cm-a")["has_references"] != true {
				t.Fatal("original not marked has_references")
			}
			// A run that targets a link (not the root) would re-run it: refused.
			e.fails(t, "", "tasks.execute", map[string]any{"task_id": by["cm-a"]["id"]}, -32005)
			e.fails(t, "", "tasks.update", map[string]any{"task_id": by["cm-a"]["id"], "name": "x"}, -32602)
		}},
		{"mixed", map[string]any{"task_id": "cm-root", "origin_type": "mixed", "link_task_ids": []string{"cm-a"}}, func(t *testing.T, out []map[string]any) {
			by := byOrig(out)
			if by["cm-a"]["origin_type"] != "link" || by["cm-b"]["origin_type"] != "copy" || by["cm-root"]["origin_type"] != "copy" {
				t.Fatalf("mixed = %v", out)
			}
			var r map[string]any
			e.ok(t, "", "tasks.execute", map[string]any{"task_id": out[0]["id"]}, &r)
			if r["status"] != "completed" {
				t.Fatalf("mixed run = %v", r)
			}
		}},
		{"archive", map[string]any{"task_id": "cm-b", "origin_type": "archive", "recursive": false}, func(t *testing.T, out []map[string]any) {
			if len(out) != 1 || out[0]["id"] != "cm-b" || out[0]["origin_type"] != "archive" {
				t.Fatalf("archive = %v", out)
			}
			if get(t, "cm-b")["origin_type"] != "archive" || get(t, "cm-a")["origin_type"] == "archive" {
				t.Fatal("archive not stored or too wide")
			}
			e.fails(t, "", "tasks.execute", map[string]any{"task_id": "cm-root", "full": true}, -32005)
			e.fails(t, "", "tasks.execute", map[string]any{"task_id": "cm-b"}, -32005)
			e.fails(t, "", "tasks.update", map[string]any{"task_id": "cm-b", "status": "pending"}, -32602)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, list(t, tc.params)) })
	}

	refusals := []struct {
		name   string
		params map[string]any
		code   int
	}{
		{"no task_id", map[string]any{}, -32602},
		{"unknown task", map[string]any{"task_id": "nope"}, -32001},
		{"unknown origin_type", map[string]any{"task_id": "cm-root", "origin_type": "snapshot"}, -32602},
		{"link of a pending tree", map[string]any{"task_id": "pend-root", "origin_type": "link"}, -32005},
		{"archive of a pending tree", map[string]any{"task_id": "pend-root", "origin_type": "archive"}, -32005},
		{"mixed without link_task_ids", map[string]any{"task_id": "cm-root", "origin_type": "mixed"}, -32602},
		{"mixed link of a pending task", map[string]any{"task_id": "pend-root", "origin_type": "mixed", "link_task_ids": []string{"pend-a"}}, -32005},
		{"mixed unknown link id", map[string]any{"task_id": "cm-root", "origin_type": "mixed", "link_task_ids": []string{"nope"}}, -32001},
		{"reset_fields unknown", map[string]any{"task_id": "cm-root", "reset_fields": map[string]any{"user_id": "x"}}, -32602},
		{"reset_fields status", map[string]any{"task_id": "cm-root", "reset_fields": map[string]any{"status": "completed"}}, -32602},
		{"reset_fields on link", map[string]any{"task_id": "cm-root", "origin_type": "link", "reset_fields": map[string]any{"name": "x"}}, -32602},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) { e.fails(t, "", "tasks.clone", tc.params, tc.code) })
	}
}

func TestCloneLinkAcrossUsers(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, bob, admin := e.token(t, "alice"), e.token(t, "bob"), e.token(t, "root", "admin")
	var res map[string]any
	e.ok(t, alice, "tasks.execute", map[string]any{"tasks": tree("ul")}, &res)
	// Bob cannot link alice's tree: for him it does not exist.
	e.fails(t, bob, "tasks.clone", map[string]any{"task_id": "ul-root", "origin_type": "link"}, -32001)
	var mine []map[string]any
	e.ok(t, alice, "tasks.clone", map[string]any{"task_id": "ul-root", "origin_type": "link"}, &mine)
	if len(mine) != 3 || mine[0]["user_id"] != "alice" || mine[0]["result"] == nil {
		t.Fatalf("alice's links = %v", mine)
	}
	// Bob cannot read alice's links either.
	e.fails(t, bob, "tasks.get", map[string]any{"task_id": mine[0]["id"]}, -32001)
	// The admin may link any tree; the links keep the owner of the originals.
	var adm []map[string]any
	e.ok(t, admin, "tasks.clone", map[string]any{"task_id": "alice/ul-root", "origin_type": "link"}, &adm)
	if adm[0]["user_id"] != "alice" {
		t.Fatalf("admin link owner = %v", adm[0]["user_id"])
	}
}
