package apflowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// kvEntry is one entry of the fake's key-value space; expires is on the virtual clock
// (0: never).
type kvEntry struct {
	value   json.RawMessage
	expires time.Duration
}

func kvError(code, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg, "code": code})
	return b
}

// KVCall serves kv_get, kv_set, kv_delete and kv_list as the host does (docs/kv.md),
// from an in-memory space, when KV is set.
func (h *Host) KVCall(function string, raw []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.KV {
		return kvError("not_granted", "capability kv not granted to plugin")
	}
	var req struct {
		Key      *string         `json:"key"`
		Value    json.RawMessage `json:"value"`
		TTLMS    int64           `json:"ttl_ms"`
		IfAbsent bool            `json:"if_absent"`
		Prefix   string          `json:"prefix"`
		After    string          `json:"after"`
		Limit    int             `json:"limit"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return kvError("bad_request", fmt.Sprintf("%s: %v", function, err))
	}
	if h.kv == nil {
		h.kv = map[string]kvEntry{}
	}
	live := func(k string) (kvEntry, bool) {
		e, ok := h.kv[k]
		if ok && e.expires > 0 && e.expires <= h.slept {
			return kvEntry{}, false
		}
		return e, ok
	}
	if function == "kv_list" {
		limit := req.Limit
		if limit == 0 {
			limit = 100
		}
		if limit < 1 || limit > 1000 {
			return kvError("bad_request", fmt.Sprintf("kv_list: limit %d: want 1..1000", limit))
		}
		keys := []string{}
		for k := range h.kv {
			if _, ok := live(k); ok && strings.HasPrefix(k, req.Prefix) && k > req.After {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		out := map[string]any{"keys": keys, "more": false}
		if len(keys) > limit {
			out["keys"], out["more"], out["next"] = keys[:limit], true, keys[limit-1]
		}
		b, _ := json.Marshal(out)
		return b
	}
	if req.Key == nil {
		return kvError("bad_request", function+": the request has no key")
	}
	key := *req.Key
	if key == "" || len(key) > 512 || strings.IndexByte(key, 0) >= 0 || !utf8.ValidString(key) {
		return kvError("bad_key", fmt.Sprintf("%s: kv key %q is empty, longer than 512 bytes or holds NUL", function, key))
	}
	var out any
	switch function {
	case "kv_get":
		e, ok := live(key)
		if !ok {
			out = map[string]bool{"found": false}
			break
		}
		o := map[string]any{"found": true, "value": e.value}
		if e.expires > 0 {
			o["ttl_ms"] = (e.expires - h.slept).Milliseconds()
		}
		out = o
	case "kv_set":
		if req.Value == nil || req.TTLMS < 0 {
			return kvError("bad_request", "kv_set: no value, or a negative ttl_ms")
		}
		if _, ok := live(key); ok && req.IfAbsent {
			out = map[string]bool{"stored": false}
			break
		}
		if _, ok := live(key); !ok && h.KVMaxKeys > 0 {
			n := 0
			for k := range h.kv {
				if _, ok := live(k); ok {
					n++
				}
			}
			if n >= h.KVMaxKeys {
				return kvError("quota_exceeded", fmt.Sprintf("kv_set: kv quota exceeded: max_keys is %d; nothing was written", h.KVMaxKeys))
			}
		}
		var compact bytes.Buffer
		_ = json.Compact(&compact, req.Value)
		e := kvEntry{value: compact.Bytes()}
		if req.TTLMS > 0 {
			e.expires = h.slept + time.Duration(req.TTLMS)*time.Millisecond
		}
		h.kv[key] = e
		out = map[string]bool{"stored": true}
	case "kv_delete":
		_, ok := live(key)
		delete(h.kv, key)
		out = map[string]bool{"deleted": ok}
	default:
		return kvError("bad_request", "unknown kv function "+function)
	}
	b, _ := json.Marshal(out)
	return b
}

// KVEntries returns the live entries of the fake's key-value space, by key.
func (h *Host) KVEntries() map[string]json.RawMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]json.RawMessage{}
	for k, e := range h.kv {
		if e.expires == 0 || e.expires > h.slept {
			out[k] = append(json.RawMessage(nil), e.value...)
		}
	}
	return out
}
