package executor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
)

type fakeHandle struct{ info *executor.Info }

func (h fakeHandle) Execute(context.Context, *executor.Request) (*executor.Response, error) {
	return &executor.Response{Output: []byte(`{}`)}, nil
}
func (h fakeHandle) Info() *executor.Info { return h.info }
func (h fakeHandle) Release()             {}

type fakeCatalog struct {
	kind string
	ids  []string
	err  error
}

func (c fakeCatalog) Lookup(id string) (executor.Handle, error) {
	if c.err != nil {
		return nil, c.err
	}
	for _, x := range c.ids {
		if x == id {
			return fakeHandle{&executor.Info{ID: id, Kind: c.kind}}, nil
		}
	}
	return nil, executor.NotFound(id)
}

func (c fakeCatalog) List() []*executor.Info {
	var out []*executor.Info
	for _, id := range c.ids {
		out = append(out, &executor.Info{ID: id, Kind: c.kind})
	}
	return out
}

func TestChain(t *testing.T) {
	t.Parallel()
	builtins := fakeCatalog{kind: "builtin", ids: []string{"agg", "shared"}}
	plugins := fakeCatalog{kind: "wasm", ids: []string{"shared", "zeta", "alpha"}}
	c := executor.Chain(builtins, nil, plugins)

	tests := []struct {
		id       string
		wantKind string
		wantCode apferr.Code
	}{
		{id: "agg", wantKind: "builtin"},
		{id: "shared", wantKind: "builtin"},
		{id: "zeta", wantKind: "wasm"},
		{id: "missing", wantCode: apferr.ExecutorNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			h, err := c.Lookup(tc.id)
			if tc.wantCode != 0 {
				if apferr.CodeOf(err) != tc.wantCode {
					t.Fatalf("Lookup(%q) error = %v, want code %v", tc.id, err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tc.id, err)
			}
			defer h.Release()
			if got := h.Info().Kind; got != tc.wantKind {
				t.Fatalf("Lookup(%q) kind = %q, want %q", tc.id, got, tc.wantKind)
			}
		})
	}

	var ids []string
	for _, info := range c.List() {
		ids = append(ids, info.ID+":"+info.Kind)
	}
	want := []string{"agg:builtin", "alpha:wasm", "shared:builtin", "zeta:wasm"}
	if len(ids) != len(want) {
		t.Fatalf("List = %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("List = %v, want %v", ids, want)
		}
	}
}

func TestChainPropagatesOtherErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("catalog unavailable")
	c := executor.Chain(fakeCatalog{err: boom}, fakeCatalog{ids: []string{"x"}})
	if _, err := c.Lookup("x"); !errors.Is(err, boom) {
		t.Fatalf("Lookup error = %v, want %v", err, boom)
	}
}

// registering is a fakeCatalog that answers Registers and counts its Lookups.
type registering struct {
	fakeCatalog
	lookups *int
}

func (c registering) Registers(id string) bool {
	for _, x := range c.ids {
		if x == id {
			return true
		}
	}
	return false
}

func (c registering) Lookup(id string) (executor.Handle, error) {
	*c.lookups++
	return c.fakeCatalog.Lookup(id)
}

// TestChainAsksRegistersFirst: a catalog that implements Registers is looked in only for
// the ids it registers, so the ids of the catalogs after it cost it no error.
func TestChainAsksRegistersFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id          string
		wantKind    string
		wantLookups int
	}{
		{id: "agg", wantKind: "builtin", wantLookups: 1},
		{id: "zeta", wantKind: "wasm", wantLookups: 0},
		{id: "missing", wantLookups: 0},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			lookups := 0
			c := executor.Chain(registering{fakeCatalog{kind: "builtin", ids: []string{"agg"}}, &lookups},
				fakeCatalog{kind: "wasm", ids: []string{"zeta"}})
			h, err := c.Lookup(tc.id)
			if lookups != tc.wantLookups {
				t.Errorf("Lookup(%q) looked in the registering catalog %d times, want %d", tc.id, lookups, tc.wantLookups)
			}
			if tc.wantKind == "" {
				if apferr.CodeOf(err) != apferr.ExecutorNotFound {
					t.Fatalf("Lookup(%q) error = %v, want not found", tc.id, err)
				}
				return
			}
			if err != nil || h.Info().Kind != tc.wantKind {
				t.Fatalf("Lookup(%q) = %v, %v; want kind %s", tc.id, h, err, tc.wantKind)
			}
		})
	}
}
