package engine

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/cluster"
)

// startMember starts the goroutines of a cluster node: the heartbeat, the dispatcher of
// notices, the event relay and, for a worker, the claimer.
func (e *Engine) startMember() {
	ctx, stop := context.WithCancel(context.Background())
	e.m.stop = stop
	e.m.done.Add(3)
	go e.heartbeatLoop(ctx)
	go e.noticeLoop(ctx)
	go e.m.relay.loop(ctx, &e.m.done)
	if !e.cfg.ClusterClient {
		e.m.done.Add(1)
		go e.claimLoop(ctx)
	}
}

// noticeLoop routes the driver's notices: a tree's feed grew (its coordinator reads it),
// tasks were queued (the claimer looks), a claimed task was cancelled (its execution
// here stops), events were sent to this node or another node follows other runs (the
// relay receives or refreshes).
func (e *Engine) noticeLoop(ctx context.Context) {
	defer e.m.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case n, ok := <-e.m.d.Notices():
			if !ok {
				return
			}
			switch n.Kind {
			case cluster.NoticeSettled:
				if r := e.run(n.ID); r != nil {
					poke(r.wake)
				}
			case cluster.NoticeQueued:
				poke(e.m.claimWake)
			case cluster.NoticeCancel:
				e.m.stopClaims(cluster.ClaimRef{TaskID: n.ID, Token: n.Token})
			case cluster.NoticeEvents:
				if n.ID == e.m.d.NodeID() {
					poke(e.m.relay.recvWake)
				}
			case cluster.NoticeFollows:
				if n.ID != e.m.d.NodeID() {
					poke(e.m.relay.refreshWake)
				}
			}
		}
	}
}

// heartbeatLoop renews this node's leases every heartbeat interval, stops what it lost,
// takes expired claims back into the queue and takes over runs no live node coordinates.
func (e *Engine) heartbeatLoop(ctx context.Context) {
	defer e.m.done.Done()
	t := time.NewTicker(e.m.d.HeartbeatInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.beat(ctx)
		if !e.isClosing() && !e.cfg.ClusterClient {
			e.sweep(ctx)
			if err := e.takeOver(ctx); err != nil {
				e.cfg.Logger.Warn("taking over runs failed; retrying at the next heartbeat", "error", err)
			}
		}
	}
}

// beat sends one heartbeat and stops the runs and executions whose leases were lost.
func (e *Engine) beat(ctx context.Context) {
	m := e.m
	cctx, cancel := context.WithTimeout(ctx, m.clusterTimeout())
	defer cancel()
	var gauges []cluster.RunGauge
	e.mu.Lock()
	for _, r := range e.runs {
		if r.lease != nil {
			gauges = append(gauges, cluster.RunGauge{TreeID: r.treeID, Token: r.lease.Token, Tasks: r.tasks.Load(), Finished: r.finished.Load()})
		}
	}
	for id, l := range m.reserved {
		gauges = append(gauges, cluster.RunGauge{TreeID: id, Token: l.Token})
	}
	e.mu.Unlock()
	lost, err := m.d.Heartbeat(cctx, gauges, m.claimed())
	if err != nil {
		e.cfg.Logger.Warn("cluster heartbeat failed", "error", err)
		return
	}
	e.dropLostReservations(lost.Trees)
	for _, l := range lost.Trees {
		// A run of the tree started since under a new lease did not lose it.
		if r := e.run(l.TreeID); r != nil && r.lease != nil && r.lease.Token == l.Token {
			r.lost.Store(true) // its coordinator stops and says so (coordinator.fail)
			poke(r.wake)
		}
	}
	if stopped := m.stopClaims(lost.Claims...); len(stopped) > 0 {
		e.cfg.Logger.Warn("lost claims (cancelled, or taken back after a missed lease); stopping them here", "tasks", stopped)
	}
}

// dropLostReservations forgets the reserved leases (ToRun) a heartbeat found lost: the
// Start of their tree acquires the lease anew, and answers already_running when the node
// that took the tree over runs it.
func (e *Engine) dropLostReservations(lost []cluster.LeaseRef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range lost {
		if r, ok := e.m.reserved[l.TreeID]; ok && r.Token == l.Token {
			delete(e.m.reserved, l.TreeID)
		}
	}
}

// sweep puts the tasks of expired claims back in the queue.
func (e *Engine) sweep(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, e.m.clusterTimeout())
	defer cancel()
	n, err := e.m.d.SweepClaims(cctx)
	if err != nil {
		e.cfg.Logger.Warn("taking back expired claims failed", "error", err)
	}
	if n > 0 {
		e.cfg.Logger.Info("expired claims taken back: their tasks run again", "tasks", n)
		poke(e.m.claimWake)
	}
}

// takeOver resumes, here, the runs whose root carries a run marker and that no live
// node coordinates (their node died or left), with the scope their marker records; and,
// whole, trees holding in_progress tasks that no claim covers (written by a single-node
// apflow before the cluster).
func (e *Engine) takeOver(ctx context.Context) error {
	roots, err := e.m.d.Orphans(ctx)
	if err != nil {
		return err
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].Seq < roots[j].Seq })
	var errs []error
	for _, t := range roots {
		if e.isClosing() {
			break
		}
		opts := RunOptions{resume: true} // a tree with in_progress tasks but no marker: whole
		if t.Run != nil {
			opts.TaskID, opts.Full = t.Run.TaskID, t.Run.Full
		}
		if _, err := e.Start(ctx, t.ID, opts); err != nil && !isAlreadyRunning(err) {
			if apferr.CodeOf(err) == apferr.TaskNotFound {
				e.cfg.Logger.Warn("the interrupted run's task no longer exists; run not resumed", "root", t.ID, "task", opts.TaskID)
				errs = append(errs, e.dropMarker(ctx, t.ID))
				continue
			}
			errs = append(errs, err)
			continue
		}
		e.cfg.Logger.Info("took over a run no live node coordinated", "root", t.ID)
	}
	return errors.Join(errs...)
}

// runningCluster describes the runs of every node (cluster mode).
func (e *Engine) runningCluster(ctx context.Context) ([]RunInfo, error) {
	leases, err := e.m.d.Runs(ctx)
	if err != nil {
		return nil, err
	}
	local := map[string]RunInfo{}
	for _, ri := range e.localRunning() {
		local[ri.TreeID] = ri
	}
	out := make([]RunInfo, 0, len(leases))
	for _, l := range leases {
		if ri, ok := local[l.TreeID]; ok {
			ri.Running = l.Executing
			ri.NodeID = l.NodeID
			out = append(out, ri)
			continue
		}
		out = append(out, RunInfo{RootID: l.RootID, TreeID: l.TreeID, StartedAt: l.StartedAt.UTC(),
			Tasks: l.Tasks, Running: l.Executing, Finished: l.Finished, NodeID: l.NodeID})
	}
	return out, nil
}

// leaveCluster ends this node's membership: its loops stop, and the database forgets
// it, so other nodes take its unfinished runs over at once.
func (e *Engine) leaveCluster() error {
	e.m.stop()
	e.m.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), e.m.clusterTimeout())
	defer cancel()
	return e.m.d.Leave(ctx)
}
