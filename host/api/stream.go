package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/task"
)

// streamResponse is what tasks.execute returns with use_streaming: the HTTP layer
// answers with Server-Sent Events instead of a JSON body.
type streamResponse struct {
	first  map[string]any
	tg     target
	done   <-chan struct{} // closed when the run has ended
	events <-chan engine.Event
	unsub  func()
	// ended: the run ended before the call (a repeat of a keyed execute): the stream
	// holds the response, the final frame and stream_end.
	ended bool
}

// sse writes Server-Sent Events frames.
type sse struct {
	c   echo.Context
	err error
}

// startSSE sends the stream headers and lifts the write deadline for this response.
func startSSE(c echo.Context) *sse {
	h := c.Response().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	liftWriteDeadline(c)
	c.Response().WriteHeader(http.StatusOK)
	c.Response().Flush()
	return &sse{c: c}
}

// liftWriteDeadline removes the server's write timeout for a long response.
func liftWriteDeadline(c echo.Context) {
	_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Time{})
}

// data writes one "data: <json>" frame.
func (w *sse) data(v any) {
	if w.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		w.err = err
		return
	}
	if _, err := fmt.Fprintf(w.c.Response(), "data: %s\n\n", b); err != nil {
		w.err = err
		return
	}
	w.c.Response().Flush()
}

// comment writes a keep-alive comment.
func (w *sse) comment(text string) {
	if w.err != nil {
		return
	}
	if _, err := fmt.Fprintf(w.c.Response(), ": %s\n\n", text); err != nil {
		w.err = err
		return
	}
	w.c.Response().Flush()
}

// eventFrame converts an engine event to the reference's frame shape, or nil for events
// the reference does not emit (run_start).
func eventFrame(ev engine.Event, protocol string) map[string]any {
	var typ string
	switch ev.Type {
	case engine.EventTaskProgress:
		typ = "progress"
	case engine.EventTaskStatus:
		switch ev.Status {
		case task.InProgress:
			typ = "task_start"
		case task.Completed:
			typ = "task_completed"
		case task.Failed, task.Cancelled:
			typ = "task_failed"
		default:
			typ = "progress"
		}
	case engine.EventTaskLog:
		return logFrame(ev, protocol)
	case engine.EventLost:
		return map[string]any{"type": "events_lost", "protocol": protocol, "root_task_id": ev.RootID, "lost": ev.Lost,
			"timestamp": task.FormatTime(ev.Time), "final": false,
			"message": fmt.Sprintf("this stream fell behind and lost %d events: tasks.tree has the current state", ev.Lost)}
	default:
		return nil
	}
	f := map[string]any{"type": typ, "protocol": protocol, "task_id": ev.TaskID, "root_task_id": ev.RootID,
		"status": ev.Status, "progress": ev.Progress, "timestamp": task.FormatTime(ev.Time), "final": false}
	if ev.Error != "" {
		f["error"] = ev.Error
		f["message"] = ev.Error
	}
	if ev.Status == task.Cancelled {
		f["message"] = "Task was cancelled"
	}
	if ev.Task != nil && ev.Status == task.Completed {
		f["result"] = ev.Task.Result
	}
	if ev.Task != nil && ev.Task.Name != "" {
		f["name"] = ev.Task.Name
	}
	return f
}

// finalFrame describes the end of a run from the stored root.
func (s *Server) finalFrame(ctx context.Context, tg target, protocol string) map[string]any {
	r := s.finalResult(ctx, tg)
	f := map[string]any{"type": "final", "protocol": protocol, "task_id": tg.taskID, "root_task_id": tg.rootID,
		"status": r["status"], "progress": r["progress"], "result": r["result"], "message": r["message"],
		"timestamp": task.FormatTime(s.cfg.Now()), "final": true}
	if e, ok := r["error"]; ok {
		f["error"] = e
	}
	return f
}

// follow writes the frames of a run's events on an SSE stream until the run ends (see
// followRun), then the final frame and stream_end. A server shutdown ends the stream with
// an error frame and stream_end; a client that left gets nothing more.
func (s *Server) follow(c echo.Context, w *sse, tg target, done <-chan struct{}, events <-chan engine.Event) {
	ctx := c.Request().Context()
	end := s.followRun(follower{rootID: tg.rootID, events: events, done: done, leave: ctx.Done(),
		emit:      func(f map[string]any) bool { w.data(f); return w.err == nil },
		keepAlive: func() bool { w.comment("keepalive"); return w.err == nil }})
	switch end {
	case shuttingDown:
		w.data(map[string]any{"type": "error", "protocol": "jsonrpc", "root_task_id": tg.rootID,
			"message": s.shutdownMessage(), "timestamp": task.FormatTime(s.cfg.Now())})
	case runEnded:
		w.data(s.finalFrame(context.WithoutCancel(ctx), tg, "jsonrpc"))
	case followerLeft:
		return
	}
	w.data(map[string]any{"type": "stream_end", "root_task_id": tg.rootID})
}

// rootRunning reports whether a run of the tree rooted at rootID is in progress. When
// the engine cannot tell (in a cluster, the database is unreachable), it answers yes:
// a follower keeps following and asks again, rather than ending a stream of a run that
// goes on. It logs that it cannot tell, every time when warned is nil, else the first
// time for the caller that asks again and again.
func (s *Server) rootRunning(ctx context.Context, rootID string, warned *bool) bool {
	active, err := s.cfg.Engine.RunActive(ctx, rootID)
	if err != nil {
		if warned == nil || !*warned {
			s.log.Warn("cannot tell whether a followed run is in progress; still following", "root", rootID, "error", err)
		}
		if warned != nil {
			*warned = true
		}
		return true
	}
	return active
}

// serveStream answers a streaming tasks.execute: the JSON-RPC response first, then the
// run's events.
func (s *Server) serveStream(c echo.Context, id json.RawMessage, sr *streamResponse) error {
	defer sr.unsub()
	w := startSSE(c)
	first, err := json.Marshal(sr.first)
	if err != nil {
		return err
	}
	w.data(&jsonrpc.Response{ID: id, Result: first})
	if sr.ended {
		w.data(s.finalFrame(c.Request().Context(), sr.tg, "jsonrpc"))
		w.data(map[string]any{"type": "stream_end", "root_task_id": sr.tg.rootID})
		return nil
	}
	s.follow(c, w, sr.tg, sr.done, sr.events)
	return nil
}

// handleEvents serves GET /events?root_task_id=…: the events of a run started by anyone,
// as SSE. A tree that is not running gets its final frame at once.
func (s *Server) handleEvents(c echo.Context) error {
	id := c.QueryParam("root_task_id")
	if id == "" {
		id = c.QueryParam("task_id")
	}
	if id == "" {
		writeREST(c, apferr.InvalidParam("root_task_id", "the root_task_id query parameter is required", "a task id", nil))
		return nil
	}
	ctx := c.Request().Context()
	t, err := s.visibleTask(ctx, id)
	if err != nil {
		writeREST(c, err)
		return nil
	}
	root, err := s.rootOf(ctx, t)
	if err != nil {
		writeREST(c, err)
		return nil
	}
	tg := target{rootID: root.ID, taskID: root.ID}
	events, unsub := s.cfg.Engine.Subscribe(root.ID)
	defer unsub()
	w := startSSE(c)
	if !s.rootRunning(ctx, root.ID, nil) {
		w.data(s.finalFrame(ctx, tg, "jsonrpc"))
		w.data(map[string]any{"type": "stream_end", "root_task_id": root.ID})
		return nil
	}
	s.follow(c, w, tg, nil, events)
	return nil
}
