package apflow

import (
	"encoding/json"
	"fmt"
	"time"
)

// Codes of the errors the KV methods of [Context] return: the host's kv error codes
// (docs/kv.md), prefixed with "kv_".
const (
	// CodeKVNotGranted: the plugin lacks the kv grant (or the call came from a hook).
	CodeKVNotGranted = "kv_not_granted"
	// CodeKVQuota: the set would take the plugin's space past max_bytes or max_keys;
	// nothing was written.
	CodeKVQuota = "kv_quota_exceeded"
	// CodeKVTooLarge: the value is larger than max_value_bytes; nothing was written.
	CodeKVTooLarge = "kv_too_large"
	// CodeKVBadKey: the key is empty, longer than 512 bytes or holds a NUL character.
	CodeKVBadKey = "kv_bad_key"
	// CodeKVBadRequest: the request was malformed (a negative TTL, a list limit out of
	// range).
	CodeKVBadRequest = "kv_bad_request"
	// CodeKVUnavailable: the host's store failed or the host has none.
	CodeKVUnavailable = "kv_unavailable"
)

// kvCall sends req to the kv host function fn and decodes its answer into out, or
// returns the host's refusal as an *Error with a CodeKV… code.
func (c *Context) kvCall(fn string, req any, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", fn, err)
	}
	raw := c.host.KVCall(fn, body)
	if len(raw) == 0 {
		return NewError(CodeKVUnavailable, fn+" returned nothing", nil)
	}
	var refusal struct {
		Error *string `json:"error"`
		Code  string  `json:"code"`
	}
	if err := json.Unmarshal(raw, &refusal); err != nil {
		return fmt.Errorf("%s: decode answer: %w", fn, err)
	}
	if refusal.Error != nil {
		code := CodeKVUnavailable
		if refusal.Code != "" {
			code = "kv_" + refusal.Code
		}
		return NewError(code, *refusal.Error, nil)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", fn, err)
	}
	return nil
}

// KVGet reads key from the plugin's key-value space (capability "kv") into v, as
// json.Unmarshal does. found is false, and v untouched, when the key has no entry or
// its entry expired.
func (c *Context) KVGet(key string, v any) (found bool, err error) {
	var out struct {
		Found bool            `json:"found"`
		Value json.RawMessage `json:"value"`
	}
	if err := c.kvCall("kv_get", map[string]string{"key": key}, &out); err != nil {
		return false, err
	}
	if !out.Found {
		return false, nil
	}
	if err := json.Unmarshal(out.Value, v); err != nil {
		return true, fmt.Errorf("kv_get %q: decode value: %w", key, err)
	}
	return true, nil
}

type kvSetRequest struct {
	Key      string `json:"key"`
	Value    any    `json:"value"`
	TTLMS    int64  `json:"ttl_ms,omitempty"`
	IfAbsent bool   `json:"if_absent,omitempty"`
}

// ttlMS is ttl in whole milliseconds, rounded up; 0 for none.
func ttlMS(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}

// KVSet stores v (encoded as JSON) under key in the plugin's key-value space
// (capability "kv"), replacing the key's entry. A positive ttl makes the entry expire
// after it (rounded up to a millisecond); 0 keeps it until deleted. A set over the
// space's quota, or of a value over max_value_bytes, writes nothing and returns an
// *Error with code CodeKVQuota or CodeKVTooLarge.
func (c *Context) KVSet(key string, v any, ttl time.Duration) error {
	var out struct{}
	return c.kvCall("kv_set", kvSetRequest{Key: key, Value: v, TTLMS: ttlMS(ttl)}, &out)
}

// KVSetIfAbsent stores v under key only when the key has no live entry, atomically:
// of several tasks claiming one key at once, exactly one gets stored true. It is the
// claim of an idempotent plugin ("record what you did").
func (c *Context) KVSetIfAbsent(key string, v any, ttl time.Duration) (stored bool, err error) {
	var out struct {
		Stored bool `json:"stored"`
	}
	err = c.kvCall("kv_set", kvSetRequest{Key: key, Value: v, TTLMS: ttlMS(ttl), IfAbsent: true}, &out)
	return out.Stored, err
}

// KVDelete deletes key's entry and reports whether there was a live one.
func (c *Context) KVDelete(key string) (deleted bool, err error) {
	var out struct {
		Deleted bool `json:"deleted"`
	}
	err = c.kvCall("kv_delete", map[string]string{"key": key}, &out)
	return out.Deleted, err
}

// KVList returns, in byte order, up to limit keys (0 for the host's default of 100, at
// most 1000) of the space that start with prefix and come after after ("" for the
// first page). next is "" on the last page, else the after of the next one.
func (c *Context) KVList(prefix, after string, limit int) (keys []string, next string, err error) {
	req := map[string]any{}
	if prefix != "" {
		req["prefix"] = prefix
	}
	if after != "" {
		req["after"] = after
	}
	if limit != 0 {
		req["limit"] = limit
	}
	var out struct {
		Keys []string `json:"keys"`
		Next string   `json:"next"`
	}
	err = c.kvCall("kv_list", req, &out)
	return out.Keys, out.Next, err
}
