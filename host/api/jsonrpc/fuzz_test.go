package jsonrpc

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeRequest checks that Decode never panics, classifies every element, and that a
// decoded request survives a round trip through its own encoding.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"tasks.get","params":{"task_id":"a"},"id":1}`,
		`[{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"b"}]`,
		`{"jsonrpc":"2.0","method":"m","params":null,"id":null}`,
		`[]`, `{`, `[1,{"id":{}}]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _, err := Decode(body)
		if err != nil {
			if len(items) != 0 {
				t.Fatalf("whole-body error %v with %d items", err, len(items))
			}
			if _, mErr := json.Marshal(&Response{Error: err}); mErr != nil {
				t.Fatalf("error response does not marshal: %v", mErr)
			}
			return
		}
		if len(items) == 0 {
			t.Fatal("no items and no error")
		}
		for i, it := range items {
			if (it.Req == nil) == (it.Err == nil) {
				t.Fatalf("item %d: exactly one of Req and Err must be set: %+v", i, it)
			}
			if it.Err != nil {
				if _, mErr := json.Marshal(&Response{ID: it.ID, Error: it.Err}); mErr != nil {
					t.Fatalf("item %d: error response does not marshal: %v", i, mErr)
				}
				continue
			}
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
