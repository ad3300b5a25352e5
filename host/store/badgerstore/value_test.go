package badgerstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/task"
)

func TestDropZeroMembers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"a":null}`, `{}`},
		{`{"a":null,"b":1}`, `{"b":1}`},
		{`{"a":1,"b":false,"c":0,"d":true}`, `{"a":1,"d":true}`},
		{`{"a":0.5,"b":-0,"c":10,"d":"0","e":"null"}`, `{"a":0.5,"b":-0,"c":10,"d":"0","e":"null"}`},
		{`{"a":{"x":null,"y":0},"b":[null,false,0],"c":null}`, `{"a":{"x":null,"y":0},"b":[null,false,0]}`},
		{`{"a\"b":null,"k":"v\\\",}]","n":null}`, `{"k":"v\\\",}]"}`},
		{`{"a":{},"b":[],"c":""}`, `{"a":{},"b":[],"c":""}`},
		{`[null]`, `[null]`},
		{`{"result":false,"a":false}`, `{"result":false}`},
		{`{"a":0,"result":0}`, `{"result":0}`},
		{`{"result":null,"x":"result"}`, `{"x":"result"}`},
		{`{"\"result":0,"result\"":false}`, `{}`},
	} {
		if got := dropZeroMembers([]byte(c.in), anyMembers); string(got) != c.want {
			t.Errorf("dropZeroMembers(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzDropZeroMembers: for any object encoding/json writes, the result is that object
// without the members encoded as null, false or 0 (the result member: null only), the
// others byte for byte.
func FuzzDropZeroMembers(f *testing.F) {
	for _, s := range []string{`{"a":null,"b":{"c":[0,false,"\"}"]},"d":0,"e":-0.0}`, `{"x\u0000":"]","y":false}`, `{}`, `{"result":0,"r":false}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil || m == nil {
			return
		}
		obj, err := json.Marshal(m)
		if err != nil {
			return
		}
		want := map[string]json.RawMessage{}
		for k, v := range m {
			b, _ := json.Marshal(v)
			if s := string(b); s != "null" && (k == "result" || s != "false" && s != "0") {
				want[k] = b
			}
		}
		got := dropZeroMembers(bytes.Clone(obj), anyMembers)
		var back map[string]json.RawMessage
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("dropZeroMembers(%s) = %s: not JSON: %v", obj, got, err)
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("dropZeroMembers(%s) = %s, want the members %v", obj, got, want)
		}
	})
}

// TestStoredValue: a task is stored without its null, false and 0 members, and a value
// stored in the whole wire form (as earlier versions did) reads the same.
func TestStoredValue(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	ctx := t.Context()
	x := mk("echo", "root", 1)
	x.Inputs = map[string]any{"i": json.Number("7")}
	x.Schemas = map[string]any{"method": "echo"}
	if err := s.Create(ctx, []*task.Task{mk("root", "", 0), x}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, fn := range []func(*task.Task) error{
		func(x *task.Task) error { return x.Start(now) },
		func(x *task.Task) error { return x.Complete(map[string]any{"i": json.Number("7")}, now) },
	} {
		if _, err := s.Update(ctx, "echo", fn); err != nil {
			t.Fatal(err)
		}
	}
	stored := s.rawValue(t, "echo")
	done, err := s.Get(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	wire, err := done.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(":null")) || bytes.Contains(stored, []byte(":false")) || len(stored) >= len(wire)*3/4 {
		t.Fatalf("stored value (%d bytes, wire form %d): %s", len(stored), len(wire), stored)
	}
	// An earlier version's value: the whole wire form.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(taskKey("echo"), wire) }); err != nil {
		t.Fatal(err)
	}
	s.cache.drop("echo")
	again, err := s.Get(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := again.MarshalJSON(); !bytes.Equal(got, wire) {
		t.Fatalf("the wire form reads as %s, want %s", got, wire)
	}
}

// rawValue returns the stored value of task id.
func (s *Store) rawValue(t *testing.T, id string) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(taskKey(id))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStoredResults: a result that is false, 0 or empty reads back as itself once the
// decode cache no longer holds the task.
func TestStoredResults(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	for i, result := range []any{false, json.Number("0"), "", map[string]any{}, []any{}, nil} {
		id := fmt.Sprintf("r%d", i)
		if err := s.Create(t.Context(), []*task.Task{mk(id, "", i)}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, fn := range []func(*task.Task) error{
			func(x *task.Task) error { return x.Start(now) },
			func(x *task.Task) error { return x.Complete(result, now) },
		} {
			if _, err := s.Update(t.Context(), id, fn); err != nil {
				t.Fatal(err)
			}
		}
		s.cache.drop(id)
		got, err := s.Get(t.Context(), id)
		if err != nil || !reflect.DeepEqual(got.Result, result) {
			t.Errorf("result %#v reads back as %#v (%v)", result, got.Result, err)
		}
	}
}
