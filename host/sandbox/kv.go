package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/apflow-wasm/apflow/host/store"
)

// KVStore is where the kv_* host functions keep plugins' entries (docs/kv.md): the part
// of store.KV the sandbox uses. Every store backend implements it; cmd/apflow passes the
// task store in Config.KV.
type KVStore interface {
	KVGet(ctx context.Context, sp store.KVSpace, key string, now time.Time) (store.KVEntry, bool, error)
	KVSet(ctx context.Context, req store.KVSetRequest) (bool, error)
	KVDelete(ctx context.Context, sp store.KVSpace, key string, now time.Time) (bool, error)
	KVList(ctx context.Context, sp store.KVSpace, prefix, after string, limit int, now time.Time) ([]string, bool, error)
}

// KVGrant grants the kv_* host functions (docs/kv.md) and bounds the plugin's space.
// Zero fields take the defaults below.
type KVGrant struct {
	// MaxBytes bounds the plugin's space: the bytes of its keys and values (default
	// DefaultKVMaxBytes).
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// MaxKeys bounds how many entries the space holds (default DefaultKVMaxKeys).
	MaxKeys int64 `json:"max_keys,omitempty"`
	// MaxValueBytes bounds one value, its JSON compacted (default DefaultKVMaxValueBytes,
	// at most store.MaxKVValueBytes).
	MaxValueBytes int64 `json:"max_value_bytes,omitempty"`
}

// Defaults of a kv grant's fields.
const (
	// DefaultKVMaxBytes is a space's default byte quota: 16 MiB.
	DefaultKVMaxBytes = 16 << 20
	// DefaultKVMaxKeys is a space's default key quota.
	DefaultKVMaxKeys = 10_000
	// DefaultKVMaxValueBytes is the default cap of one value: 64 KiB.
	DefaultKVMaxValueBytes = 64 << 10
	// DefaultKVListLimit is how many keys kv_list returns when the request sets no
	// limit; store.MaxKVList is the most it returns.
	DefaultKVListLimit = 100
	// MaxKVTTL is the longest ttl_ms kv_set takes: 10 years.
	MaxKVTTL = 10 * 365 * 24 * time.Hour
)

// withDefaults returns g with its zero fields set.
func (g KVGrant) withDefaults() KVGrant {
	if g.MaxBytes <= 0 {
		g.MaxBytes = DefaultKVMaxBytes
	}
	if g.MaxKeys <= 0 {
		g.MaxKeys = DefaultKVMaxKeys
	}
	if g.MaxValueBytes <= 0 {
		g.MaxValueBytes = DefaultKVMaxValueBytes
	}
	g.MaxValueBytes = min(g.MaxValueBytes, store.MaxKVValueBytes)
	return g
}

// Codes of kv_* error results ({"error": message, "code": code}).
const (
	KVCodeNotGranted  = "not_granted"
	KVCodeBadRequest  = "bad_request"
	KVCodeBadKey      = "bad_key"
	KVCodeTooLarge    = "too_large"
	KVCodeQuota       = "quota_exceeded"
	KVCodeUnavailable = "unavailable"
)

// kvRequest is a decoded kv_* request; which fields a function reads is in
// decodeKVRequest.
type kvRequest struct {
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
	TTLMS    int64           `json:"ttl_ms"`
	IfAbsent bool            `json:"if_absent"`
	Prefix   string          `json:"prefix"`
	After    string          `json:"after"`
	Limit    int             `json:"limit"`
}

// kvError is a refused kv_* call: its code and message go to the guest.
type kvError struct {
	code, msg string
}

func (e *kvError) Error() string { return e.msg }

func kvErrorf(code, format string, args ...any) *kvError {
	return &kvError{code: code, msg: fmt.Sprintf(format, args...)}
}

// kvFields are the fields each function accepts.
var kvFields = map[string][]string{
	"kv_get":    {"key"},
	"kv_set":    {"key", "value", "ttl_ms", "if_absent"},
	"kv_delete": {"key"},
	"kv_list":   {"prefix", "after", "limit"},
}

// checkGuestKey is store.CheckKVKey, and refuses U+FFFD: a lone surrogate escape
// ("\ud800") decodes to it, so keys that differ there would become one key.
func checkGuestKey(key string) error {
	if strings.ContainsRune(key, utf8.RuneError) {
		return fmt.Errorf("key %q contains U+FFFD (what invalid UTF-8 and lone surrogate escapes decode to)", key)
	}
	return store.CheckKVKey(key)
}

// decodeKVRequest decodes the request document of fn (guest input): a JSON object with
// only fn's fields, a valid key where fn takes one (store.CheckKVKey), a value for
// kv_set (any JSON, returned compacted), a ttl_ms of 0 (no expiry) up to MaxKVTTL, and
// a kv_list limit of 0 (DefaultKVListLimit) up to store.MaxKVList. Errors are *kvError.
func decodeKVRequest(fn string, doc []byte) (kvRequest, error) {
	var req kvRequest
	allowed, ok := kvFields[fn]
	if !ok {
		return req, kvErrorf(KVCodeBadRequest, "unknown kv function %s", fn)
	}
	if !utf8.Valid(doc) {
		// JSON decoding would turn every invalid byte into U+FFFD: two keys would
		// become one.
		return req, kvErrorf(KVCodeBadRequest, "%s: the request is not valid UTF-8", fn)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc, &fields); err != nil || fields == nil {
		return req, kvErrorf(KVCodeBadRequest, "%s: the request is not a JSON object", fn)
	}
	for name := range fields {
		found := false
		for _, a := range allowed {
			found = found || a == name
		}
		if !found {
			return req, kvErrorf(KVCodeBadRequest, "%s: unknown field %q (fields: %v)", fn, name, allowed)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&req); err != nil {
		return req, kvErrorf(KVCodeBadRequest, "%s: %v", fn, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, kvErrorf(KVCodeBadRequest, "%s: data after the request object", fn)
	}
	switch fn {
	case "kv_list":
		if req.Limit == 0 {
			req.Limit = DefaultKVListLimit
		}
		if req.Limit < 1 || req.Limit > store.MaxKVList {
			return req, kvErrorf(KVCodeBadRequest, "kv_list: limit %d: want 1..%d", req.Limit, store.MaxKVList)
		}
		for _, s := range []string{req.Prefix, req.After} {
			if s == "" {
				continue // no prefix, the first page
			}
			if err := checkGuestKey(s); err != nil {
				return req, kvErrorf(KVCodeBadKey, "kv_list: prefix or after: %v", err)
			}
		}
		return req, nil
	}
	if _, ok := fields["key"]; !ok {
		return req, kvErrorf(KVCodeBadRequest, "%s: the request has no key", fn)
	}
	if err := checkGuestKey(req.Key); err != nil {
		return req, kvErrorf(KVCodeBadKey, "%s: %v", fn, err)
	}
	if fn != "kv_set" {
		return req, nil
	}
	if _, ok := fields["value"]; !ok {
		return req, kvErrorf(KVCodeBadRequest, "kv_set: the request has no value")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, req.Value); err != nil {
		return req, kvErrorf(KVCodeBadRequest, "kv_set: value: %v", err)
	}
	req.Value = compact.Bytes()
	if req.TTLMS < 0 || req.TTLMS > MaxKVTTL.Milliseconds() {
		return req, kvErrorf(KVCodeBadRequest, "kv_set: ttl_ms %d: want 0 (no expiry) up to %d", req.TTLMS, MaxKVTTL.Milliseconds())
	}
	return req, nil
}

// kvSpace returns the space of the call, or why the call may not use kv_*.
func (cs *callState) kvSpace() (store.KVSpace, *KVGrant, error) {
	switch {
	case cs.grants.KV == nil:
		return store.KVSpace{}, nil, kvErrorf(KVCodeNotGranted, "%s", cs.notGranted("kv"))
	case !cs.kv:
		return store.KVSpace{}, nil, kvErrorf(KVCodeNotGranted, "kv is available to executors only, not to hooks")
	case cs.m == nil || cs.m.rt.cfg.KV == nil:
		return store.KVSpace{}, nil, kvErrorf(KVCodeUnavailable, "this host has no kv store")
	}
	g := cs.grants.KV.withDefaults()
	return store.KVSpace{Scope: cs.kvScope, Plugin: cs.pluginID()}, &g, nil
}

// maxKVRequest bounds a kv request document, checked before it is copied out of the
// guest: the largest value, escaped, and room for its key and the other fields.
const maxKVRequest = 2*store.MaxKVValueBytes + 4096

// hostKV returns the host function of fn: read the request, check the grant, run op,
// hand its answer (or {"error", "code"}) to the guest.
func (r *Runtime) hostKV(fn string) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		cs := callStateFrom(ctx)
		cs.hostCalls++
		if n := api.DecodeU32(stack[1]); n > maxKVRequest {
			stack[0] = cs.giveKVError(ctx, mod, fn, kvErrorf(KVCodeTooLarge,
				"%s: the request is %d bytes, at most %d (a value of store.MaxKVValueBytes and its key)", fn, n, maxKVRequest))
			return
		}
		doc, ok := guestBytes(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
		if !ok {
			stack[0] = cs.giveKVError(ctx, mod, fn, kvErrorf(KVCodeBadRequest, "%s: request buffer is outside the plugin's memory", fn))
			return
		}
		answer, err := r.kvCall(ctx, cs, fn, doc)
		if err != nil {
			stack[0] = cs.giveKVError(ctx, mod, fn, err)
			return
		}
		b, err := json.Marshal(answer)
		if err != nil {
			stack[0] = cs.giveKVError(ctx, mod, fn, err)
			return
		}
		stack[0] = cs.give(ctx, mod, b)
	}
}

// kvCall performs one kv_* call.
func (r *Runtime) kvCall(ctx context.Context, cs *callState, fn string, doc []byte) (any, error) {
	sp, g, err := cs.kvSpace()
	if err != nil {
		return nil, err
	}
	req, err := decodeKVRequest(fn, doc)
	if err != nil {
		return nil, err
	}
	kv, now := r.cfg.KV, r.cfg.Now()
	switch fn {
	case "kv_get":
		e, ok, err := kv.KVGet(ctx, sp, req.Key, now)
		if err != nil || !ok {
			return map[string]bool{"found": false}, err
		}
		out := struct {
			Found bool            `json:"found"`
			Value json.RawMessage `json:"value"`
			TTLMS int64           `json:"ttl_ms,omitempty"`
		}{Found: true, Value: e.Value}
		if !e.ExpiresAt.IsZero() {
			out.TTLMS = max(1, (e.ExpiresAt.Sub(now) + time.Millisecond - 1).Milliseconds())
		}
		return out, nil
	case "kv_set":
		if int64(len(req.Value)) > g.MaxValueBytes {
			return nil, kvErrorf(KVCodeTooLarge, "kv_set: the value of key %q is %d bytes, max_value_bytes is %d; nothing was written",
				req.Key, len(req.Value), g.MaxValueBytes)
		}
		e := store.KVEntry{Key: req.Key, Value: req.Value}
		if req.TTLMS > 0 {
			e.ExpiresAt = now.Add(time.Duration(req.TTLMS) * time.Millisecond)
		}
		stored, err := kv.KVSet(ctx, store.KVSetRequest{Space: sp, Entry: e, IfAbsent: req.IfAbsent, Now: now,
			Quota: store.KVQuota{MaxBytes: g.MaxBytes, MaxKeys: g.MaxKeys}})
		return map[string]bool{"stored": stored}, err
	case "kv_delete":
		deleted, err := kv.KVDelete(ctx, sp, req.Key, now)
		return map[string]bool{"deleted": deleted}, err
	default: // kv_list
		keys, more, err := kv.KVList(ctx, sp, req.Prefix, req.After, req.Limit, now)
		if keys == nil {
			keys = []string{}
		}
		out := struct {
			Keys []string `json:"keys"`
			More bool     `json:"more"`
			Next string   `json:"next,omitempty"`
		}{Keys: keys, More: more}
		if more {
			out.Next = keys[len(keys)-1]
		}
		return out, err
	}
}

// giveKVError hands {"error": message, "code": code} to the guest and logs it. A store
// failure because the call's context ended aborts the call instead.
func (cs *callState) giveKVError(ctx context.Context, mod api.Module, fn string, err error) uint64 {
	var ke *kvError
	var quota *store.KVQuotaError
	var badKey *store.KVKeyError
	switch {
	case errors.As(err, &ke):
	case errors.As(err, &quota):
		ke = &kvError{code: KVCodeQuota, msg: fn + ": " + err.Error()}
	case errors.As(err, &badKey):
		ke = &kvError{code: KVCodeBadKey, msg: fn + ": " + err.Error()}
	default:
		abortIfDone(ctx)
		ke = &kvError{code: KVCodeUnavailable, msg: fn + ": the kv store failed: " + err.Error()}
	}
	cs.logger.Warn("host call refused", "function", fn, "code", ke.code, "error", ke.msg)
	doc, _ := json.Marshal(map[string]string{"error": ke.msg, "code": ke.code})
	return cs.give(ctx, mod, doc)
}
