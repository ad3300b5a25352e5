package submit

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/schema"
)

// fakeCatalog is an executor.Catalog of executors that only have an id and an optional
// input schema. It counts open handles so tests can check that all are released.
type fakeCatalog struct {
	infos   map[string]*executor.Info
	open    atomic.Int64
	lookups atomic.Int64
}

type fakeHandle struct {
	info     *executor.Info
	cat      *fakeCatalog
	released sync.Once
}

func (h *fakeHandle) Execute(context.Context, *executor.Request) (*executor.Response, error) {
	return &executor.Response{Output: []byte(`{}`)}, nil
}
func (h *fakeHandle) Info() *executor.Info { return h.info }
func (h *fakeHandle) Release()             { h.released.Do(func() { h.cat.open.Add(-1) }) }

func (c *fakeCatalog) Lookup(id string) (executor.Handle, error) {
	c.lookups.Add(1)
	info, ok := c.infos[id]
	if !ok {
		return nil, executor.NotFound(id)
	}
	c.open.Add(1)
	return &fakeHandle{info: info, cat: c}, nil
}

func (c *fakeCatalog) List() []*executor.Info {
	var out []*executor.Info
	for _, i := range c.infos {
		out = append(out, i)
	}
	return out
}

// newFakeCatalog registers executors by id; schemas maps an id to its input schema
// (JSON text), compiled as a real catalog would.
func newFakeCatalog(t testing.TB, schemas map[string]string) *fakeCatalog {
	t.Helper()
	c := &fakeCatalog{infos: map[string]*executor.Info{}}
	for id, sch := range schemas {
		info := &executor.Info{ID: id, Kind: "builtin"}
		if sch != "" {
			s, err := schema.Compile(id, []byte(sch), schema.Draft2020)
			if err != nil {
				t.Fatalf("compile schema of %s: %v", id, err)
			}
			info.InputSchema, info.Compiled = []byte(sch), s
		}
		c.infos[id] = info
	}
	return c
}

// testExecutors are the executors of the default test catalog.
var testExecutors = map[string]string{
	"aggregate_results_executor": "",
	"echo":                       "",
	"count": `{"type": "object", "properties": {"count": {"type": "integer", "minimum": 0},
		"label": {"type": "string"}}, "required": ["count"]}`,
	"url": `{"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"],
		"anyOf": [{"required": ["url"]}, {"required": ["host"]}]}`,
}

// setup returns options with the default test catalog, a fixed clock and sequential
// ids, plus the catalog for inspection.
func setup(t testing.TB) (Options, *fakeCatalog) {
	t.Helper()
	cat := newFakeCatalog(t, testExecutors)
	var n atomic.Int64
	opts := Options{
		Catalog: cat,
		Now:     func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC) },
		NewID: func() string {
			return "gen-" + strconv.FormatInt(n.Add(1), 10)
		},
	}
	t.Cleanup(func() {
		if o := cat.open.Load(); o != 0 {
			t.Errorf("%d executor handle(s) not released", o)
		}
	})
	return opts, cat
}

// TestTaskSchemasShared: with Options.TaskSchemas, a schema shared by the tasks of
// several submissions is compiled once.
func TestTaskSchemasShared(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	opts.TaskSchemas = schema.NewTaskCache(0)
	tree := `[{"name": "r", "schemas": {"method": "echo", "input_schema": {"required": ["n"]}}, "inputs": {"n": 1}},
		{"name": "c", "parent_id": "r", "schemas": {"method": "echo", "input_schema": {"required": ["n"]}}, "inputs": {"n": 2}}]`
	for range 3 {
		if _, err := Prepare(context.Background(), []byte(tree), opts); err != nil {
			t.Fatal(err)
		}
	}
	if st := opts.TaskSchemas.Stats(); st.Compiles != 1 || st.Hits != 5 {
		t.Fatalf("task schema cache = %+v, want 1 compile, 5 hits", st)
	}
}
