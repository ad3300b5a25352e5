package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/task"
)

// handleAgentCard serves the A2A agent card: the server and its executors as skills.
func (s *Server) handleAgentCard(c echo.Context) error {
	base := s.cfg.BaseURL
	if base == "" {
		scheme := "http"
		if c.Request().TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + c.Request().Host
	}
	skills := []map[string]any{{
		"id": "tasks.execute", "name": "Execute a task tree",
		"description": "Validate, store and run a task tree sent as a data part {\"tasks\": [...]}",
		"tags":        []string{"execution"}, "inputModes": []string{"data"}, "outputModes": []string{"data"},
	}}
	for _, in := range s.cfg.Catalog.List() {
		name := in.Name
		if name == "" {
			name = in.ID
		}
		tags := in.Tags
		if tags == nil {
			tags = []string{}
		}
		skill := map[string]any{"id": in.ID, "name": name, "description": in.Description, "tags": tags,
			"inputModes": []string{"data"}, "outputModes": []string{"data"}}
		if len(in.InputSchema) > 0 {
			skill["input_schema"] = in.InputSchema
		}
		skills = append(skills, skill)
	}
	return writeJSON(c, http.StatusOK, map[string]any{
		"name": "apflow", "description": "apflow-wasm task orchestrator: task trees run by WebAssembly executors",
		"url": base + "/", "version": s.cfg.Version, "protocolVersion": "0.2.5",
		"capabilities":       map[string]any{"streaming": false, "pushNotifications": false, "push_notifications": false},
		"defaultInputModes":  []string{"data"},
		"defaultOutputModes": []string{"data"},
		"skills":             skills,
		"securitySchemes":    s.securitySchemes(),
	})
}

func (s *Server) securitySchemes() map[string]any {
	if s.verifier == nil {
		return map[string]any{}
	}
	return map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
}

// a2aMessage is the part of an A2A message/send request apflow reads.
type a2aMessage struct {
	Message struct {
		MessageID string `json:"messageId"`
		ContextID string `json:"contextId"`
		Parts     []struct {
			Kind string          `json:"kind"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"parts"`
		Metadata map[string]any `json:"metadata"`
	} `json:"message"`
	Metadata map[string]any `json:"metadata"`
}

// handleA2A serves POST /: A2A JSON-RPC with message/send carrying a tasks data part.
func (s *Server) handleA2A(c echo.Context) error {
	body, err := s.readRequest(c)
	if err != nil {
		return err
	}
	items, batch, derr := jsonrpc.Decode(body)
	if derr != nil {
		return writeJSON(c, http.StatusOK, &jsonrpc.Response{Error: derr})
	}
	if batch {
		return writeJSON(c, http.StatusOK, &jsonrpc.Response{Error: jsonrpc.NewError(apferr.InvalidRequest, "Invalid Request", "batches are not supported on the A2A endpoint")})
	}
	it := items[0]
	if it.Err != nil {
		return writeJSON(c, http.StatusOK, &jsonrpc.Response{ID: it.ID, Error: it.Err})
	}
	liftWriteDeadline(c)
	res, err := s.a2aInvoke(c.Request().Context(), it.Req)
	if it.Req.Notification() {
		return c.NoContent(http.StatusNoContent)
	}
	return writeJSON(c, http.StatusOK, s.respond(it.Req, res, err))
}

func (s *Server) a2aInvoke(ctx context.Context, req *jsonrpc.Request) (any, error) {
	if req.Method != "message/send" {
		return nil, apferr.New(apferr.MethodNotFound, "Method not found").
			WithData(fmt.Sprintf("A2A method %s is not supported; use message/send here or the native JSON-RPC API on /tasks", req.Method))
	}
	// The caller holds req until the call ends, and the call waits for the run: the
	// params, the submission, are taken from it (as invoke does).
	params := req.Params
	req.Params = nil
	sub, err := decodeA2A(params)
	if err != nil {
		return nil, err
	}
	tg, err := s.resolveTarget(ctx, "", sub.tasks)
	if err != nil {
		return nil, err
	}
	defer tg.release()
	count, contextID := sub.count, sub.contextID // sub (the JSON) is not used past here
	created := tg.created
	tg.created = nil // the run holds it until its graph is built, and no longer
	done, _, _, ok, err := s.startRun(ctx, tg, engine.RunOptions{Created: created}, false)
	if err != nil {
		return nil, err
	}
	if ok {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closing:
		}
	}
	return s.a2aTask(ctx, tg, count, contextID)
}

// a2aSubmission is what a message/send submits: the tasks of its data parts as one JSON
// array, how many they are, and the message's context id for the answer.
type a2aSubmission struct {
	tasks     []byte
	count     int
	contextID string
}

// decodeA2A reads the params of a message/send. The decoded message is not returned:
// it holds a copy of every part's data, which the run that follows must not keep.
func decodeA2A(params json.RawMessage) (a2aSubmission, error) {
	var p a2aMessage
	if len(params) == 0 || decodeParams(params, &p) != nil {
		return a2aSubmission{}, apferr.InvalidParam("message", "params must be {\"message\": {\"parts\": [...]}}", "object", nil)
	}
	meta := p.Message.Metadata
	if meta == nil {
		meta = p.Metadata
	}
	if m, _ := meta["method"].(string); m != "" && m != "tasks.execute" && m != "execute_task_tree" {
		return a2aSubmission{}, apferr.InvalidParam("message.metadata.method", "only tasks.execute is available over A2A; use /tasks for other methods", "tasks.execute", m)
	}
	var all []json.RawMessage
	for i, part := range p.Message.Parts {
		if (part.Kind != "data" && part.Type != "data") || len(part.Data) == 0 {
			continue
		}
		tasks, err := tasksOfPart(part.Data)
		if err != nil {
			return a2aSubmission{}, apferr.InvalidParam(fmt.Sprintf("message.parts[%d].data", i), err.Error(), "{\"tasks\": [...]} or an array of tasks", nil)
		}
		all = append(all, tasks...)
	}
	if len(all) == 0 {
		return a2aSubmission{}, apferr.InvalidParam("message.parts", "no data part with tasks", "a data part {\"tasks\": [...]}", nil)
	}
	data, err := json.Marshal(all)
	if err != nil {
		return a2aSubmission{}, err
	}
	return a2aSubmission{tasks: data, count: len(all), contextID: p.Message.ContextID}, nil
}

// tasksOfPart reads a data part: {"tasks": [...]}, an array of tasks, or one task.
func tasksOfPart(data json.RawMessage) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	var arr []json.RawMessage
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &arr); err != nil {
			return nil, err
		}
		return arr, nil
	}
	var obj struct {
		Tasks []json.RawMessage `json:"tasks"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	if obj.Tasks != nil {
		return obj.Tasks, nil
	}
	return []json.RawMessage{data}, nil
}

// a2aTask is the A2A Task answering message/send.
func (s *Server) a2aTask(ctx context.Context, tg target, count int, contextID string) (any, error) {
	root, err := s.cfg.Store.Get(ctx, tg.rootID)
	if err != nil {
		return nil, err
	}
	state := "working"
	switch root.Status {
	case task.Completed:
		state = "completed"
	case task.Failed:
		state = "failed"
	case task.Cancelled:
		state = "canceled"
	case task.Pending:
		if root.Blocked() {
			state = "failed"
		}
	}
	now := task.FormatTime(s.cfg.Now())
	status := map[string]any{"state": state, "timestamp": now}
	if root.Error != "" {
		status["message"] = map[string]any{"kind": "message", "role": "agent", "messageId": task.NewID(),
			"parts": []map[string]any{{"kind": "text", "text": root.Error}}}
	}
	if contextID == "" {
		contextID = root.ID
	}
	meta := map[string]any{"protocol": "a2a", "root_task_id": root.ID}
	if root.UserID != "" {
		meta["user_id"] = root.UserID
	}
	return map[string]any{
		"id": task.NewID(), "contextId": contextID, "context_id": root.ID, "kind": "task", "status": status,
		"artifacts": []map[string]any{{"artifactId": task.NewID(), "parts": []map[string]any{{"kind": "data", "data": map[string]any{
			"status": root.Status, "progress": root.Progress, "root_task_id": root.ID, "task_count": count, "result": root.Result,
		}}}}},
		"metadata": meta,
	}, nil
}
