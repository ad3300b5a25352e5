package main

import (
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// TestFlakyService: calls for a key fail with code unavailable until the failures are
// used up, then one succeeds and the count starts again; the metadata carries the
// retry policy that retries them.
func TestFlakyService(t *testing.T) {
	t.Parallel()
	h := apflowtest.New(t)
	h.Host.KV = true
	for i, want := range []string{"", "", `{"key":"k","calls":3}`, "", "", `{"key":"k","calls":3}`} {
		res := h.Execute(map[string]any{"key": "k"})
		if want == "" {
			if !res.Failed() || res.Code() != CodeUnavailable {
				t.Fatalf("call %d: %s, want a failure with code %s", i+1, res.Raw, CodeUnavailable)
			}
			continue
		}
		if got := res.String(); got != want {
			t.Fatalf("call %d: %s, want %s", i+1, got, want)
		}
	}
	if got := h.Execute(map[string]any{"key": "other", "failures": 0}).String(); got != `{"key":"other","calls":1}` {
		t.Fatalf("no failures asked: %s", got)
	}
	meta := string(h.Module.MetadataJSON())
	if !strings.Contains(meta, `"retry":{"max_attempts":3,"backoff":{"initial_ms":300,"multiplier":2,"jitter":0},"retry_on":["code:unavailable"]}`) {
		t.Fatalf("metadata %s lacks the retry policy", meta)
	}
}
