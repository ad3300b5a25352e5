package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/idempotency"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// anonTree is a submission without ids: every call creates new ids, so a repeat that
// answers the same ids answers the first tree.
func anonTree(x int) []map[string]any {
	return []map[string]any{
		{"name": "root", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{"a"}},
		{"name": "a", "parent_id": "root", "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"x": x}},
	}
}

func keyed(key string, tasks []map[string]any) map[string]any {
	return map[string]any{"tasks": tasks, "idempotency_key": key}
}

// roots counts the stored roots.
func (e *env) roots(t *testing.T) int {
	t.Helper()
	n, err := e.srv.cfg.Store.Count(t.Context(), store.Filter{RootOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func viewIDs(tasks []taskView) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

func wantDiffers(t *testing.T, e *jsonrpc.Error) {
	t.Helper()
	data, _ := e.Data.(map[string]any)
	if e.Code != int(apferr.InvalidParams) || data["field"] != "idempotency_key" {
		t.Fatalf("error %d %q %v, want InvalidParams naming idempotency_key", e.Code, e.Message, e.Data)
	}
}

func TestCreateKeyRepeatAnswersFirstTree(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var first, again []taskView
	e.ok(t, "", "tasks.create", keyed("k1", anonTree(1)), &first)
	// The same content spelled differently: key order, the single-object form apart.
	e.ok(t, "", "tasks.create", map[string]any{"idempotency_key": "k1", "tasks": anonTree(1)}, &again)
	if len(first) != 2 || fmt.Sprint(viewIDs(again)) != fmt.Sprint(viewIDs(first)) {
		t.Fatalf("repeat answered %v, first %v", viewIDs(again), viewIDs(first))
	}
	if n := e.roots(t); n != 1 {
		t.Fatalf("%d trees stored, want 1", n)
	}
	// The tasks as stored now.
	e.ok(t, "", "tasks.update", map[string]any{"task_id": first[1].ID, "inputs": map[string]any{"x": 9}}, nil)
	e.ok(t, "", "tasks.create", keyed("k1", anonTree(1)), &again)
	if again[1].Inputs["x"] != float64(9) {
		t.Fatalf("repeat after an update answered inputs %v, want the stored ones", again[1].Inputs)
	}

	// One task: the answer is the task alone, as the first one was.
	one := map[string]any{"name": "solo", "schemas": map[string]any{"method": "echo"}, "idempotency_key": "k2"}
	var a, b taskView
	e.ok(t, "", "tasks.create", one, &a)
	e.ok(t, "", "tasks.create", one, &b)
	if a.ID == "" || a.ID != b.ID {
		t.Fatalf("single task: first %q, repeat %q", a.ID, b.ID)
	}
	// Without a key, the same content creates another tree.
	e.ok(t, "", "tasks.create", anonTree(1), nil)
	if n := e.roots(t); n != 3 {
		t.Fatalf("%d trees stored, want 3", n)
	}
}

func TestCreateKeyDifferentContentRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", keyed("k", anonTree(1)), nil)
	wantDiffers(t, e.fails(t, "", "tasks.create", keyed("k", anonTree(2)), int(apferr.InvalidParams)))
	// tasks.execute with the content tasks.create used differs too: its answer is a run.
	wantDiffers(t, e.fails(t, "", "tasks.execute", keyed("k", anonTree(1)), int(apferr.InvalidParams)))
	if n := e.roots(t); n != 1 {
		t.Fatalf("%d trees stored, want 1", n)
	}
}

func TestCreateKeyClientIDs(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var first, again []taskView
	e.ok(t, "", "tasks.create", keyed("k", tree("c")), &first)
	// Without the key a repeat fails on the ids; with it, it answers the first tree.
	e.fails(t, "", "tasks.create", tree("c"), int(apferr.InvalidParams))
	e.ok(t, "", "tasks.create", keyed("k", tree("c")), &again)
	if fmt.Sprint(viewIDs(again)) != fmt.Sprint(viewIDs(first)) {
		t.Fatalf("repeat answered %v, first %v", viewIDs(again), viewIDs(first))
	}
}

func TestCreateKeyDeletedTree(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var first []taskView
	e.ok(t, "", "tasks.create", keyed("k", anonTree(1)), &first)
	e.ok(t, "", "tasks.delete", map[string]any{"task_id": first[0].ID}, nil)
	err := e.fails(t, "", "tasks.create", keyed("k", anonTree(1)), int(apferr.TaskNotFound))
	if data, _ := err.Data.(map[string]any); data["task_id"] != first[0].ID {
		t.Fatalf("error data %v, want the deleted root", err.Data)
	}
}

func TestKeyParamErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	for _, c := range []struct {
		name   string
		method string
		params any
	}{
		{"empty", "tasks.create", keyed("", anonTree(1))},
		{"not a string", "tasks.create", map[string]any{"tasks": anonTree(1), "idempotency_key": 7}},
		{"NUL", "tasks.create", keyed("a\x00b", anonTree(1))},
		{"too long", "tasks.create", keyed(string(make([]byte, 300)), anonTree(1))},
		{"execute of a stored task", "tasks.execute", map[string]any{"task_id": "x", "idempotency_key": "k"}},
		{"execute empty", "tasks.execute", keyed("", anonTree(1))},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := e.fails(t, "", c.method, c.params, int(apferr.InvalidParams))
			if data, _ := err.Data.(map[string]any); data["field"] != "idempotency_key" {
				t.Fatalf("error %q %v, want it to name idempotency_key", err.Message, err.Data)
			}
		})
	}
	if n := e.roots(t); n != 0 {
		t.Fatalf("%d trees stored, want none", n)
	}
	// A server without a key store refuses keys.
	e2 := setup(t, setupOpts{mutate: func(c *Config) { c.Keys = nil }})
	e2.fails(t, "", "tasks.create", keyed("k", anonTree(1)), int(apferr.InvalidParams))
}

func TestKeysPerUser(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, bob, admin := e.token(t, "alice"), e.token(t, "bob"), e.token(t, "root", "admin")
	var a, b, a2, adm []taskView
	e.ok(t, alice, "tasks.create", keyed("k", tree("t")), &a)
	// Bob's "k" is another key: the same content creates bob's own tree, and different
	// content is no conflict.
	e.ok(t, bob, "tasks.create", keyed("k", tree("t")), &b)
	if a[0].ID != "alice/t-root" || b[0].ID != "bob/t-root" {
		t.Fatalf("roots %s and %s, want alice/t-root and bob/t-root", a[0].ID, b[0].ID)
	}
	var other []taskView
	e.ok(t, bob, "tasks.create", keyed("k2", anonTree(5)), &other)
	e.ok(t, alice, "tasks.create", keyed("k2", anonTree(6)), nil)
	// Alice's repeat answers her tree.
	e.ok(t, alice, "tasks.create", keyed("k", tree("t")), &a2)
	if a2[0].ID != a[0].ID {
		t.Fatalf("alice's repeat answered %s", a2[0].ID)
	}
	// An admin's keys are its own too.
	e.ok(t, admin, "tasks.create", keyed("k", tree("t")), &adm)
	if adm[0].ID != "t-root" {
		t.Fatalf("admin's tree %s, want t-root", adm[0].ID)
	}
}

func TestCreateKeyConcurrent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		tasks []map[string]any
	}{{"generated ids", anonTree(1)}, {"client ids", tree("c")}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, setupOpts{})
			const n = 8
			roots := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.rpc(t, "", "tasks.create", keyed("same", c.tasks))
					if r.Error != nil {
						t.Errorf("call %d: %d %s %v", i, r.Error.Code, r.Error.Message, r.Error.Data)
						return
					}
					var got []taskView
					if err := json.Unmarshal(r.Result, &got); err != nil {
						t.Error(err)
						return
					}
					roots[i] = got[0].ID
				}()
			}
			wg.Wait()
			for i := range roots {
				if roots[i] != roots[0] {
					t.Fatalf("answers name roots %v, want one", roots)
				}
			}
			if got := e.roots(t); got != 1 {
				t.Fatalf("%d trees stored, want 1", got)
			}
		})
	}
}

// clock is a settable clock for the server.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

func TestKeyExpiry(t *testing.T) {
	t.Parallel()
	var clk clock
	e := setup(t, setupOpts{mutate: func(c *Config) { c.Now = clk.now; c.KeyTTL = time.Hour }})
	var first, second, third []taskView
	e.ok(t, "", "tasks.create", keyed("k", anonTree(1)), &first)
	clk.advance(59 * time.Minute)
	e.fails(t, "", "tasks.create", keyed("k", anonTree(2)), int(apferr.InvalidParams))
	clk.advance(time.Minute)
	// Expired: the key is new again, for any content.
	e.ok(t, "", "tasks.create", keyed("k", anonTree(2)), &second)
	if second[0].ID == first[0].ID || e.roots(t) != 2 {
		t.Fatalf("after expiry: root %s (first %s), %d trees; want a second tree", second[0].ID, first[0].ID, e.roots(t))
	}
	e.ok(t, "", "tasks.create", keyed("k", anonTree(2)), &third)
	if third[0].ID != second[0].ID {
		t.Fatalf("repeat of the new key answered %s, want %s", third[0].ID, second[0].ID)
	}
	// Purged once expired.
	keys := e.srv.cfg.Keys
	clk.advance(2 * time.Hour)
	e.srv.purgeKeys()
	n, err := keys.PurgeKeys(t.Context(), time.Time{})
	if err != nil || n != 0 {
		t.Fatalf("PurgeKeys after purgeKeys = %d, %v", n, err)
	}
	if _, ok, _ := keys.LookupKey(t.Context(), "", "k", time.Time{}); ok {
		t.Fatal("expired key still stored after the purge")
	}
}

// attempts returns the attempts of every task of the tree of root.
func (e *env) attempts(t *testing.T, root string) []int {
	t.Helper()
	r, err := e.srv.cfg.Store.Get(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := e.srv.cfg.Store.Tree(t.Context(), r.TreeID())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(ts))
	for i, x := range ts {
		out[i] = x.Attempts
	}
	return out
}

type execAnswer struct {
	Success bool   `json:"success"`
	RootID  string `json:"root_task_id"`
	Status  string `json:"status"`
}

func TestExecuteKeyRepeatDoesNotRunAgain(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	failing := []map[string]any{{"name": "f", "schemas": map[string]any{"method": "fail"}}}
	var first, again execAnswer
	e.ok(t, "", "tasks.execute", keyed("run", failing), &first)
	if first.Status != string(task.Failed) {
		t.Fatalf("first execute: %+v", first)
	}
	// A repeat answers the ended run; a re-run would reset the failed task.
	e.ok(t, "", "tasks.execute", keyed("run", failing), &again)
	if again != first {
		t.Fatalf("repeat answered %+v, first %+v", again, first)
	}
	if a := e.attempts(t, first.RootID); fmt.Sprint(a) != "[1]" {
		t.Fatalf("attempts %v, want [1]: the repeat ran the task again", a)
	}
	wantDiffers(t, e.fails(t, "", "tasks.execute", keyed("run", anonTree(1)), int(apferr.InvalidParams)))
	if n := e.roots(t); n != 1 {
		t.Fatalf("%d trees stored, want 1", n)
	}
}

// TestExecuteKeyRepeatSaysSo: the answer of a repeated keyed tasks.execute, plain or
// opening a stream, carries idempotent_replay and when the key was first used; a first
// call's carries neither.
func TestExecuteKeyRepeatSaysSo(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	replay := func(ans map[string]any) (bool, time.Time) {
		t.Helper()
		r, _ := ans["idempotent_replay"].(bool)
		s, given := ans["submitted_at"].(string)
		at, err := time.Parse(time.RFC3339Nano, s)
		if r != given || (given && err != nil) {
			t.Fatalf("answer %v: idempotent_replay %v, submitted_at %q", ans, r, s)
		}
		return r, at
	}
	before := time.Now()
	var first, again map[string]any
	e.ok(t, "", "tasks.execute", keyed("k", anonTree(1)), &first)
	e.ok(t, "", "tasks.execute", keyed("k", anonTree(1)), &again)
	if r, _ := replay(first); r {
		t.Errorf("a first call answered %v", first)
	}
	r, at := replay(again)
	if !r || at.Before(before.Add(-time.Second)) || at.After(time.Now()) || again["root_task_id"] != first["root_task_id"] {
		t.Errorf("the repeat answered %v; want idempotent_replay, the first call's root %v and a time since %v", again, first["root_task_id"], before)
	}
	frames := e.streamKeyed(t, "k", anonTree(1))
	if res, _ := frames[0]["result"].(map[string]any); len(frames) != 3 {
		t.Fatalf("frames %v", frames)
	} else if r0, _ := replay(res); !r0 {
		t.Errorf("a streamed repeat opened with %v", res)
	}
	if fresh := e.streamKeyed(t, "other", anonTree(2)); len(fresh) < 2 {
		t.Fatalf("frames %v", fresh)
	} else if res, _ := fresh[0]["result"].(map[string]any); res == nil {
		t.Fatalf("frames %v", fresh)
	} else if r2, _ := replay(res); r2 {
		t.Errorf("a first streamed call opened with %v", res)
	}
}

func TestExecuteKeyRepeatWhileRunning(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	slow := []map[string]any{{"name": "s", "schemas": map[string]any{"method": "sleep"}, "inputs": map[string]any{"ms": 300}}}
	answers := make([]execAnswer, 3)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.rpc(t, "", "tasks.execute", keyed("slow", slow))
			if r.Error != nil {
				t.Errorf("call %d: %v", i, r.Error)
				return
			}
			if err := json.Unmarshal(r.Result, &answers[i]); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if a != answers[0] || a.Status != string(task.Completed) {
			t.Fatalf("answer %d = %+v, want all completed and equal (%+v)", i, a, answers[0])
		}
	}
	if a := e.attempts(t, answers[0].RootID); fmt.Sprint(a) != "[1]" {
		t.Fatalf("attempts %v, want [1]", a)
	}
	if n := e.roots(t); n != 1 {
		t.Fatalf("%d trees stored, want 1", n)
	}
}

// TestExecuteKeyNeverStarted: a tree stored with its key whose run never started (the
// server stopped in between) is run by the repeat.
func TestExecuteKeyNeverStarted(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	data := mustJSON(t, anonTree(1))
	ctx := context.Background()
	k, err := e.srv.newKey(ctx, "k", idempotency.KindExecute, data)
	if err != nil {
		t.Fatal(err)
	}
	created, rec, err := e.srv.submitKeyed(ctx, data, k)
	if err != nil || rec != nil {
		t.Fatalf("submitKeyed = %v, %v", rec, err)
	}
	var a execAnswer
	var marked map[string]any
	r := e.rpc(t, "", "tasks.execute", keyed("k", anonTree(1)))
	if r.Error != nil || json.Unmarshal(r.Result, &a) != nil || json.Unmarshal(r.Result, &marked) != nil {
		t.Fatalf("repeat: %v, %s", r.Error, r.Result)
	}
	if a.RootID != created.RootID() || a.Status != string(task.Completed) || marked["idempotent_replay"] != true {
		t.Fatalf("repeat answered %s, want the stored tree %s completed, marked as a repeat", r.Result, created.RootID())
	}
}

// streamKeyed sends a streaming keyed tasks.execute and returns its frames.
func (e *env) streamKeyed(t *testing.T, key string, tasks []map[string]any) []map[string]any {
	t.Helper()
	p := keyed(key, tasks)
	p["use_streaming"] = true
	code, body := e.post(t, "/tasks", "", `{"jsonrpc":"2.0","method":"tasks.execute","id":1,"params":`+string(mustJSON(t, p))+`}`)
	if code != 200 {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	return readSSE(t, strings.NewReader(string(body)))
}

func TestExecuteKeyStreamingRepeat(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	first := e.streamKeyed(t, "k", anonTree(1))
	again := e.streamKeyed(t, "k", anonTree(1)) // the run has ended: its answer, final, stream_end
	if len(again) != 3 || again[1]["type"] != "final" || again[2]["type"] != "stream_end" {
		t.Fatalf("repeat frames = %v", again)
	}
	res, _ := again[0]["result"].(map[string]any)
	root := first[len(first)-2]["root_task_id"]
	if res["root_task_id"] != root || res["status"] != "completed" || again[1]["status"] != "completed" {
		t.Fatalf("repeat answered %v, %v; want the first run's root %v completed", res, again[1], root)
	}
	if a := e.attempts(t, root.(string)); fmt.Sprint(a) != "[1 1]" {
		t.Fatalf("attempts %v, want [1 1]", a)
	}
}

// FuzzCreateKey: createKey never panics, finds a key only in an object, and a key it
// returns is the member's string value.
func FuzzCreateKey(f *testing.F) {
	for _, s := range []string{`[]`, `{"tasks":[],"idempotency_key":"k"}`, `{"idempotency_key":7}`,
		`{"idempotency_key":null}`, ` {"idempotency_key":"a\u0000b"}`, `{"name":"x"}`, `{`, `"k"`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		key, given, err := createKey(params)
		if err != nil {
			if given || key != "" {
				t.Fatalf("error %v with key %q given %v", err, key, given)
			}
			return
		}
		if !given {
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(params, &obj) != nil {
			t.Fatalf("key %q found in params that are not a JSON object", key)
		}
		var want string
		if json.Unmarshal(obj["idempotency_key"], &want) != nil || want != key {
			t.Fatalf("key %q, member %s", key, obj["idempotency_key"])
		}
	})
}
