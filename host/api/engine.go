package api

import (
	"context"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/task"
)

// WrapEngine adapts an *engine.Engine to the Engine interface of the server.
func WrapEngine(e *engine.Engine) Engine { return engineAdapter{e} }

type engineAdapter struct{ e *engine.Engine }

func (a engineAdapter) Start(ctx context.Context, taskID string, opts RunOptions) (Run, error) {
	r, err := a.e.Start(ctx, taskID, engine.RunOptions{Full: opts.Full, TaskID: opts.TaskID})
	if err != nil {
		return nil, err
	}
	return runAdapter{r}, nil
}

func (a engineAdapter) Cancel(ctx context.Context, taskID, message string) ([]*task.Task, error) {
	return a.e.Cancel(ctx, taskID, message)
}

// Clone maps the API's clone options to the engine's.
func (a engineAdapter) Clone(ctx context.Context, taskID string, opts CloneOptions) ([]*task.Task, error) {
	return a.e.Clone(ctx, taskID, engine.CloneOptions{Shallow: !opts.Recursive, Mode: opts.OriginType,
		LinkTaskIDs: opts.LinkTaskIDs, ResetFields: opts.ResetFields, DryRun: !opts.Save, UserID: opts.UserID})
}

func (a engineAdapter) TreeCreated(ctx context.Context, rootID string) { a.e.TreeCreated(ctx, rootID) }

func (a engineAdapter) Subscribe(rootID string) (<-chan Event, func()) {
	in, unsub := a.e.Subscribe(rootID)
	out := make(chan Event, cap(in))
	go func() {
		defer close(out)
		for ev := range in {
			out <- convertEvent(ev)
		}
	}()
	return out, unsub
}

func convertEvent(ev engine.Event) Event {
	out := Event{Type: ev.Type, RootID: ev.RootID, TaskID: ev.TaskID, Status: ev.Status, Progress: ev.Progress,
		Error: ev.Error, Time: ev.Time, Task: ev.Task}
	if ev.Result != nil {
		r := convertResult(*ev.Result)
		out.Result = &r
	}
	return out
}

func convertResult(r engine.RunResult) RunResult {
	return RunResult{RootID: r.RootID, Status: r.Status, Root: r.Root, Counts: r.Counts, Blocked: r.Blocked,
		Duration: r.Duration, Interrupted: r.Interrupted, Err: r.Err}
}

func (a engineAdapter) Running() []RunInfo {
	rs := a.e.Running()
	out := make([]RunInfo, len(rs))
	for i, r := range rs {
		out[i] = RunInfo{RootID: r.RootID, TreeID: r.TreeID, TaskID: r.TaskID, StartedAt: r.StartedAt,
			Tasks: r.Tasks, Running: r.Running, Finished: r.Finished}
	}
	return out
}

type runAdapter struct{ r *engine.Run }

func (r runAdapter) Done() <-chan struct{} { return r.r.Done() }
func (r runAdapter) Result() RunResult     { return convertResult(r.r.Result()) }
