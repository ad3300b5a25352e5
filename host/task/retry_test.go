package task

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRetryStateWireForm: the attempt history's wire form (times as every timestamp,
// empty error and kind as null) reads back as written, and Clone copies it deeply.
func TestRetryStateWireForm(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456000, time.UTC)
	x := &Task{ID: "x", Status: Pending, Retry: &RetryState{MaxAttempts: 3, NextAttemptAt: at.Add(time.Second),
		History: []Attempt{{Attempt: 1, StartedAt: at, EndedAt: at, DurationMS: 2.5, Error: "boom", Kind: "trap"},
			{Attempt: 2, StartedAt: at, EndedAt: at}}}}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	want := `"retry":{"max_attempts":3,"next_attempt_at":"2026-12-02T10:00:01.123456Z","history":[` +
		`{"attempt":1,"started_at":"2026-12-02T10:00:00.123456Z","ended_at":"2026-12-02T10:00:00.123456Z","duration_ms":2.5,"error":"boom","kind":"trap"},` +
		`{"attempt":2,"started_at":"2026-12-02T10:00:00.123456Z","ended_at":"2026-12-02T10:00:00.123456Z","duration_ms":0,"error":null,"kind":null}]}`
	if !strings.Contains(string(b), want) {
		t.Fatalf("wire form %s\nwant it to contain %s", b, want)
	}
	var back Task
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Retry, x.Retry) {
		t.Fatalf("read back %+v, want %+v", back.Retry, x.Retry)
	}
	c := x.Clone()
	c.Retry.History[0].Error = "changed"
	if x.Retry.History[0].Error != "boom" {
		t.Fatal("Clone shares the attempt history")
	}
	if err := json.Unmarshal([]byte(`{"id":"y","retry":{"max_attempts":2,"next_attempt_at":"soon","history":[]}}`), &back); err == nil ||
		!strings.Contains(err.Error(), "retry.next_attempt_at") {
		t.Fatalf("bad next_attempt_at: %v", err)
	}
}
