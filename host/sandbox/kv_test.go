package sandbox

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// kvClock is a settable clock for kv_* expiry.
type kvClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *kvClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *kvClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// kvSetup returns a runtime whose plugins' kv grants are grants (by plugin id), a store,
// and the clock of kv_* calls.
func kvSetup(t *testing.T, grants map[string]*KVGrant) (*Runtime, *memstore.Store, *kvClock) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	clock := &kvClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rt := setup(t, Config{KV: st, Now: clock.Now, Grants: func(id string) Grants { return Grants{KV: grants[id]} }})
	return rt, st, clock
}

// kvCall runs one kv_* call through the kv_proxy fixture loaded as plugin id, for a
// task of user, and returns the host's answer.
func kvCall(t *testing.T, m *Module, user, op, req string) map[string]any {
	t.Helper()
	resp, err := m.Execute(context.Background(), &executor.Request{
		Task:   &task.Task{ID: "t1", UserID: user},
		Inputs: json.RawMessage(`{"` + op + `":` + req + `}`),
	})
	if err != nil {
		t.Fatalf("%s %s: %v", op, req, err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		t.Fatalf("%s %s: answer %s: %v", op, req, resp.Output, err)
	}
	return out
}

func loadAs(t *testing.T, rt *Runtime, id string) *Module {
	t.Helper()
	m, err := rt.Load(context.Background(), wasmFile(t, "kv_proxy"), id+".wasm")
	if err != nil {
		t.Fatalf("Load %s: %v", id, err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func wantAnswer(t *testing.T, what string, got map[string]any, want string) {
	t.Helper()
	b, _ := json.Marshal(got)
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(w)
	if string(b) != string(wb) {
		t.Fatalf("%s = %s, want %s", what, b, wb)
	}
}

func wantCode(t *testing.T, what string, got map[string]any, code, msg string) {
	t.Helper()
	if got["code"] != code {
		t.Fatalf("%s = %v, want code %s", what, got, code)
	}
	mustContain(t, what+" error", got["error"].(string), msg)
}

func TestKVRoundTrip(t *testing.T) {
	rt, _, _ := kvSetup(t, map[string]*KVGrant{"cache": {}})
	m := loadAs(t, rt, "cache")
	wantAnswer(t, "get of a missing key", kvCall(t, m, "", "g", `{"key":"k"}`), `{"found":false}`)
	wantAnswer(t, "set", kvCall(t, m, "", "s", `{"key":"k","value":{ "n" : [1, 2] }}`), `{"stored":true}`)
	wantAnswer(t, "get", kvCall(t, m, "", "g", `{"key":"k"}`), `{"found":true,"value":{"n":[1,2]}}`)
	wantAnswer(t, "claim of a present key", kvCall(t, m, "", "s", `{"key":"k","value":1,"if_absent":true}`), `{"stored":false}`)
	for _, k := range []string{"p/1", "p/2", "p/3"} {
		kvCall(t, m, "", "s", `{"key":"`+k+`","value":"x"}`)
	}
	wantAnswer(t, "list page 1", kvCall(t, m, "", "l", `{"prefix":"p/","limit":2}`), `{"keys":["p/1","p/2"],"more":true,"next":"p/2"}`)
	wantAnswer(t, "list page 2", kvCall(t, m, "", "l", `{"prefix":"p/","after":"p/2","limit":2}`), `{"keys":["p/3"],"more":false}`)
	wantAnswer(t, "list all", kvCall(t, m, "", "l", `{}`), `{"keys":["k","p/1","p/2","p/3"],"more":false}`)
	wantAnswer(t, "delete", kvCall(t, m, "", "d", `{"key":"k"}`), `{"deleted":true}`)
	wantAnswer(t, "delete again", kvCall(t, m, "", "d", `{"key":"k"}`), `{"deleted":false}`)
	wantAnswer(t, "get after delete", kvCall(t, m, "", "g", `{"key":"k"}`), `{"found":false}`)
}

// TestKVNotGranted: without the grant every kv_* call answers an error, and the call
// goes on (no trap).
func TestKVNotGranted(t *testing.T) {
	rt, st, _ := kvSetup(t, nil)
	m := loadAs(t, rt, "nogrant")
	for _, c := range []struct{ op, req string }{{"g", `{"key":"k"}`}, {"s", `{"key":"k","value":1}`}, {"d", `{"key":"k"}`}, {"l", `{}`}} {
		wantCode(t, c.op, kvCall(t, m, "", c.op, c.req), KVCodeNotGranted, "capability kv not granted to plugin nogrant")
	}
	if keys, _, _ := st.KVList(context.Background(), store.KVSpace{Plugin: "nogrant"}, "", "", 10, time.Now()); len(keys) != 0 {
		t.Fatalf("an ungranted set stored %q", keys)
	}
}

func TestKVNoStore(t *testing.T) {
	rt := setup(t, Config{Grants: func(string) Grants { return Grants{KV: &KVGrant{}} }})
	m := loadAs(t, rt, "cache")
	wantCode(t, "get", kvCall(t, m, "", "g", `{"key":"k"}`), KVCodeUnavailable, "no kv store")
}

// TestKVSpaces: two plugins, and two users of one plugin, never see each other's keys.
func TestKVSpaces(t *testing.T) {
	rt, _, _ := kvSetup(t, map[string]*KVGrant{"a": {}, "b": {}})
	a, b := loadAs(t, rt, "a"), loadAs(t, rt, "b")
	kvCall(t, a, "", "s", `{"key":"same","value":"a's"}`)
	kvCall(t, b, "", "s", `{"key":"same","value":"b's"}`)
	kvCall(t, a, "alice", "s", `{"key":"same","value":"alice's"}`)
	wantAnswer(t, "a", kvCall(t, a, "", "g", `{"key":"same"}`), `{"found":true,"value":"a's"}`)
	wantAnswer(t, "b", kvCall(t, b, "", "g", `{"key":"same"}`), `{"found":true,"value":"b's"}`)
	wantAnswer(t, "a for alice", kvCall(t, a, "alice", "g", `{"key":"same"}`), `{"found":true,"value":"alice's"}`)
	wantAnswer(t, "a for bob", kvCall(t, a, "bob", "g", `{"key":"same"}`), `{"found":false}`)
	kvCall(t, b, "", "s", `{"key":"b-only","value":1}`)
	wantAnswer(t, "a's list", kvCall(t, a, "", "l", `{}`), `{"keys":["same"],"more":false}`)
}

func TestKVQuotas(t *testing.T) {
	rt, _, _ := kvSetup(t, map[string]*KVGrant{"q": {MaxKeys: 2, MaxBytes: 30, MaxValueBytes: 10}})
	m := loadAs(t, rt, "q")
	wantCode(t, "too large", kvCall(t, m, "", "s", `{"key":"a","value":"0123456789"}`), KVCodeTooLarge, "max_value_bytes is 10")
	kvCall(t, m, "", "s", `{"key":"a","value":"01234567"}`) // 1 + 10
	kvCall(t, m, "", "s", `{"key":"b","value":"01234567"}`) // 22
	wantCode(t, "third key", kvCall(t, m, "", "s", `{"key":"c","value":1}`), KVCodeQuota, "max_keys is 2")
	wantCode(t, "bytes", kvCall(t, m, "", "s", `{"key":"bbbbbbbbbb","value":1}`), KVCodeQuota, "max_keys")
	wantAnswer(t, "c after the refusal", kvCall(t, m, "", "g", `{"key":"c"}`), `{"found":false}`)
	kvCall(t, m, "", "d", `{"key":"b"}`)
	wantCode(t, "over max_bytes", kvCall(t, m, "", "s", `{"key":"bbbbbbbbbbbbbbbbbbbb","value":1}`), KVCodeQuota, "max_bytes is 30")
}

func TestKVTTL(t *testing.T) {
	rt, st, clock := kvSetup(t, map[string]*KVGrant{"ttl": {}})
	m := loadAs(t, rt, "ttl")
	kvCall(t, m, "", "s", `{"key":"k","value":1,"ttl_ms":60000}`)
	clock.Add(59*time.Second + 500*time.Millisecond)
	wantAnswer(t, "get before expiry", kvCall(t, m, "", "g", `{"key":"k"}`), `{"found":true,"value":1,"ttl_ms":500}`)
	clock.Add(500 * time.Millisecond)
	wantAnswer(t, "get at expiry", kvCall(t, m, "", "g", `{"key":"k"}`), `{"found":false}`)
	wantAnswer(t, "list at expiry", kvCall(t, m, "", "l", `{}`), `{"keys":[],"more":false}`)
	if n, err := st.PurgeKV(context.Background(), clock.Now()); err != nil || n != 1 {
		t.Fatalf("PurgeKV = %d, %v", n, err)
	}
}

func TestKVBadRequests(t *testing.T) {
	rt, _, _ := kvSetup(t, map[string]*KVGrant{"bad": {}})
	m := loadAs(t, rt, "bad")
	for _, c := range []struct{ op, req, code, msg string }{
		{"g", `{}`, KVCodeBadRequest, "no key"},
		{"g", `{"key":""}`, KVCodeBadKey, "is empty"},
		{"g", `{"key":"a\u0000b"}`, KVCodeBadKey, "NUL"},
		{"g", `{"key":"` + strings.Repeat("k", store.MaxKVKeyLen+1) + `"}`, KVCodeBadKey, "longer than 512 bytes"},
		{"g", `{"key":"k","value":1}`, KVCodeBadRequest, `unknown field "value"`},
		{"s", `{"key":"k"}`, KVCodeBadRequest, "no value"},
		{"s", `{"key":"k","value":1,"ttl_ms":-1}`, KVCodeBadRequest, "ttl_ms -1"},
		{"l", `{"limit":1001}`, KVCodeBadRequest, "limit 1001"},
		{"l", `[]`, KVCodeBadRequest, "not a JSON object"},
		// Keys that JSON decoding would fold into one ("k\uFFFD") are refused.
		{"s", "{\"key\":\"k\xff\",\"value\":1}", KVCodeBadRequest, "not valid UTF-8"},
		{"s", `{"key":"k\ud800","value":1}`, KVCodeBadKey, "U+FFFD"},
		{"l", `{"prefix":"k\udc01"}`, KVCodeBadKey, "U+FFFD"},
	} {
		wantCode(t, c.op+" "+c.req, kvCall(t, m, "", c.op, c.req), c.code, c.msg)
	}
}

// TestKVNotForHooks: a hook granted kv is still answered not_granted (its space would
// have no task user).
func TestKVNotForHooks(t *testing.T) {
	rt, _, _ := kvSetup(t, map[string]*KVGrant{"kv_hook": {}})
	m := load(t, rt, "kv_hook")
	out, err := m.CallHook(context.Background(), &HookCall{Export: "pre_hook"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	wantCode(t, "hook's kv_get", got, KVCodeNotGranted, "executors only")
}

// TestGrantsAKindCannotUseAreNamed: a kv grant on a hook and a repository grant on an
// executor would do nothing; the load warns of each, naming the plugin, and of nothing
// when the grant fits.
func TestGrantsAKindCannotUseAreNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, module string
		grants       Grants
		warn         string // in the log; "" for none
	}{
		{"kv on a hook", "hook", Grants{KV: &KVGrant{}}, "the kv grant of this plugin does nothing"},
		{"repository on an executor", "echo", Grants{Repository: true}, "the repository grant of this plugin does nothing"},
		{"kv on an executor", "echo", Grants{KV: &KVGrant{}}, ""},
		{"repository on a hook", "hook", Grants{Repository: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, buf := newLogger()
			rt := setup(t, Config{Logger: log, Grants: func(string) Grants { return tc.grants }})
			load(t, rt, tc.module)
			got := buf.String()
			if tc.warn == "" && strings.Contains(got, "does nothing") || tc.warn != "" && !strings.Contains(got, tc.warn) {
				t.Fatalf("log:\n%s\nwant %q", got, tc.warn)
			}
		})
	}
}
