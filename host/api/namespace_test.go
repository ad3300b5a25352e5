package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
)

// one is a single echo task with an id (and extra fields).
func one(id string, extra ...any) map[string]any {
	m := map[string]any{"id": id, "name": "n", "schemas": map[string]any{"method": "echo"}}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// normalized returns a JSON-RPC answer (result or error) as a map with every occurrence of
// the given ids replaced by "ID", and the timestamps dropped, so two answers that differ
// only by the id named compare equal.
func normalized(t *testing.T, raw json.RawMessage, ids ...string) any {
	t.Helper()
	s := string(raw)
	for _, id := range ids {
		s = strings.ReplaceAll(s, id, "ID")
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	var drop func(any)
	drop = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range []string{"created_at", "updated_at", "started_at", "completed_at"} {
				delete(x, k)
			}
			for _, c := range x {
				drop(c)
			}
		case []any:
			for _, c := range x {
				drop(c)
			}
		}
	}
	drop(v)
	return v
}

// answerOf is the result, or else the error, of a call, as JSON.
func answerOf(t *testing.T, r *jsonrpc.Response) json.RawMessage {
	t.Helper()
	if r.Error != nil {
		return mustJSON(t, r.Error)
	}
	return r.Result
}

// getPath sends a GET with a token and returns status and body.
func (e *env) getPath(t *testing.T, token, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestOwnerQualifiedIDsNoOracle: with authentication on, a user's ids live in the user's
// namespace, so creating a task with another user's id (short or full) or tree id succeeds
// and makes the caller's own task, with answers that do not depend on whether the other
// user's id exists. Before owner-qualified ids alice got "already exists" for bob's ids.
func TestOwnerQualifiedIDsNoOracle(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, bob := e.token(t, "alice"), e.token(t, "bob")
	var got taskView
	e.ok(t, bob, "tasks.create", one("t1"), &got)
	if got.ID != "bob/t1" {
		t.Fatalf("bob's t1 is stored as %q, want bob/t1", got.ID)
	}
	e.ok(t, bob, "tasks.create", one("t2", "task_tree_id", "bt"), nil)

	// Each pair: a submission naming something bob has, and the same naming nothing.
	// "full id" makes alice/bob/t1, a tree of alice's own: the last case is carol's.
	carol := e.token(t, "carol")
	cases := []struct {
		name                string
		token               string
		taken, free         map[string]any
		takenID, freeID     string // the ids the caller's tasks must get
		takenTree, freeTree string // their task_tree_id ("" = their id)
	}{
		{"short id", alice, one("t1"), one("zz1"), "alice/t1", "alice/zz1", "", ""},
		{"full id", alice, one("bob/t1"), one("bob/zz2"), "alice/bob/t1", "alice/bob/zz2", "", ""},
		{"short tree id", alice, one("r1", "task_tree_id", "bt"), one("r2", "task_tree_id", "zt"), "alice/r1", "alice/r2", "alice/bt", "alice/zt"},
		{"full tree id", alice, one("r3", "task_tree_id", "bob/bt"), one("r4", "task_tree_id", "bob/zt"), "alice/r3", "alice/r4", "alice/bob/bt", "alice/bob/zt"},
		{"tree id naming bob's task", carol, one("r5", "task_tree_id", "bob/t1"), one("r6", "task_tree_id", "bob/zz3"), "carol/r5", "carol/r6", "carol/bob/t1", "carol/bob/zz3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt := e.rpc(t, c.token, "tasks.create", c.taken)
			rf := e.rpc(t, c.token, "tasks.create", c.free)
			if rt.Error != nil || rf.Error != nil {
				t.Fatalf("create: %v / %v", rt.Error, rf.Error)
			}
			var vt, vf map[string]any
			_ = json.Unmarshal(rt.Result, &vt)
			_ = json.Unmarshal(rf.Result, &vf)
			takenTree, freeTree := c.takenTree, c.freeTree
			if takenTree == "" {
				takenTree, freeTree = c.takenID, c.freeID
			}
			if vt["id"] != c.takenID || vt["task_tree_id"] != takenTree || vf["id"] != c.freeID || vf["task_tree_id"] != freeTree {
				t.Fatalf("ids %v/%v and %v/%v, want %s/%s and %s/%s", vt["id"], vt["task_tree_id"], vf["id"], vf["task_tree_id"], c.takenID, takenTree, c.freeID, freeTree)
			}
			if !reflect.DeepEqual(normalized(t, rt.Result, takenTree, c.takenID), normalized(t, rf.Result, freeTree, c.freeID)) {
				t.Fatalf("answers differ beyond the id:\n%s\n%s", rt.Result, rf.Result)
			}
		})
	}
	// Bob's tasks are untouched.
	e.ok(t, bob, "tasks.get", map[string]any{"task_id": "t1"}, &got)
	if got.ID != "bob/t1" || *got.UserID != "bob" {
		t.Fatalf("bob's t1 = %+v", got)
	}
}

// TestOwnerQualifiedIDsActOnOwnTasks: every method taking a task id acts, for a user, on
// the task of that id in the user's namespace; another user's full id answers exactly as
// a missing id does.
func TestOwnerQualifiedIDsActOnOwnTasks(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, bob, admin := e.token(t, "alice"), e.token(t, "bob"), e.token(t, "root", "admin")
	for _, tok := range []string{alice, bob} {
		e.ok(t, tok, "tasks.create", one("t1"), nil)
		e.ok(t, tok, "tasks.create", one("d1"), nil)
	}
	e.ok(t, bob, "tasks.create", one("b1"), nil)

	// Another user's full id and an id nobody has: the same error, apart from the id.
	for _, c := range []struct {
		method string
		params func(id string) map[string]any
	}{
		{"tasks.get", func(id string) map[string]any { return map[string]any{"task_id": id} }},
		{"tasks.tree", func(id string) map[string]any { return map[string]any{"task_id": id} }},
		{"tasks.children", func(id string) map[string]any { return map[string]any{"parent_id": id} }},
		{"tasks.update", func(id string) map[string]any { return map[string]any{"task_id": id, "name": "x"} }},
		{"tasks.delete", func(id string) map[string]any { return map[string]any{"task_id": id} }},
		{"tasks.execute", func(id string) map[string]any { return map[string]any{"task_id": id} }},
		{"tasks.clone", func(id string) map[string]any { return map[string]any{"task_id": id} }},
		{"tasks.clone", func(id string) map[string]any {
			return map[string]any{"task_id": "t1", "origin_type": "mixed", "link_task_ids": []string{id}}
		}},
		{"tasks.cancel", func(id string) map[string]any { return map[string]any{"task_ids": []string{id}} }},
		{"tasks.running.status", func(id string) map[string]any { return map[string]any{"task_ids": []string{id}} }},
	} {
		bobs, nobodys := e.rpc(t, alice, c.method, c.params("bob/b1")), e.rpc(t, alice, c.method, c.params("bob/zz"))
		ab, an := answerOf(t, bobs), answerOf(t, nobodys)
		if c.method != "tasks.cancel" && c.method != "tasks.running.status" && (bobs.Error == nil || bobs.Error.Code != -32001) {
			t.Errorf("%s of bob/b1 by alice: %s, want -32001", c.method, ab)
		}
		if !reflect.DeepEqual(normalized(t, ab, "alice/bob/b1"), normalized(t, an, "alice/bob/zz")) {
			t.Errorf("%s: bob's id and a missing id answer differently:\n%s\n%s", c.method, ab, an)
		}
		if strings.Contains(string(ab), `"bob/b1"`) {
			t.Errorf("%s: answer names bob's id: %s", c.method, ab)
		}
	}
	// GET /events too.
	for _, id := range []string{"bob/b1", "bob/zz"} {
		code, body := e.getPath(t, alice, "/events?root_task_id="+id)
		if code != http.StatusNotFound || !strings.Contains(string(body), "alice/"+id) {
			t.Errorf("events of %s: HTTP %d %s", id, code, body)
		}
	}

	// The short id names alice's own task everywhere.
	var got taskView
	e.ok(t, alice, "tasks.get", map[string]any{"task_id": "t1"}, &got)
	if got.ID != "alice/t1" || *got.UserID != "alice" {
		t.Fatalf("alice's t1 = %+v", got)
	}
	e.ok(t, alice, "tasks.get", map[string]any{"task_id": "alice/t1"}, &got)
	if got.ID != "alice/t1" {
		t.Fatalf("alice/t1 = %+v", got)
	}
	var node struct {
		Task taskView `json:"task"`
	}
	e.ok(t, alice, "tasks.tree", map[string]any{"task_id": "t1"}, &node)
	if node.Task.ID != "alice/t1" {
		t.Fatalf("tree of t1 = %+v", node)
	}
	e.ok(t, alice, "tasks.update", map[string]any{"task_id": "t1", "name": "renamed"}, &got)
	if got.ID != "alice/t1" || got.Name != "renamed" {
		t.Fatalf("update = %+v", got)
	}
	for _, tree := range []string{"t1", "alice/t1"} {
		var counts map[string]any
		e.ok(t, alice, "tasks.count", map[string]any{"task_tree_id": tree}, &counts)
		if counts["total"] != 1.0 || counts["task_tree_id"] != "alice/t1" {
			t.Fatalf("count of tree %s = %v, want alice/t1's one task", tree, counts)
		}
	}
	var copies taskView
	e.ok(t, alice, "tasks.clone", map[string]any{"task_id": "t1"}, &copies)
	if !strings.HasPrefix(copies.ID, "alice/") || len(copies.ID) != len("alice/")+36 {
		t.Fatalf("clone id %q is not in alice's namespace", copies.ID)
	}
	e.ok(t, alice, "tasks.get", map[string]any{"task_id": copies.ID}, nil)
	var res map[string]any
	e.ok(t, alice, "tasks.execute", map[string]any{"task_id": "t1"}, &res)
	if res["root_task_id"] != "alice/t1" || res["task_id"] != "alice/t1" || res["status"] != "completed" {
		t.Fatalf("execute t1 = %v", res)
	}
	var cancelled []map[string]any
	e.ok(t, alice, "tasks.cancel", map[string]any{"task_ids": "t1"}, &cancelled)
	if cancelled[0]["task_id"] != "alice/t1" || cancelled[0]["status"] != "failed" {
		t.Fatalf("cancel t1 = %v", cancelled)
	}
	var status []map[string]any
	e.ok(t, alice, "tasks.running.status", map[string]any{"task_ids": []string{"t1"}}, &status)
	if status[0]["task_id"] != "alice/t1" || status[0]["status"] != "completed" {
		t.Fatalf("running.status t1 = %v", status)
	}
	var del map[string]any
	e.ok(t, alice, "tasks.delete", map[string]any{"task_id": "d1"}, &del)
	if del["task_id"] != "alice/d1" {
		t.Fatalf("delete d1 = %v", del)
	}
	// Bob's tasks of the same short ids are untouched.
	e.ok(t, bob, "tasks.get", map[string]any{"task_id": "t1"}, &got)
	if got.ID != "bob/t1" || got.Name != "n" || got.Status != "pending" {
		t.Fatalf("bob's t1 = %+v", got)
	}
	e.ok(t, bob, "tasks.get", map[string]any{"task_id": "d1"}, nil)

	// Admins address any task by its full id, and their own ids are not qualified.
	e.ok(t, admin, "tasks.get", map[string]any{"task_id": "bob/b1"}, &got)
	if got.ID != "bob/b1" {
		t.Fatalf("admin get bob/b1 = %+v", got)
	}
	e.fails(t, admin, "tasks.get", map[string]any{"task_id": "b1"}, -32001)
	e.ok(t, admin, "tasks.create", one("adm1"), &got)
	if got.ID != "adm1" {
		t.Fatalf("admin's task id = %q", got.ID)
	}
}

// TestOwnerQualifiedSubmission: inside a submission, short ids in id, parent_id and
// dependencies name the submitter's tasks; generated ids are qualified too; the tree runs
// and injects results by the stored ids; an id too long once qualified is refused.
func TestOwnerQualifiedSubmission(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice := e.token(t, "alice")
	sub := []map[string]any{
		{"id": "root", "name": "top", "schemas": map[string]any{"method": "echo"}},
		{"id": "a", "name": "first", "parent_id": "root", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"x": 1}},
		{"name": "second", "parent_id": "root", "dependencies": []any{"a"}, "schemas": map[string]any{"method": "echo"}},
		{"name": "third", "parent_id": "second", "dependencies": []any{map[string]any{"name": "first"}, map[string]any{"id": "alice/a"}}, "schemas": map[string]any{"method": "echo"}},
	}
	var created []taskView
	e.ok(t, alice, "tasks.create", sub, &created)
	ids := make([]string, len(created))
	for i, c := range created {
		ids[i] = c.ID
	}
	if ids[0] != "alice/root" || ids[1] != "alice/a" || !strings.HasPrefix(ids[2], "alice/") || !strings.HasPrefix(ids[3], "alice/") {
		t.Fatalf("ids %v", ids)
	}
	if *created[1].ParentID != "alice/root" || *created[3].ParentID != ids[2] {
		t.Fatalf("parents %v %v", *created[1].ParentID, *created[3].ParentID)
	}
	if len(created[2].Deps) != 1 || created[2].Deps[0].ID != "alice/a" || len(created[3].Deps) != 1 || created[3].Deps[0].ID != "alice/a" {
		t.Fatalf("dependencies %+v %+v", created[2].Deps, created[3].Deps)
	}
	var res map[string]any
	e.ok(t, alice, "tasks.execute", map[string]any{"task_id": "root"}, &res)
	if res["status"] != "completed" {
		t.Fatalf("run = %v", res)
	}
	var second taskView
	e.ok(t, alice, "tasks.get", map[string]any{"task_id": ids[2]}, &second)
	if second.Status != "completed" || !strings.Contains(fmt.Sprint(second.Result), "x:1") {
		t.Fatalf("second did not get first's result injected: %+v", second)
	}

	// tasks.update resolves dependency ids in the caller's namespace too.
	e.ok(t, alice, "tasks.create", []map[string]any{
		{"id": "u-root", "name": "u-root", "schemas": map[string]any{"method": "echo"}},
		{"id": "u-a", "name": "u-a", "parent_id": "u-root", "schemas": map[string]any{"method": "echo"}},
	}, nil)
	var updated taskView
	e.ok(t, alice, "tasks.update", map[string]any{"task_id": "u-root", "dependencies": []any{"u-a"}}, &updated)
	if updated.ID != "alice/u-root" || len(updated.Deps) != 1 || updated.Deps[0].ID != "alice/u-a" {
		t.Fatalf("update dependencies = %+v", updated)
	}

	// The length limit applies to the qualified id.
	long := strings.Repeat("i", 250)
	je := e.fails(t, alice, "tasks.create", one(long), -32602)
	if !strings.Contains(fmt.Sprint(je.Data), "alice/"+long) || !strings.Contains(fmt.Sprint(je.Data), "field:id") {
		t.Fatalf("too long id: %s %v", je.Message, je.Data)
	}
	e.ok(t, alice, "tasks.create", one(strings.Repeat("i", 249)), nil)
}

// TestOwnerNamespacesDoNotCollide: a subject containing "/" gets its own namespace, which
// no other subject's ids can enter.
func TestOwnerNamespacesDoNotCollide(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, aliceB := e.token(t, "alice"), e.token(t, "alice/b")
	var got taskView
	e.ok(t, aliceB, "tasks.create", one("t9"), &got)
	if got.ID != "alice%2Fb/t9" {
		t.Fatalf("alice/b's t9 = %q", got.ID)
	}
	e.ok(t, alice, "tasks.create", one("b/t9"), &got)
	if got.ID != "alice/b/t9" {
		t.Fatalf("alice's b/t9 = %q", got.ID)
	}
	e.fails(t, alice, "tasks.get", map[string]any{"task_id": "alice%2Fb/t9"}, -32001)
	e.ok(t, aliceB, "tasks.get", map[string]any{"task_id": "t9"}, &got)
	if got.ID != "alice%2Fb/t9" || *got.UserID != "alice/b" {
		t.Fatalf("alice/b's t9 = %+v", got)
	}
	e.fails(t, aliceB, "tasks.get", map[string]any{"task_id": "alice/b/t9"}, -32001)
}
