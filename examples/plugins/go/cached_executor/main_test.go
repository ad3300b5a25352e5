package main

import (
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// TestCachedExecutor: the first run computes (cached false), the same input again
// answers from the cache (cached true) whatever its key order or ttl_ms, another input
// computes, and without the kv grant the task fails with code kv_not_granted.
func TestCachedExecutor(t *testing.T) {
	t.Parallel()
	h := apflowtest.New(t)
	h.Host.KV = true
	steps := []struct {
		inputs any
		want   string
	}{
		{map[string]any{"n": 100}, `{"n":100,"primes":25,"cached":false}`},
		{map[string]any{"n": 100, "ttl_ms": 5}, `{"n":100,"primes":25,"cached":true}`},
		{map[string]any{"n": 1000}, `{"n":1000,"primes":168,"cached":false}`},
	}
	for i, s := range steps {
		if got := h.Execute(s.inputs).String(); got != s.want {
			t.Fatalf("step %d: result %s, want %s", i, got, s.want)
		}
	}
	if n := len(h.Host.KVEntries()); n != 2 {
		t.Fatalf("%d cache entries, want 2", n)
	}

	denied := apflowtest.New(t)
	res := denied.Execute(map[string]any{"n": 100})
	if !res.Failed() || res.Code() != "kv_not_granted" {
		t.Fatalf("without the kv grant: %s, want a failure with code kv_not_granted", res.Raw)
	}
}
