package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

type executeParams struct {
	TaskID        string          `json:"task_id"`
	ID            string          `json:"id"`
	Tasks         json.RawMessage `json:"tasks"`
	UseStreaming  bool            `json:"use_streaming"`
	WebhookConfig *webhookConfig  `json:"webhook_config"`
	Full          bool            `json:"full"`
	// IdempotencyKey, with inline tasks, makes a repeat of the call answer the first
	// call's run (docs/api.md "Idempotency keys").
	IdempotencyKey *string `json:"idempotency_key"`
}

// target is what a tasks.execute call runs: a task of a stored tree and that tree's root.
type target struct {
	rootID, taskID string
	// created is the tree of an inline submission as just stored: its run builds its
	// graph from it instead of reading the tree back (engine.RunOptions.Created).
	created store.Batch
	// release gives back what storing created to run reserved (engine.Engine.ToRun) if
	// the run's Start did not take it. resolveTarget's targets always have one (a no-op
	// for a stored target), and their callers defer it as `defer tg.release()`, which
	// holds the function alone: deferring a method of tg would hold a copy of tg, and
	// with it created, the whole submission, until the run ends.
	release func()
	// replay is the record of the keyed submission this call repeats; nil for a first
	// submission, or a call without idempotency_key.
	replay *store.KeyRecord
}

// answer returns the members every answer of a tasks.execute of tg starts with. The
// answers of a repeated keyed submission say so: idempotent_replay, and when the key's
// first submission was made (submitted_at).
func (tg target) answer(success bool) map[string]any {
	out := map[string]any{"success": success, "protocol": "jsonrpc", "root_task_id": tg.rootID, "task_id": tg.taskID}
	if tg.replay != nil {
		out["idempotent_replay"] = true
		out["submitted_at"] = tg.replay.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// resolveTarget creates inline tasks or finds the stored task, and its root. The caller
// calls the target's release once it started the run or gave up.
func (s *Server) resolveTarget(ctx context.Context, taskID string, inline json.RawMessage) (target, error) {
	if len(inline) > 0 && string(inline) != "null" {
		rootID, stored, release, err := s.submitToRun(ctx, inline)
		if err != nil {
			return target{}, err
		}
		return target{rootID: rootID, taskID: rootID, created: stored, release: release}, nil
	}
	if taskID == "" {
		return target{}, apferr.InvalidParam("task_id", "give task_id (a stored task) or tasks (an inline tree)", "task_id or tasks", nil)
	}
	t, err := s.visibleTask(ctx, taskID)
	if err != nil {
		return target{}, err
	}
	root, err := s.rootOf(ctx, t)
	if err != nil {
		return target{}, err
	}
	return target{rootID: root.ID, taskID: t.ID, release: func() {}}, nil
}

// rootOf climbs parent links to the root of t's tree.
func (s *Server) rootOf(ctx context.Context, t *task.Task) (*task.Task, error) {
	return store.RootOf(ctx, s.cfg.Store.Get, t)
}

// startRun subscribes to the tree's events (when asked) and starts the run; done is
// closed once the run has ended and its figures are in /metrics (see watchRun). An
// already-running tree returns ok=false and no error.
func (s *Server) startRun(ctx context.Context, tg target, opts engine.RunOptions, subscribe bool) (done <-chan struct{}, events <-chan engine.Event, unsub func(), ok bool, err error) {
	unsub = func() {}
	if subscribe {
		events, unsub = s.cfg.Engine.Subscribe(tg.rootID)
	}
	if tg.taskID != tg.rootID {
		opts.TaskID = tg.taskID
	}
	start := time.Now() // before the run: its first tasks may finish before Start returns
	run, err := s.cfg.Engine.Start(context.WithoutCancel(ctx), tg.taskID, opts)
	if err != nil {
		unsub()
		if apferr.CodeOf(err) == apferr.AlreadyExecuting {
			return nil, nil, func() {}, false, nil
		}
		return nil, nil, func() {}, false, err
	}
	return s.watchRun(run, start), events, unsub, true, nil
}

// refuseFrozenRerun refuses a full re-run of a tree holding links or archived tasks: a
// full re-run resets completed tasks, and links (which have no definition of their own)
// and archives are frozen (-32005).
func (s *Server) refuseFrozenRerun(ctx context.Context, tg target) error {
	root, err := s.cfg.Store.Get(ctx, tg.rootID)
	if err != nil {
		return err
	}
	frozen, err := store.FirstTask(ctx, s.cfg.Store, root.TreeID(), (*task.Task).Frozen)
	switch {
	case err != nil:
		return fmt.Errorf("load tree of %s: %w", tg.rootID, err)
	case frozen != nil:
		return apferr.New(apferr.InvalidTaskSchema, fmt.Sprintf("full re-run of %s refused: task %s is a%s %s (frozen); clone the tree in copy mode to re-run it",
			tg.taskID, frozen.ID, map[bool]string{true: "n", false: ""}[frozen.OriginType == task.OriginArchive], frozen.OriginType)).
			WithData(map[string]any{"task_id": frozen.ID, "origin_type": frozen.OriginType, "field": "full"})
	}
	return nil
}

// refuseFrozenTarget refuses a run of a link or an archived task that is not the root of
// its tree: such a run re-runs its target even when completed (docs/semantics.md rule 15),
// and links and archives never run (docs/semantics.md rule 16). A run of a frozen root is
// a whole-tree run, which leaves completed tasks alone, and is allowed.
func (s *Server) refuseFrozenTarget(ctx context.Context, tg target) error {
	if tg.taskID == tg.rootID {
		return nil
	}
	t, err := s.cfg.Store.Get(ctx, tg.taskID)
	if err != nil {
		return err
	}
	if t.OriginType != task.OriginLink && t.OriginType != task.OriginArchive {
		return nil
	}
	return apferr.New(apferr.InvalidTaskSchema, fmt.Sprintf("execution of task %s refused: it is a%s %s (frozen) and never runs; clone it in copy mode to run it again",
		t.ID, map[bool]string{true: "n", false: ""}[t.OriginType == task.OriginArchive], t.OriginType)).
		WithData(map[string]any{"task_id": t.ID, "origin_type": t.OriginType, "field": "task_id"})
}

func alreadyRunning(tg target) map[string]any {
	out := tg.answer(false)
	out["status"] = "already_running"
	out["message"] = fmt.Sprintf("Task tree %s is already running", tg.rootID)
	return out
}

func (s *Server) tasksExecute(ctx context.Context, c *call) (any, error) {
	var p executeParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	if p.UseStreaming && !c.single {
		return nil, apferr.InvalidParam("use_streaming", "streaming needs a single request with an id (not a batch or a notification)", false, true)
	}
	if p.WebhookConfig != nil {
		if err := p.WebhookConfig.check(s.cfg.WebhookAllowPrivate); err != nil {
			return nil, err
		}
	}
	id := p.TaskID
	if id == "" {
		id = p.ID
	}
	if p.IdempotencyKey != nil {
		return s.executeKeyed(ctx, p, *p.IdempotencyKey)
	}
	tg, err := s.resolveTarget(ctx, id, p.Tasks)
	if err != nil {
		return nil, err
	}
	defer tg.release()
	if err := s.refuseFrozenTarget(ctx, tg); err != nil {
		return nil, err
	}
	if p.Full {
		if err := s.refuseFrozenRerun(ctx, tg); err != nil {
			return nil, err
		}
	}
	return s.execute(ctx, p, tg, false)
}

// execute starts the run of tg and answers as tasks.execute does. A tree already
// running answers already_running. With keyed (the tree of a keyed submission, which
// a repeat of the call may have run already) the run starts only if no run of the tree
// ever started (engine.RunOptions.OnlyUnstarted); otherwise the run in progress or
// ended is answered as followRunning does.
func (s *Server) execute(ctx context.Context, p executeParams, tg target, keyed bool) (any, error) {
	subscribe := p.UseStreaming || p.WebhookConfig != nil
	opts := engine.RunOptions{Full: p.Full, OnlyUnstarted: keyed, Created: tg.created}
	tg.created = nil // the run holds it until its graph is built, and no longer
	done, events, unsub, ok, err := s.startRun(ctx, tg, opts, subscribe)
	if keyed && (errors.Is(err, engine.ErrStarted) || (err == nil && !ok)) {
		return s.followRunning(ctx, p, tg)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return alreadyRunning(tg), nil
	}
	if p.UseStreaming && p.WebhookConfig != nil {
		// Both: the stream owns the subscription; the webhook gets its own.
		wev, wunsub := s.cfg.Engine.Subscribe(tg.rootID)
		s.startWebhook(p.WebhookConfig, tg, done, wev, wunsub)
	} else if p.WebhookConfig != nil {
		s.startWebhook(p.WebhookConfig, tg, done, events, unsub)
	}
	started := startedAnswer(tg)
	if p.WebhookConfig != nil {
		started["webhook_url"] = p.WebhookConfig.URL
	}
	switch {
	case p.UseStreaming:
		return &streamResponse{first: started, tg: tg, done: done, events: events, unsub: unsub}, nil
	case p.WebhookConfig != nil:
		return started, nil
	}
	return s.awaitEnd(ctx, tg, done)
}

// startedAnswer is the first answer of a streaming or webhook tasks.execute.
func startedAnswer(tg target) map[string]any {
	out := tg.answer(true)
	out["status"], out["streaming"], out["message"] = "started", true, "Task execution started"
	return out
}

// awaitEnd waits for the end of a run (done closed) and answers its final result. In a
// cluster, a run this node stopped coordinating (its lease lost, the database out of
// reach) goes on elsewhere: the answer waits for its end there. A caller that goes away
// gets an error (the run goes on); a server shutting down answers the current status.
func (s *Server) awaitEnd(ctx context.Context, tg target, done <-chan struct{}) (any, error) {
	var poll <-chan time.Time
	warned := false
	for {
		select {
		case <-done:
			done = nil
		case <-poll:
		case <-ctx.Done():
			return nil, fmt.Errorf("tasks.execute of %s: %w (the run goes on)", tg.rootID, ctx.Err())
		case <-s.closing:
			res := s.finalResult(ctx, tg)
			res["message"] = s.shutdownMessage() + "; the status is the task's now"
			return res, nil
		}
		if s.cfg.Cluster == nil || !s.followedRunGoesOn(tg.rootID, &warned) {
			return s.finalResult(ctx, tg), nil
		}
		poll = time.After(runMovedPoll)
	}
}

// runMovedPoll is how often a tasks.execute waiting on a run that another node took over
// asks whether it has ended.
const runMovedPoll = time.Second

// shutdownMessage is what a caller still following a run hears when the server shuts
// down: tasks running may still end during the drain, and where the rest of the run goes
// on (docs/semantics.md, rule 18). A waiting tasks.execute adds that the status it
// answers is the task's at that moment.
func (s *Server) shutdownMessage() string {
	if s.cfg.Cluster != nil {
		return "server is shutting down: tasks running may still end during its drain, and the cluster's other nodes, or this one when it starts again, resume what is left of the run"
	}
	return "server is shutting down: tasks running may still end during its drain, and what is left of the run resumes when a server starts again on this data dir"
}

// finalResult is the answer of a finished tasks.execute: the real root id and the final
// status of the executed task.
func (s *Server) finalResult(ctx context.Context, tg target) map[string]any {
	out := tg.answer(true)
	t, err := s.cfg.Store.Get(ctx, tg.taskID)
	if err != nil {
		out["success"] = false
		out["status"] = "error"
		out["message"] = err.Error()
		return out
	}
	t = s.resolveLinks(ctx, []*task.Task{t})[0] // a link answers its original's outcome, as reads do
	out["status"] = t.Status
	out["progress"] = t.Progress
	out["result"] = t.Result
	if t.Error != "" {
		out["error"] = t.Error
	}
	switch t.Status {
	case task.Completed:
		out["message"] = "Task execution completed"
	case task.Failed:
		out["message"] = "Task execution failed: " + t.Error
	case task.Cancelled:
		out["message"] = "Task execution cancelled: " + t.Error
	case task.Pending:
		if t.Blocked() {
			out["message"] = "Task is blocked: " + strings.TrimPrefix(t.Error, task.BlockedPrefix)
		} else {
			out["message"] = "Task is pending: no run of its tree is in progress"
		}
	default:
		out["message"] = "Task execution in progress"
	}
	return out
}

// stringList accepts a JSON array of strings or one comma-separated string.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*l = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*l = append(*l, p)
			}
		}
		return nil
	}
	var arr []string
	if err := json.Unmarshal(b, &arr); err != nil {
		return err
	}
	*l = arr
	return nil
}

type cancelParams struct {
	TaskIDs      stringList `json:"task_ids"`
	ContextIDs   stringList `json:"context_ids"`
	TaskID       string     `json:"task_id"`
	Force        bool       `json:"force"`
	ErrorMessage string     `json:"error_message"`
}

// maxTaskIDs is the most task ids one tasks.cancel or tasks.running.status call takes
// (the largest tasks.list page): each costs a store lookup and an answer entry.
const maxTaskIDs = 1000

// checkIDCount refuses an empty or oversized id list, naming task_ids.
func checkIDCount(ids []string) error {
	if len(ids) == 0 {
		return apferr.InvalidParam("task_ids", "give task_ids (a list or a comma-separated string)", "at least one task id", nil)
	}
	if len(ids) > maxTaskIDs {
		return apferr.InvalidParam("task_ids", fmt.Sprintf("%d task ids given; at most %d per call", len(ids), maxTaskIDs),
			fmt.Sprintf("at most %d task ids", maxTaskIDs), len(ids))
	}
	return nil
}

func (p cancelParams) ids() []string {
	ids := append([]string(nil), p.TaskIDs...)
	ids = append(ids, p.ContextIDs...)
	if p.TaskID != "" {
		ids = append(ids, p.TaskID)
	}
	return ids
}

func (s *Server) tasksCancel(ctx context.Context, c *call) (any, error) {
	var p cancelParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	ids := p.ids()
	if err := checkIDCount(ids); err != nil {
		return nil, err
	}
	ids = callerFrom(ctx).qualifyAll(ids)
	msg := p.ErrorMessage
	if msg == "" {
		msg = "Cancelled by user"
		if p.Force {
			msg = "Force cancelled by user"
		}
	}
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		r := map[string]any{"task_id": id, "force": p.Force}
		out = append(out, r)
		t, err := s.visibleTask(ctx, id)
		if err != nil {
			r["status"], r["message"] = "error", err.Error()
			continue
		}
		if t.Status.Terminal() {
			r["status"], r["message"] = "failed", fmt.Sprintf("Task already %s", t.Status)
			continue
		}
		changed, err := s.cfg.Engine.Cancel(ctx, t.ID, msg)
		if err != nil {
			r["status"], r["message"] = "error", err.Error()
			continue
		}
		ids := make([]string, len(changed))
		for i, x := range changed {
			ids[i] = x.ID
		}
		r["status"], r["message"], r["cancelled_count"], r["cancelled_task_ids"] = "cancelled", msg, len(changed), ids
	}
	return out, nil
}

type runningParams struct {
	UserID     string     `json:"user_id"`
	Limit      int        `json:"limit"`
	TaskIDs    stringList `json:"task_ids"`
	ContextIDs stringList `json:"context_ids"`
}

// visibleRuns returns the runs in progress whose root the caller sees (and that belong
// to user when not empty), with their roots.
func (s *Server) visibleRuns(ctx context.Context, user string) ([]engine.RunInfo, []*task.Task) {
	cl := callerFrom(ctx)
	var infos []engine.RunInfo
	var roots []*task.Task
	for _, r := range s.cfg.Engine.Running() {
		t, err := s.cfg.Store.Get(ctx, r.RootID)
		if err != nil || !cl.sees(t.UserID) || (user != "" && t.UserID != user) {
			continue
		}
		infos = append(infos, r)
		roots = append(roots, t)
	}
	return infos, roots
}

func (s *Server) runningList(ctx context.Context, c *call) (any, error) {
	var p runningParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	_, roots := s.visibleRuns(ctx, s.userFilter(ctx, p.UserID))
	if len(roots) > p.Limit {
		roots = roots[:p.Limit]
	}
	if roots == nil {
		roots = []*task.Task{}
	}
	return roots, nil
}

func (s *Server) runningCount(ctx context.Context, c *call) (any, error) {
	var p runningParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	user := s.userFilter(ctx, p.UserID)
	infos, _ := s.visibleRuns(ctx, user)
	out := map[string]any{"count": len(infos)}
	if user != "" {
		out["user_id"] = user
	}
	return out, nil
}

func (s *Server) runningStatus(ctx context.Context, c *call) (any, error) {
	var p runningParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	ids := append(append([]string(nil), p.TaskIDs...), p.ContextIDs...)
	if err := checkIDCount(ids); err != nil {
		return nil, err
	}
	ids = callerFrom(ctx).qualifyAll(ids)
	running := map[string]bool{}
	for _, r := range s.cfg.Engine.Running() {
		running[r.TreeID] = true
		running[r.RootID] = true
	}
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		t, err := s.visibleTask(ctx, id)
		if err != nil {
			out = append(out, map[string]any{"task_id": id, "context_id": id, "status": "not_found",
				"progress": 0, "error": nil, "is_running": false, "started_at": nil, "updated_at": nil})
			continue
		}
		var errv any
		if t.Error != "" {
			errv = t.Error
		}
		out = append(out, map[string]any{"task_id": t.ID, "context_id": t.ID, "name": t.Name, "status": t.Status,
			"progress": t.Progress, "error": errv, "is_running": running[t.TreeID()] && !t.Status.Terminal(),
			"started_at": task.FormatTime(t.StartedAt), "updated_at": task.FormatTime(t.UpdatedAt)})
	}
	return out, nil
}

// watchRun records the run's duration (since start, taken before the run started) when
// it ends, and returns what callers should wait on: a channel closed once the run ended
// and its duration is in /metrics, so a client that saw the end also sees it. The
// executors' latencies are in already: the engine reports each call as it ends
// (Engine.ObserveExecutors).
func (s *Server) watchRun(run *engine.Run, start time.Time) <-chan struct{} {
	done := make(chan struct{})
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		select {
		case <-run.Done():
		case <-s.closing:
			// Shutting down: do not hold Shutdown for the run; just forward its end.
			go func() { <-run.Done(); close(done) }()
			return
		}
		defer close(done)
		s.metrics.observeRun(string(run.Result().Status), time.Since(start))
	}()
	return done
}
