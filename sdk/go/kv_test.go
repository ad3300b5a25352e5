package apflow_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func wantKVCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var e *apflow.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: error %v, want an *apflow.Error with code %s", what, err, code)
	}
}

// TestKV checks the KV methods of Context against the fake host: values round-trip
// as JSON, TTLs expire on the virtual clock, claims store once, lists page, and
// refusals become *Error values with CodeKV… codes.
func TestKV(t *testing.T) {
	t.Parallel()
	h := &apflowtest.Host{KV: true, Clock: true, KVMaxKeys: 4}
	ctx := apflow.NewContext(h)
	type result struct {
		Sum int `json:"sum"`
	}
	var got result
	if found, err := ctx.KVGet("r", &got); found || err != nil {
		t.Fatalf("KVGet of a missing key = %v, %v", found, err)
	}
	if err := ctx.KVSet("r", result{Sum: 6}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if found, err := ctx.KVGet("r", &got); !found || err != nil || got.Sum != 6 {
		t.Fatalf("KVGet = %v, %v, %+v", found, err, got)
	}
	if stored, err := ctx.KVSetIfAbsent("r", result{Sum: 7}, 0); stored || err != nil {
		t.Fatalf("KVSetIfAbsent of a live key = %v, %v", stored, err)
	}
	if err := ctx.Sleep(time.Minute); err != nil {
		t.Fatal(err)
	}
	if found, _ := ctx.KVGet("r", &got); found {
		t.Fatal("an entry past its TTL was found")
	}
	if stored, err := ctx.KVSetIfAbsent("r", result{Sum: 7}, 0); !stored || err != nil {
		t.Fatalf("KVSetIfAbsent of an expired key = %v, %v", stored, err)
	}
	for _, k := range []string{"p/1", "p/2", "p/3"} {
		if err := ctx.KVSet(k, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	wantKVCode(t, "a fifth key", ctx.KVSet("p/4", 1, 0), apflow.CodeKVQuota)
	keys, next, err := ctx.KVList("p/", "", 2)
	if err != nil || !slices.Equal(keys, []string{"p/1", "p/2"}) || next != "p/2" {
		t.Fatalf("KVList page 1 = %q, %q, %v", keys, next, err)
	}
	keys, next, err = ctx.KVList("p/", next, 2)
	if err != nil || !slices.Equal(keys, []string{"p/3"}) || next != "" {
		t.Fatalf("KVList page 2 = %q, %q, %v", keys, next, err)
	}
	if deleted, err := ctx.KVDelete("p/1"); !deleted || err != nil {
		t.Fatalf("KVDelete = %v, %v", deleted, err)
	}
	_, err = ctx.KVGet("", &got)
	wantKVCode(t, "empty key", err, apflow.CodeKVBadKey)

	denied := apflow.NewContext(&apflowtest.Host{})
	wantKVCode(t, "without the grant", denied.KVSet("k", 1, 0), apflow.CodeKVNotGranted)
}
