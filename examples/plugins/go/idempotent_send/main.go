// Command idempotent_send is the Go SDK's example of an idempotent executor: it
// "sends" a message (appends it to an outbox log in the plugin's key-value space,
// standing for an e-mail, a payment, a call to a service that must not happen twice)
// and records that it did under a key derived from the task's idempotency key. When
// the task is retried (re-run after a failure, or submitted again) with the same key,
// the record is found and the message is not sent again: the result says
// "already_done": true.
//
// The claim is atomic (Context.KVSetIfAbsent): of two tasks with one key running at
// once, one sends and the other finds the send in progress and fails with code
// in_progress, to be retried. The claim expires after claim_ttl_ms, so an attempt that
// crashed between its claim and its record does not block the key forever.
//
// fail_after_send makes the first attempt fail right after the send, as a crash or a
// failing step after the side effect would: the retry must not send again.
//
// Grants: kv (docs/kv.md). Without it the task fails with code kv_not_granted.
package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs.
type In struct {
	To      string `json:"to" jsonschema:"required,minLength=1" description:"Recipient."`
	Message string `json:"message" jsonschema:"required" description:"What to send."`
	// IdempotencyKey names the send; without it, a hash of to and message does.
	IdempotencyKey string `json:"idempotency_key,omitempty" jsonschema:"maxLength=200" description:"Names the send: one send per key (default: a hash of to and message)."`
	FailAfterSend  bool   `json:"fail_after_send,omitempty" description:"Fail right after sending (a crash after the side effect), to show the retry."`
	ClaimTTLMS     int64  `json:"claim_ttl_ms,omitempty" jsonschema:"minimum=1" description:"How long an unfinished attempt holds the key (default 60000)."`
}

// Out is the executor's result.
type Out struct {
	Key         string `json:"key"`
	OutboxEntry string `json:"outbox_entry" description:"The outbox key the message was sent as."`
	AlreadyDone bool   `json:"already_done" description:"True when an earlier attempt had sent it: nothing was sent now."`
}

// record is what the plugin keeps under done/<key>.
type record struct {
	State       string `json:"state"` // "sending", then "sent"
	OutboxEntry string `json:"outbox_entry,omitempty"`
}

// outboxEntry is one sent message.
type outboxEntry struct {
	To      string `json:"to"`
	Message string `json:"message"`
	Key     string `json:"key"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "idempotent_send",
		Name:         "Idempotent send",
		Description:  "Sends a message at most once per idempotency key, recording the send in the plugin's key-value space (kv grant).",
		Version:      "1.0.0",
		Tags:         []string{"example", "kv"},
		Capabilities: []string{"kv"},
		Run:          run,
	})
}

func sendKey(in In) string {
	if in.IdempotencyKey != "" {
		return in.IdempotencyKey
	}
	canonical, _ := json.Marshal([2]string{in.To, in.Message})
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:16])
}

func run(ctx *apflow.Context, in In) (Out, error) {
	key := sendKey(in)
	recKey := "done/" + key
	var rec record
	found, err := ctx.KVGet(recKey, &rec)
	if err != nil {
		return Out{}, err
	}
	if found && rec.State == "sent" {
		ctx.Log.Info("already sent, not sending again", "key", key, "outbox_entry", rec.OutboxEntry)
		return Out{Key: key, OutboxEntry: rec.OutboxEntry, AlreadyDone: true}, nil
	}
	claimTTL := time.Duration(cmp.Or(in.ClaimTTLMS, 60_000)) * time.Millisecond
	claimed, err := ctx.KVSetIfAbsent(recKey, record{State: "sending"}, claimTTL)
	if err != nil {
		return Out{}, err
	}
	if !claimed {
		return Out{}, apflow.NewError("in_progress", fmt.Sprintf("send %s is in progress in another attempt; retry later", key), nil)
	}
	entry, err := send(ctx, key, in)
	if err != nil {
		_, _ = ctx.KVDelete(recKey) // nothing sent: free the key for a retry
		return Out{}, err
	}
	if err := ctx.KVSet(recKey, record{State: "sent", OutboxEntry: entry}, 0); err != nil {
		return Out{}, apflow.Errorf("sent as %s but could not record it: %w", entry, err)
	}
	if in.FailAfterSend {
		return Out{}, apflow.NewError("failed_after_send", "failing after the send, as asked (fail_after_send): a retry must not send again", nil)
	}
	return Out{Key: key, OutboxEntry: entry}, nil
}

// send appends the message to the outbox: the side effect that must happen once. The
// outbox is a log of entries outbox/<n>, n counted by outbox_next.
func send(ctx *apflow.Context, key string, in In) (string, error) {
	var next int
	if _, err := ctx.KVGet("outbox_next", &next); err != nil {
		return "", err
	}
	entry := fmt.Sprintf("outbox/%06d", next)
	if err := ctx.KVSet(entry, outboxEntry{To: in.To, Message: in.Message, Key: key}, 0); err != nil {
		return "", err
	}
	if err := ctx.KVSet("outbox_next", next+1, 0); err != nil {
		return "", err
	}
	return entry, nil
}
