package jsonrpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	type want struct {
		code   int    // whole-body error code, 0 if none
		batch  bool   // body was an array
		items  []int  // per item: 0 valid, else error code
		notify []bool // per valid item: notification
	}
	tests := []struct {
		name string
		body string
		want want
	}{
		{"single", `{"jsonrpc":"2.0","method":"tasks.get","params":{"task_id":"a"},"id":1}`, want{items: []int{0}, notify: []bool{false}}},
		{"string id", `{"jsonrpc":"2.0","method":"m","id":"x"}`, want{items: []int{0}, notify: []bool{false}}},
		{"null id is not a notification", `{"jsonrpc":"2.0","method":"m","id":null}`, want{items: []int{0}, notify: []bool{false}}},
		{"notification", `{"jsonrpc":"2.0","method":"m"}`, want{items: []int{0}, notify: []bool{true}}},
		{"array params", `{"jsonrpc":"2.0","method":"m","params":[1],"id":1}`, want{items: []int{0}, notify: []bool{false}}},
		{"null params", `{"jsonrpc":"2.0","method":"m","params":null,"id":1}`, want{items: []int{0}, notify: []bool{false}}},
		{"empty body", ``, want{code: -32700}},
		{"not json", `{"jsonrpc":`, want{code: -32700}},
		{"garbage", `hello`, want{code: -32700}},
		{"scalar", `42`, want{code: -32600}},
		{"empty batch", `[]`, want{code: -32600, batch: true}},
		{"batch of scalars", `[1,2]`, want{batch: true, items: []int{-32600, -32600}}},
		{"no version", `{"method":"m","id":1}`, want{items: []int{-32600}}},
		{"wrong version", `{"jsonrpc":"1.0","method":"m","id":1}`, want{items: []int{-32600}}},
		{"no method", `{"jsonrpc":"2.0","id":1}`, want{items: []int{-32600}}},
		{"method not string", `{"jsonrpc":"2.0","method":5,"id":1}`, want{items: []int{-32600}}},
		{"empty method", `{"jsonrpc":"2.0","method":"","id":1}`, want{items: []int{-32600}}},
		{"params scalar", `{"jsonrpc":"2.0","method":"m","params":"x","id":1}`, want{items: []int{-32600}}},
		{"id object", `{"jsonrpc":"2.0","method":"m","id":{}}`, want{items: []int{-32600}}},
		{"id bool", `{"jsonrpc":"2.0","method":"m","id":true}`, want{items: []int{-32600}}},
		{"invalid utf-8 in id", "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"a\xffb\"}", want{code: -32700}},
		{"invalid utf-8 in batch", "[{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"\xc3\"}]", want{code: -32700}},
		{"invalid utf-8 in params", "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"x\":\"\xed\xa0\x80\"},\"id\":1}", want{code: -32700}},
		{"mixed batch", `[{"jsonrpc":"2.0","method":"a","id":1},{"x":1},{"jsonrpc":"2.0","method":"b"}]`,
			want{batch: true, items: []int{0, -32600, 0}, notify: []bool{false, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, batch, err := Decode([]byte(tt.body))
			if tt.want.code != 0 {
				if err == nil || err.Code != tt.want.code {
					t.Fatalf("Decode error = %v, want code %d", err, tt.want.code)
				}
				if len(items) != 0 {
					t.Fatalf("items with whole-body error: %v", items)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode error = %v", err)
			}
			if batch != tt.want.batch {
				t.Fatalf("batch = %v, want %v", batch, tt.want.batch)
			}
			if len(items) != len(tt.want.items) {
				t.Fatalf("%d items, want %d", len(items), len(tt.want.items))
			}
			n := 0
			for i, it := range items {
				if tt.want.items[i] == 0 {
					if it.Req == nil || it.Err != nil {
						t.Fatalf("item %d: want valid request, got %+v", i, it.Err)
					}
					if it.Req.Notification() != tt.want.notify[n] {
						t.Fatalf("item %d: notification = %v", i, it.Req.Notification())
					}
					n++
					continue
				}
				if it.Err == nil || it.Err.Code != tt.want.items[i] {
					t.Fatalf("item %d: error %v, want code %d", i, it.Err, tt.want.items[i])
				}
			}
		})
	}
}

func TestResponseJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp Response
		want string
	}{
		{"result", Response{ID: json.RawMessage(`1`), Result: json.RawMessage(`{"a":1}`)}, `{"jsonrpc":"2.0","id":1,"result":{"a":1}}`},
		{"null result", Response{ID: json.RawMessage(`"x"`)}, `{"jsonrpc":"2.0","id":"x","result":null}`},
		{"empty result", Response{ID: json.RawMessage(`2`), Result: json.RawMessage{}}, `{"jsonrpc":"2.0","id":2,"result":null}`},
		{"error null id", Response{Error: NewError(apferr.ParseError, "Parse error", nil)}, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{"id echoed as received", Response{ID: json.RawMessage(`"<a&b>"`), Error: NewError(apferr.InvalidParams, "Invalid params", nil)},
			`{"jsonrpc":"2.0","id":"<a&b>","error":{"code":-32602,"message":"Invalid params"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := tt.resp.MarshalJSON() // as the server writes it
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got %s, want %s", b, tt.want)
			}
			var back Response
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if (back.Error == nil) != (tt.resp.Error == nil) {
				t.Fatalf("round trip lost the error: %+v", back)
			}
		})
	}
}

func TestFromError(t *testing.T) {
	t.Parallel()
	ae := apferr.New(apferr.TaskNotFound, "Task x not found").WithData(map[string]any{"task_id": "x"})
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"apferr", ae, -32001},
		{"wrapped apferr", fmt.Errorf("get: %w", ae), -32001},
		{"plain", errors.New("boom"), -32603},
		{"jsonrpc error", NewError(apferr.InvalidParams, "bad", nil), -32602},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := FromError(tt.err); got.Code != tt.code {
				t.Fatalf("code = %d, want %d", got.Code, tt.code)
			}
		})
	}
	if FromError(nil) != nil {
		t.Fatal("FromError(nil) != nil")
	}
	back := FromError(ae).ToAPFError()
	if back.Code != apferr.TaskNotFound || back.Message != ae.Message {
		t.Fatalf("ToAPFError = %+v", back)
	}
}

// TestEncodeBatch: a batch is its responses, each as MarshalJSON writes it, in an array.
func TestEncodeBatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		rs   []*Response
		want string
	}{
		{"none", nil, `[]`},
		{"two", []*Response{{ID: json.RawMessage(`1`), Result: json.RawMessage(`[1,2]`)}, {ID: json.RawMessage(`"b"`), Error: NewError(apferr.MethodNotFound, "Method not found", "x")}},
			`[{"jsonrpc":"2.0","id":1,"result":[1,2]},{"jsonrpc":"2.0","id":"b","error":{"code":-32601,"message":"Method not found","data":"x"}}]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := EncodeBatch(tt.rs)
			if err != nil || string(b) != tt.want {
				t.Fatalf("EncodeBatch = %s, %v; want %s", b, err, tt.want)
			}
		})
	}
}
