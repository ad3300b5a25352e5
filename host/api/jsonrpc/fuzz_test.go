package jsonrpc

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// wellFormed fails t unless resp encodes to valid JSON in valid UTF-8: every response
// the server would write for a body must be parseable by any client.
func wellFormed(t *testing.T, what string, resp *Response) {
	t.Helper()
	b, err := resp.MarshalJSON() // as the server writes it, unchecked by encoding/json
	if err != nil {
		t.Fatalf("%s does not marshal: %v", what, err)
	}
	if !json.Valid(b) || !utf8.Valid(b) {
		t.Fatalf("%s is not valid JSON in UTF-8: %q", what, b)
	}
}

// FuzzDecodeRequest checks that Decode never panics, classifies every element, that every
// response it leads to (errors, and a success echoing a request's id) is valid JSON in
// UTF-8, and that a decoded request survives a round trip through its own encoding.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"tasks.get","params":{"task_id":"a"},"id":1}`,
		`[{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"b"}]`,
		`{"jsonrpc":"2.0","method":"m","params":null,"id":null}`,
		`[]`, `{`, `[1,{"id":{}}]`, `"x"`,
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"\xff\"}",
		"[{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"\xc3\"},{\"id\":\"\xe2\x82\"}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _, err := Decode(body)
		if err != nil {
			if len(items) != 0 {
				t.Fatalf("whole-body error %v with %d items", err, len(items))
			}
			wellFormed(t, "whole-body error response", &Response{Error: err})
			return
		}
		if len(items) == 0 {
			t.Fatal("no items and no error")
		}
		var batch []*Response
		defer func() {
			b, err := EncodeBatch(batch)
			if err != nil || !json.Valid(b) {
				t.Fatalf("the batch of responses is not valid JSON (%v): %q", err, b)
			}
		}()
		for i, it := range items {
			if (it.Req == nil) == (it.Err == nil) {
				t.Fatalf("item %d: exactly one of Req and Err must be set: %+v", i, it)
			}
			if it.Err != nil {
				batch = append(batch, &Response{ID: it.ID, Error: it.Err})
				wellFormed(t, "item error response", batch[len(batch)-1])
				continue
			}
			batch = append(batch, &Response{ID: it.Req.ID, Result: json.RawMessage(`{}`)})
			wellFormed(t, "item success response", batch[len(batch)-1])
			if it.Req.Method == "" {
				t.Fatalf("item %d: empty method accepted", i)
			}
			enc, mErr := json.Marshal(it.Req)
			if mErr != nil {
				t.Fatalf("item %d: request does not marshal: %v", i, mErr)
			}
			again, _, dErr := Decode(enc)
			if dErr != nil || len(again) != 1 || again[0].Req == nil || again[0].Req.Method != it.Req.Method ||
				again[0].Req.Notification() != it.Req.Notification() {
				t.Fatalf("item %d: round trip of %s failed: %v %+v", i, enc, dErr, again)
			}
		}
	})
}
