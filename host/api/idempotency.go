package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/idempotency"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/submit"
)

// DefaultKeyTTL is how long an idempotency key holds when Config.KeyTTL is 0.
const DefaultKeyTTL = idempotency.DefaultTTL

const keyParam = idempotency.Param

// createKey returns the idempotency_key of tasks.create params: a member of the
// top-level object (the {"tasks": [...]} form, or the single task object, where it is
// not a task field). An array has none. given is false when there is no key; a key that
// is not a string is refused naming the field.
func createKey(params []byte) (key string, given bool, err error) {
	params = bytes.TrimLeft(params, " \t\r\n")
	if len(params) == 0 || params[0] != '{' {
		return "", false, nil
	}
	// A map, not a struct: the member's name matches exactly (encoding/json matches
	// struct fields case-insensitively, and the task decoder does not).
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(params, &obj); err != nil {
		return "", false, apferr.InvalidParam("", err.Error(), nil, nil)
	}
	raw, ok := obj[keyParam]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &key); err != nil || raw[0] != '"' {
		return "", false, apferr.InvalidParam(keyParam, "must be a string", "string", string(raw))
	}
	return key, true, nil
}

// newKey checks key and computes the digest of the submission data for kind. The scope
// is the caller: its subject with authentication (so one user's keys never meet
// another's), "" without.
func (s *Server) newKey(ctx context.Context, key, kind string, data []byte) (idempotency.Key, error) {
	if s.cfg.Keys == nil {
		return idempotency.Key{}, apferr.InvalidParam(keyParam, "this server records no idempotency keys", "no idempotency_key", key)
	}
	cl := callerFrom(ctx)
	scope := ""
	if cl.authn {
		scope = cl.sub
	}
	return idempotency.NewKey(scope, key, kind, data, cl.ns)
}

// submitKeyed is submitTasks with an idempotency key (idempotency.Submitter.Submit):
// it returns the stored tree, or the record of the submission made first with the key.
func (s *Server) submitKeyed(ctx context.Context, data []byte, k idempotency.Key) (*submit.Tree, *store.KeyRecord, error) {
	sub := idempotency.Submitter{Keys: s.cfg.Keys, TTL: s.cfg.KeyTTL, Now: s.cfg.Now}
	tree, rec, err := sub.Submit(ctx, k, func(ctx context.Context) (*submit.Tree, error) {
		return s.prepareTree(ctx, data)
	})
	if tree != nil {
		s.treeCreated(ctx, tree)
	}
	return tree, rec, err
}

// replayCreate answers a repeated tasks.create: the tasks of the tree the key created,
// as stored now, in the shape of the first answer (one task alone, several as an
// array). A tree deleted since answers TaskNotFound naming its root.
func (s *Server) replayCreate(ctx context.Context, rec store.KeyRecord) (any, error) {
	tasks, err := s.cfg.Store.Tree(ctx, rec.TreeID)
	if err != nil {
		return nil, fmt.Errorf("read the tree of idempotency key %q: %w", rec.Key, err)
	}
	if len(tasks) == 0 {
		return nil, idempotency.Deleted(rec)
	}
	if rec.Count == 1 {
		return tasks[0], nil
	}
	return tasks, nil
}

// purgeEvery bounds the interval of purgeLoop.
const purgeEvery = 10 * time.Minute

// purgeLoop deletes expired idempotency keys now and then every min(KeyTTL, 10 min)
// until the server shuts down.
func (s *Server) purgeLoop() {
	defer s.background.Done()
	every := min(s.cfg.KeyTTL, purgeEvery)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.purgeKeys()
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
	}
}

// purgeKeys deletes the idempotency keys expired now.
func (s *Server) purgeKeys() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := s.cfg.Keys.PurgeKeys(ctx, s.cfg.Now())
	if err != nil {
		s.log.Warn("purging expired idempotency keys failed; next try later", "error", err)
		return
	}
	if n > 0 {
		s.log.Debug("purged expired idempotency keys", "count", n)
	}
}

// executeKeyed is tasks.execute of inline tasks with an idempotency key. The first call
// stores the tree with the key and runs it. A repeat (same key, same content) creates
// nothing: when no run of the tree has started (the server stopped between storing the
// tree and starting it) it starts it, as the first call would have; when the run is in
// progress it follows it, and when it has ended it answers its final result
// (followRunning). Both calls start the run with engine.RunOptions.OnlyUnstarted, so a
// run that ended is never started again.
func (s *Server) executeKeyed(ctx context.Context, p executeParams, key string) (any, error) {
	if len(p.Tasks) == 0 || string(p.Tasks) == "null" {
		return nil, apferr.InvalidParam(keyParam, "an idempotency_key applies to a submission (inline tasks); a run of a stored task_id is not deduplicated", "tasks with the key", key)
	}
	k, err := s.newKey(ctx, key, idempotency.KindExecute, p.Tasks)
	if err != nil {
		return nil, err
	}
	tree, rec, err := s.submitKeyed(ctx, p.Tasks, k)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		// The run starts from the tree just stored (engine.RunOptions.Created).
		return s.execute(ctx, p, target{rootID: tree.RootID(), taskID: tree.RootID(), created: tree}, true)
	}
	if _, err := s.cfg.Store.Get(ctx, rec.RootID); apferr.CodeOf(err) == apferr.TaskNotFound {
		return nil, idempotency.Deleted(*rec)
	}
	return s.execute(ctx, p, target{rootID: rec.RootID, taskID: rec.RootID, replay: rec}, true)
}

// followRunning answers a tasks.execute of a tree whose run another call started (an
// earlier call with the same idempotency key), starting nothing: a run that has ended
// answers its final result (with use_streaming, as a stream of that answer, the final
// frame and stream_end; webhook_config sends nothing); a run in progress is waited for (plain), streamed (use_streaming) or answered
// "started" without sending webhooks (webhook_config: the first call's deliveries, if
// any, go on).
func (s *Server) followRunning(ctx context.Context, p executeParams, tg target) (any, error) {
	events, unsub := s.cfg.Engine.Subscribe(tg.rootID)
	if !s.rootRunning(ctx, tg.rootID, nil) {
		unsub()
		res := s.finalResult(ctx, tg)
		if p.UseStreaming {
			res["streaming"] = true
			return &streamResponse{first: res, tg: tg, unsub: func() {}, ended: true}, nil
		}
		return res, nil
	}
	switch {
	case p.UseStreaming:
		return &streamResponse{first: startedAnswer(tg), tg: tg, events: events, unsub: unsub}, nil
	case p.WebhookConfig != nil:
		unsub()
		a := startedAnswer(tg)
		a["message"] = "Task execution was started by an earlier call with this idempotency_key; this call sends no webhook"
		return a, nil
	}
	done, leave := make(chan struct{}), make(chan struct{})
	defer close(leave)
	go func() {
		defer close(done)
		defer unsub()
		s.followRun(follower{rootID: tg.rootID, events: events, leave: leave, emit: func(map[string]any) bool { return true }})
	}()
	return s.awaitEnd(ctx, tg, done)
}
