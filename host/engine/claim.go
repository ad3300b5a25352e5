package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// The claimer (cluster mode): while this node has free execution slots it claims queued
// tasks of any tree, highest priority then oldest first cluster-wide, and executes each
// on its own goroutine through the same pipeline as a single-node run (Engine.execute:
// pre-hooks, input validation, the executor). The outcome is written by Finish, fenced
// by the claim's token: a claim lost meanwhile (the node was paused past its lease and
// the task was claimed again elsewhere) writes nothing. A slot is free again only once
// the outcome is committed.

// claimPoll is how often the claimer looks for queued tasks when no notice woke it.
const claimPoll = 500 * time.Millisecond

// claimLoop runs until ctx ends (Close).
func (e *Engine) claimLoop(ctx context.Context) {
	m := e.m
	defer m.done.Done()
	t := time.NewTicker(claimPoll)
	defer t.Stop()
	for {
		// Slots are reserved first (the coordinators of this node take slots too), then
		// as many tasks claimed; unused reservations are given back.
		free := 0
		for !e.isClosing() && e.trySlot() {
			free++
		}
		if free > 0 {
			cctx, cancel := context.WithTimeout(ctx, m.clusterTimeout())
			claims, err := m.d.Claim(cctx, free)
			cancel()
			if err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("claiming tasks failed; retrying", "error", err)
			}
			for _, c := range claims {
				e.startClaim(c)
			}
			for range free - len(claims) {
				<-e.sem
			}
			if len(claims) == free {
				continue // more may be queued
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-m.claimWake:
		case <-t.C:
		}
	}
}

// startClaim registers a claimed task and executes it on a worker goroutine (workers).
func (e *Engine) startClaim(c cluster.Claim) {
	ctx, cancel := context.WithCancel(e.killCtx)
	x := &execution{claim: c, cancel: cancel}
	e.m.mu.Lock()
	e.m.claims[c.Task.ID] = x
	e.m.mu.Unlock()
	e.events.publishTask(c.RootID, c.Task)
	e.m.done.Add(1)
	e.workers.run(func() { e.runClaim(ctx, x) })
}

// runClaim executes a claimed task and writes its outcome.
func (e *Engine) runClaim(ctx context.Context, x *execution) {
	m := e.m
	defer m.done.Done()
	c := x.claim
	t := c.Task
	out := &outcome{inputs: t.Inputs}
	h, lookupErr := e.lookup(t.ID, t.Method())
	e.run1(ctx, c.RootID, t, h, lookupErr, out)
	e.logs.flush(ctx, t.ID) // the attempt's lines are stored before its outcome
	x.cancel()
	x.writing.Store(true)
	err := e.writeOutcome(x.claim, out)
	switch {
	case errors.Is(err, cluster.ErrFenced):
		e.discarded(t.ID)
	case err != nil:
		e.cfg.Logger.Error("writing a claimed task's outcome failed; its claim expires and it runs again", "task", t.ID, "error", err)
	}
	m.mu.Lock()
	if m.claims[t.ID] == x { // not a later claim of the same task
		delete(m.claims, t.ID)
	}
	m.mu.Unlock()
	<-e.sem
	poke(m.claimWake)
}

// lookup resolves executor method for task id; the error is the task's.
func (e *Engine) lookup(id, method string) (executor.Handle, error) {
	if method == "" {
		//lint:ignore ST1005 apflow's task error text, kept verbatim for its clients
		return nil, fmt.Errorf("Executor ID not specified for task %s (set schemas.method or params.executor_id)", id)
	}
	h, err := e.cfg.Catalog.Lookup(method)
	if err != nil {
		//lint:ignore ST1005 apflow's task error text, kept verbatim for its clients
		return nil, fmt.Errorf("Executor '%s' could not be loaded for task %s: %w", method, id, err)
	}
	return h, nil
}

// claimOf returns the claim of a task executing here, if any.
func (e *Engine) claimOf(id string) (cluster.Claim, bool) {
	if e.m == nil {
		return cluster.Claim{}, false
	}
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	x, ok := e.m.claims[id]
	if !ok {
		return cluster.Claim{}, false
	}
	return x.claim, true
}

// stopClaims cancels the executions of the given claims (cancelled, or lost) that are
// still executing, and returns their task ids. A claim of the same task taken since under
// another token is not stopped.
func (m *member) stopClaims(refs ...cluster.ClaimRef) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var stopped []string
	for _, ref := range refs {
		id := ref.TaskID
		if x, ok := m.claims[id]; ok && x.claim.Token == ref.Token && !x.writing.Load() {
			x.lost.Store(true)
			x.cancel()
			stopped = append(stopped, id)
		}
	}
	return stopped
}

// claimed lists the claims executing here.
func (m *member) claimed() []cluster.ClaimRef {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]cluster.ClaimRef, 0, len(m.claims))
	for id, x := range m.claims {
		out = append(out, cluster.ClaimRef{TaskID: id, Token: x.claim.Token})
	}
	return out
}

// writeOutcome writes a claimed task's outcome (or, when this node is stopping, puts the
// task back in the queue), retrying while the database is unreachable for up to a lease
// interval: the claim is renewed meanwhile, so a short outage (a database restart) loses
// no result. It gives up on ErrFenced.
func (e *Engine) writeOutcome(c cluster.Claim, out *outcome) error {
	d := e.m.d
	deadline := time.Now().Add(d.LeaseInterval())
	for {
		ctx, cancel := context.WithTimeout(context.Background(), e.m.clusterTimeout())
		var err error
		if out.interrupted {
			err = d.Release(ctx, c) // this node stops: another claims it at once
		} else {
			_, err = d.Finish(ctx, c, func(t *task.Task) error {
				if t.Status != task.InProgress {
					return fmt.Errorf("task %s is %s: %w", t.ID, t.Status, cluster.ErrFenced)
				}
				return out.apply(t)
			})
		}
		cancel()
		if err == nil || errors.Is(err, cluster.ErrFenced) || time.Now().After(deadline) {
			return err
		}
		e.cfg.Logger.Warn("writing a claimed task's outcome failed; retrying", "task", c.Task.ID, "error", err)
		time.Sleep(outcomeRetry)
	}
}

// outcomeRetry is the pause between two attempts of writeOutcome.
const outcomeRetry = 200 * time.Millisecond

// register records a task the coordinator's node claimed for itself and executes
// (start.go): heartbeats renew its claim and a cancel notice stops it, as for a claim of
// the claimer.
func (m *member) register(c cluster.Claim, cancel context.CancelFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims[c.Task.ID] = &execution{claim: c, cancel: cancel}
}

// settle forgets the claim (task id, token) of this node once its outcome is written
// (or given up); it reports whether the claim was found lost meanwhile (see
// member.beat). A later claim of the same task is kept.
func (m *member) settle(id string, token int64) (lost bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.claims[id]
	if !ok || x.claim.Token != token {
		return false
	}
	delete(m.claims, id)
	return x.lost.Load()
}

// lostClaim reports whether the heartbeat found the claim of a task executing here lost.
func (m *member) lostClaim(id string, token int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.claims[id]
	return ok && x.claim.Token == token && x.lost.Load()
}
