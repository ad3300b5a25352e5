package api

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/schemas"
)

func (s *Server) systemHealth(ctx context.Context, _ *call) (any, error) {
	return map[string]any{"status": "healthy", "message": "apflow is running", "version": s.cfg.Version,
		"timestamp": task.FormatTime(s.cfg.Now()), "running_tasks_count": len(s.cfg.Engine.Running())}, nil
}

// executorView is one executor as system.executors lists it.
type executorView struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Version      string          `json:"version,omitempty"`
	Tags         []string        `json:"tags"`
	Kind         string          `json:"kind"`
	Extension    string          `json:"extension"`
	Hash         string          `json:"hash,omitempty"`
	Capabilities []string        `json:"capabilities,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	OutputSchema json.RawMessage `json:"output_schema"`
}

func viewExecutor(in *executor.Info) executorView {
	v := executorView{ID: in.ID, Name: in.Name, Description: in.Description, Version: in.Version, Tags: in.Tags,
		Kind: in.Kind, Extension: in.Kind, Hash: in.Hash, Capabilities: in.Capabilities,
		InputSchema: in.InputSchema, OutputSchema: in.OutputSchema}
	if v.Name == "" {
		v.Name = in.ID
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if len(v.InputSchema) == 0 {
		v.InputSchema = json.RawMessage("null")
	}
	if len(v.OutputSchema) == 0 {
		v.OutputSchema = json.RawMessage("null")
	}
	return v
}

func (s *Server) systemExecutors(context.Context, *call) (any, error) {
	infos := s.cfg.Catalog.List()
	out := make([]executorView, 0, len(infos))
	for _, in := range infos {
		out = append(out, viewExecutor(in))
	}
	return map[string]any{"executors": out, "count": len(out), "restricted": false}, nil
}

// handleOpenAPI serves schemas/openapi.json, the document of the non-JSON-RPC routes (the
// JSON-RPC methods' params are at GET /tasks/methods).
func (s *Server) handleOpenAPI(c echo.Context) error {
	b, err := schemas.FS.ReadFile("openapi.json")
	if err != nil {
		return fmt.Errorf("api: embedded openapi.json: %w", err)
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

func (s *Server) handleHealthz(c echo.Context) error {
	body := map[string]any{"status": "ok", "version": s.cfg.Version, "running": len(s.cfg.Engine.Running()),
		"role": s.role()}
	if s.cfg.Cluster != nil {
		body["node_id"] = s.cfg.Cluster.NodeID()
	}
	return writeJSON(c, http.StatusOK, body)
}

// handleMethods serves GET /tasks/methods: every method with its params schema.
func (s *Server) handleMethods(c echo.Context) error {
	type entry struct {
		Method            string            `json:"method"`
		Name              string            `json:"name"`
		Description       string            `json:"description"`
		Category          string            `json:"category"`
		Endpoint          string            `json:"endpoint"`
		Tags              []string          `json:"tags"`
		InputSchema       json.RawMessage   `json:"input_schema"`
		SupportsStreaming bool              `json:"supports_streaming"`
		Examples          []json.RawMessage `json:"examples"`
	}
	byCat := map[string][]entry{}
	for _, name := range slices.Sorted(maps.Keys(s.methods)) {
		m := s.methods[name]
		ex := m.examples
		if ex == nil {
			ex = []json.RawMessage{}
		}
		byCat[m.category] = append(byCat[m.category], entry{Method: m.name, Name: m.name, Description: m.description,
			Category: m.category, Endpoint: m.endpoint, Tags: m.tags, InputSchema: m.schemaJSON,
			SupportsStreaming: m.streaming, Examples: ex})
	}
	return writeJSON(c, http.StatusOK, map[string]any{
		"total":      len(s.methods),
		"categories": categoryOrder,
		"methods":    byCat,
		"protocols": map[string]any{
			"jsonrpc": map[string]any{"endpoints": []string{endpointTasks, endpointSystem}, "version": "2.0"},
			"a2a":     map[string]any{"endpoint": "/", "agent_card": "/.well-known/agent-card.json", "methods": []string{"message/send"}},
			"sse":     map[string]any{"execute": "tasks.execute with use_streaming: true", "follow": "GET /events?root_task_id=ID"},
		},
	})
}
