package builtin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/schema"
)

// builtinExecutor is one compiled-in executor: its description and its function.
type builtinExecutor struct {
	info *executor.Info
	run  func(ctx context.Context, req *executor.Request) (*executor.Response, error)
}

// catalog is the executor.Catalog of the built-ins. It is immutable after construction.
type catalog struct {
	byID map[string]*builtinExecutor
}

// Catalog returns a catalog of every built-in executor: aggregate_results_executor and
// generate_executor (see WithGenerate). Each call builds a fresh, immutable catalog; it
// is safe for concurrent use.
func Catalog(opts ...Option) executor.Catalog {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c := &catalog{byID: map[string]*builtinExecutor{}}
	for _, b := range []*builtinExecutor{newAggregateResults(), newGenerate(o, c)} {
		c.byID[b.info.ID] = b
	}
	return c
}

// Lookup implements executor.Catalog.
func (c *catalog) Lookup(id string) (executor.Handle, error) {
	b, ok := c.byID[id]
	if !ok {
		return nil, executor.NotFound(id)
	}
	return handle{b}, nil
}

// Registers implements executor.Registers: the built-ins are fixed at construction.
func (c *catalog) Registers(id string) bool {
	_, ok := c.byID[id]
	return ok
}

// List implements executor.Catalog.
func (c *catalog) List() []*executor.Info {
	out := make([]*executor.Info, 0, len(c.byID))
	for _, b := range c.byID {
		out = append(out, b.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// handle is a built-in's executor.Handle; built-ins hold no resources, so Release does nothing.
type handle struct{ b *builtinExecutor }

// Execute validates req.Inputs against the built-in's input schema unless req.Validated,
// then runs it.
func (h handle) Execute(ctx context.Context, req *executor.Request) (*executor.Response, error) {
	if s := h.b.info.Compiled; s != nil && !req.Validated {
		in := []byte(req.Inputs)
		if t := bytes.TrimSpace(in); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			in = []byte("{}")
		}
		if err := s.ValidateJSON(in); err != nil {
			return nil, errors.New(schema.InputsFailed(taskID(req), err))
		}
	}
	return h.b.run(ctx, req)
}
func (h handle) Info() *executor.Info { return h.b.info }
func (h handle) Release()             {}

// mustCompile compiles a built-in's own JSON Schema; a failure is a programming error in
// this package, caught by its tests.
func mustCompile(id, doc string) *schema.Schema {
	s, err := schema.Compile(id+".input.json", []byte(doc), schema.Draft2020)
	if err != nil {
		panic(fmt.Sprintf("builtin %s: input schema does not compile: %v", id, err))
	}
	return s
}
