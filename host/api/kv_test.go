package api

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/client"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
)

// TestKVSpaces drives GET /kv/spaces and DELETE /kv/spaces/{plugin} through the Go
// client: admin only, a plugin filter, one user's space dropped and the others kept,
// a plugin id that needs escaping, and a server without the routes.
func TestKVSpaces(t *testing.T) {
	t.Parallel()
	var st *memstore.Store
	e := setup(t, setupOpts{auth: true, mutate: func(c *Config) {
		st = c.Store.(*memstore.Store)
		c.KVSpaces = st
	}})
	now := time.Now()
	quota := store.KVQuota{MaxBytes: 1 << 20, MaxKeys: 100}
	for _, sp := range []store.KVSpace{{Plugin: "cache"}, {Plugin: "cache", Scope: "alice"}, {Plugin: "a b/c"}} {
		e := store.KVEntry{Key: "k", Value: []byte(`"v"`)}
		if _, err := st.KVSet(t.Context(), store.KVSetRequest{Space: sp, Entry: e, Quota: quota, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	admin := client.New(e.http.URL, e.token(t, "root", "admin"), e.http.Client())
	user := client.New(e.http.URL, e.token(t, "alice"), e.http.Client())
	entry := store.KVUsage{Keys: 1, Bytes: 4}

	if _, err := user.KVSpaces(t.Context(), ""); apferr.CodeOf(err) != apferr.Unauthorized || !strings.Contains(err.Error(), "key-value space management needs the admin role") {
		t.Fatalf("a user's list: %v", err)
	}
	if _, err := user.DropKVSpace(t.Context(), store.KVSpace{Plugin: "cache", Scope: "alice"}); apferr.CodeOf(err) != apferr.Unauthorized {
		t.Fatalf("a user's drop: %v", err)
	}
	all, err := admin.KVSpaces(t.Context(), "")
	want := []store.KVSpaceUsage{
		{Space: store.KVSpace{Plugin: "a b/c"}, Usage: entry},
		{Space: store.KVSpace{Plugin: "cache"}, Usage: entry},
		{Space: store.KVSpace{Plugin: "cache", Scope: "alice"}, Usage: entry},
	}
	if err != nil || !slices.Equal(all, want) {
		t.Fatalf("list = %+v, %v; want %+v", all, err, want)
	}
	if only, err := admin.KVSpaces(t.Context(), "cache"); err != nil || !slices.Equal(only, want[1:]) {
		t.Fatalf("list of plugin cache = %+v, %v", only, err)
	}
	for _, sp := range []store.KVSpace{want[2].Space, want[0].Space} {
		if u, err := admin.DropKVSpace(t.Context(), sp); err != nil || u != entry {
			t.Fatalf("drop %s = %+v, %v; want %+v", sp, u, err, entry)
		}
	}
	if left, err := admin.KVSpaces(t.Context(), ""); err != nil || !slices.Equal(left, want[1:2]) {
		t.Fatalf("after the drops = %+v, %v; want the space of cache without a user", left, err)
	}
	if u, err := admin.DropKVSpace(t.Context(), store.KVSpace{Plugin: "never"}); err != nil || u != (store.KVUsage{}) {
		t.Fatalf("drop of an empty space = %+v, %v", u, err)
	}

	bare := setup(t, setupOpts{})
	if _, err := client.New(bare.http.URL, "", bare.http.Client()).KVSpaces(t.Context(), ""); apferr.CodeOf(err) != apferr.MethodNotFound {
		t.Fatalf("a server without kv spaces: %v", err)
	}
}
