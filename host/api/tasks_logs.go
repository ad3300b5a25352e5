package api

import (
	"context"
	"fmt"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// defaultLogLimit is how many lines tasks.logs returns without a limit.
const defaultLogLimit = 200

// logsParams are the params of tasks.logs.
type logsParams struct {
	idParams
	// After is the cursor: only lines with a larger seq (0: from the oldest kept).
	After *int64 `json:"after"`
	// Limit bounds the lines returned, 1..store.MaxLogRead (default defaultLogLimit).
	Limit *int `json:"limit"`
}

// logsResult is the result of tasks.logs.
type logsResult struct {
	TaskID string          `json:"task_id"`
	Status task.Status     `json:"status"`
	Lines  []store.LogLine `json:"lines"`
	// Next is the cursor of the following call: the last line's seq, or the request's
	// after when no line was returned.
	Next int64 `json:"next_after"`
	// More says whether lines after Next are stored already.
	More bool `json:"more"`
}

// tasksLogs answers tasks.logs: a page of a task's stored log lines (docs/api.md), with
// the visibility rules of tasks.get.
func (s *Server) tasksLogs(ctx context.Context, c *call) (any, error) {
	var p logsParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	id, err := p.one()
	if err != nil {
		return nil, err
	}
	after, limit := int64(0), defaultLogLimit
	if p.After != nil {
		if after = *p.After; after < 0 {
			return nil, apferr.InvalidParam("after", "must not be negative", "a seq of a previous answer, or 0", after)
		}
	}
	if p.Limit != nil {
		if limit = *p.Limit; limit < 1 || limit > store.MaxLogRead {
			return nil, apferr.InvalidParam("limit", fmt.Sprintf("must be 1..%d", store.MaxLogRead), fmt.Sprintf("1..%d", store.MaxLogRead), limit)
		}
	}
	logs, ok := s.cfg.Store.(store.TaskLogs)
	if !ok {
		return nil, fmt.Errorf("tasks.logs: this server's store keeps no task logs")
	}
	t, err := s.visibleTask(ctx, id)
	if err != nil {
		return nil, err
	}
	lines, more, err := logs.Logs(ctx, t.ID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("tasks.logs of %s: %w", t.ID, err)
	}
	res := logsResult{TaskID: t.ID, Status: t.Status, Lines: lines, Next: after, More: more}
	if res.Lines == nil {
		res.Lines = []store.LogLine{}
	}
	if n := len(lines); n > 0 {
		res.Next = lines[n-1].Seq
	}
	return res, nil
}

// logFrame is the SSE frame of a task_log event: the task's lines just stored.
func logFrame(ev engine.Event, protocol string) map[string]any {
	return map[string]any{"type": "task_log", "protocol": protocol, "task_id": ev.TaskID, "root_task_id": ev.RootID,
		"timestamp": task.FormatTime(ev.Time), "lines": ev.Logs, "final": false}
}
