package conformance_test

import (
	"context"
	"encoding/json"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestKitsKV runs each kit's kv calls through the real host's kv_* functions and one
// store shared by the four plugins: the sequence of README.md ("kv") gives the same
// answer in every language (each plugin sees only its own space: the same key in the
// others' does not show), twice in a row; a quota of one key refuses the second set
// with kv_quota_exceeded; without the grant the first call is refused with
// kv_not_granted.
func TestKitsKV(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("building four wasm plugins is slow; skipped with -short")
	}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	const want = `{"before":false,"claimed":false,"value":{"n":1},"keys":["k","k/2"],"deleted":true,"after":false}`
	tests := []struct {
		name  string
		grant *sandbox.KVGrant
		want  string // the result, or the error code
	}{
		{name: "sequence", grant: &sandbox.KVGrant{}, want: want},
		{name: "again", grant: &sandbox.KVGrant{}, want: want},
		{name: "quota", grant: &sandbox.KVGrant{MaxKeys: 1}, want: "kv_quota_exceeded"},
		{name: "not granted", want: "kv_not_granted"},
	}
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			wasm, err := os.ReadFile(buildCase(t, "kv", lang, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var grant atomic.Pointer[sandbox.KVGrant]
			rt, err := sandbox.New(ctx, sandbox.Config{KV: st, Grants: func(string) sandbox.Grants {
				return sandbox.Grants{KV: grant.Load()}
			}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(ctx) })
			m, err := rt.Load(ctx, wasm, "kv_"+lang+".wasm")
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			for _, tt := range tests { // in turn: they share the grant and the space
				grant.Store(tt.grant)
				if tt.name == "quota" { // the space holds k/2 from the runs before
					if _, err := st.KVDelete(ctx, spaceOf(lang), "k/2", time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				resp, err := m.Execute(ctx, &executor.Request{Task: &task.Task{ID: "t"}, Inputs: json.RawMessage(`{"key":"k"}`)})
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				var res struct {
					Error *string `json:"error"`
					Code  string  `json:"code"`
				}
				_ = json.Unmarshal(resp.Output, &res)
				got := string(resp.Output)
				if res.Error != nil {
					got = res.Code
				}
				if got != tt.want {
					t.Errorf("%s: got %s, want %s", tt.name, resp.Output, tt.want)
				}
			}
		})
	}
}

func spaceOf(lang string) store.KVSpace { return store.KVSpace{Plugin: "kv_" + lang} }
