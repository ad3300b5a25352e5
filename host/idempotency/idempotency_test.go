package idempotency

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

const tree = `[{"name":"r","schemas":{"method":"m"}},{"name":"c","parent_id":"r","schemas":{"method":"m"}}]`

func TestNewKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, key, data string
		field           string // of the error; "" for none
	}{
		{"ok", "k", tree, ""},
		{"empty", "", tree, Param},
		{"too long", strings.Repeat("k", 256), tree, Param},
		{"NUL", "a\x00", tree, Param},
		{"not a submission", "k", `7`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewKey("", c.key, KindCreate, []byte(c.data), "")
			if c.name == "ok" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := apferr.As(err)
			if e == nil {
				t.Fatalf("error %v, want an *apferr.Error", err)
			}
			if d, _ := e.Data.(map[string]any); c.field != "" && d["field"] != c.field {
				t.Fatalf("error %v data %v, want field %s", e, e.Data, c.field)
			}
		})
	}
	a, _ := NewKey("", "k", KindCreate, []byte(tree), "")
	b, _ := NewKey("", "k", KindExecute, []byte(tree), "")
	if a.Digest == b.Digest {
		t.Fatal("create and execute of one tree have the same digest")
	}
}

// TestKeyOf checks that the key of a submission decoded by its caller is the key of its
// data, and that its key is checked the same way.
func TestKeyOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, key, data string
		ns              task.Namespace
		wantErr         bool
	}{
		{name: "tree", key: "k", data: tree},
		{name: "one task", key: "k", data: `{"name":"a","schemas":{"method":"m"},"inputs":{"n":1.50}}`},
		{name: "namespace", key: "k", data: tree, ns: "team"},
		{name: "empty key", key: "", data: tree, wantErr: true},
		{name: "NUL in the key", key: "a\x00", data: tree, wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub, err := submit.Decode([]byte(c.data), submit.Options{Namespace: c.ns})
			if err != nil {
				t.Fatal(err)
			}
			got, err := KeyOf("u", c.key, KindExecute, sub)
			want, werr := NewKey("u", c.key, KindExecute, []byte(c.data), c.ns)
			if c.wantErr {
				if apferr.As(err) == nil || apferr.As(werr) == nil {
					t.Fatalf("KeyOf: %v, NewKey: %v; want both refused", err, werr)
				}
				return
			}
			if err != nil || werr != nil || got != want {
				t.Fatalf("KeyOf = %+v, %v; NewKey = %+v, %v", got, err, want, werr)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Submitter{Keys: st, TTL: time.Hour, Now: func() time.Time { return now }}
	prepares := 0
	prepare := func(data string) func(context.Context) (*submit.Tree, error) {
		return func(ctx context.Context) (*submit.Tree, error) {
			prepares++
			return submit.PrepareTree(ctx, []byte(data), submit.Options{Exists: submit.ExistsIn(st)})
		}
	}
	k, err := NewKey("u", "k", KindCreate, []byte(tree), "")
	if err != nil {
		t.Fatal(err)
	}
	created, rec, err := s.Submit(ctx, k, prepare(tree))
	if err != nil || rec != nil || created == nil || created.Len() != 2 {
		t.Fatalf("first Submit = %v, %v, %v; want a tree of 2 tasks", created, rec, err)
	}
	if stored, err := st.Tree(ctx, created.TreeID()); err != nil || len(stored) != 2 || stored[0].ID != created.RootID() {
		t.Fatalf("stored tree %v, %v; want the submitted tree, root first", stored, err)
	}
	_, rec, err = s.Submit(ctx, k, prepare(tree))
	if err != nil || rec == nil || rec.RootID != created.RootID() || rec.TreeID != created.TreeID() || rec.Count != 2 || !rec.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("repeat = %+v, %v; want the first tree's record", rec, err)
	}
	if prepares != 1 {
		t.Fatalf("prepare called %d times, want once: a repeat validates nothing", prepares)
	}
	other, _ := NewKey("u", "k", KindCreate, []byte(`[{"name":"x","schemas":{"method":"m"}}]`), "")
	_, _, err = s.Submit(ctx, other, prepare(`[{"name":"x","schemas":{"method":"m"}}]`))
	if e := apferr.As(err); e == nil || e.Code != apferr.InvalidParams || !strings.Contains(e.Message, "content differs") {
		t.Fatalf("other content: %v", err)
	}
	// A failing prepare with no record behind it fails as it is.
	boom := errors.New("boom")
	k2, _ := NewKey("u", "k2", KindCreate, []byte(tree), "")
	if _, _, err := s.Submit(ctx, k2, func(context.Context) (*submit.Tree, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing prepare: %v", err)
	}
}
