package main

import (
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// TestIdempotentSend: a send is recorded; a retry after a failure that came after the
// send, and a repeat with the same key, send nothing; another key sends; a send
// claimed by another attempt answers in_progress; no kv grant fails with its code.
func TestIdempotentSend(t *testing.T) {
	t.Parallel()
	h := apflowtest.New(t)
	h.Host.KV = true
	in := map[string]any{"to": "ops@example.com", "message": "deploy done", "idempotency_key": "deploy-42", "fail_after_send": true}
	if res := h.Execute(in); res.Code() != "failed_after_send" {
		t.Fatalf("first attempt: %s, want code failed_after_send", res.Raw)
	}
	want := `{"key":"deploy-42","outbox_entry":"outbox/000000","already_done":true}`
	for i := range 2 {
		if res := h.Execute(in); res.String() != want {
			t.Fatalf("retry %d: %s, want %s", i, res.Raw, want)
		}
	}
	var out struct {
		OutboxEntry string `json:"outbox_entry"`
	}
	if res := h.Execute(map[string]any{"to": "ops@example.com", "message": "other"}); res.Failed() || res.Decode(&out) != nil || out.OutboxEntry != "outbox/000001" {
		t.Fatalf("another key: %s", res.Raw)
	}
	entries := h.Host.KVEntries()
	if _, ok := entries["outbox/000002"]; ok || string(entries["outbox_next"]) != "2" {
		t.Fatalf("outbox after two sends and two retries: %v", entries)
	}

	// A claim left by another attempt in progress.
	if got := h.Host.KVCall("kv_set", []byte(`{"key":"done/busy","value":{"state":"sending"}}`)); string(got) != `{"stored":true}` {
		t.Fatalf("claim: %s", got)
	}
	if res := h.Execute(map[string]any{"to": "a", "message": "b", "idempotency_key": "busy"}); res.Code() != "in_progress" {
		t.Fatalf("a send in progress: %s, want code in_progress", res.Raw)
	}

	denied := apflowtest.New(t)
	if res := denied.Execute(in); res.Code() != "kv_not_granted" {
		t.Fatalf("without the kv grant: %s, want code kv_not_granted", res.Raw)
	}
}
