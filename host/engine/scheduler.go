package engine

import (
	"context"
	"fmt"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

type msgKind uint8

const (
	msgOutcome  msgKind = iota // a worker finished
	msgPostDone                // post-hooks of a completed task finished
	msgCancel                  // Cancel of a task of this tree
)

// message is what the coordinator of a run receives.
type message struct {
	kind   msgKind
	idx    int32
	out    *outcome
	cancel *cancelReq
}

// sched is the coordinator state of one run. Only the run's goroutine touches it.
type sched struct {
	r     *Run
	e     *Engine
	g     *graph
	scope []bool
	q     readyQueue
	b     batch

	settleQ  []int32 // settled nodes whose dependents are not yet updated
	inflight int     // dispatched jobs not yet returned, plus tasks in post-hooks
	heldRoot int32   // dependency-free root waiting for the end (docs/semantics.md rule 10), or -1
	closing  bool
	fatal    error
	infos    map[string]*executor.Info
}

// loop is the run's goroutine.
func (r *Run) loop() {
	e := r.e
	s := &sched{r: r, e: e, heldRoot: -1, infos: map[string]*executor.Info{}}
	ctx := context.Background()
	defer s.finish(ctx)
	if err := s.load(ctx); err != nil {
		s.fatal = err
		return
	}
	e.events.publishRun(EventRunStart, r.rootID, e.cfg.Now(), nil)
	s.treeEvent(ctx, TreeStarted, "", "")
	s.init()
	for {
		s.propagate()
		if s.inflight == 0 && !s.q.ready() && s.canStart() && s.heldRoot >= 0 && s.g.nodes[s.heldRoot].state == stHeld {
			s.makeReady(s.heldRoot)
		}
		s.startReady()
		if !s.b.empty() {
			s.b.commit(ctx, e.cfg.Store)
		}
		if len(s.settleQ) > 0 || !s.b.empty() {
			continue
		}
		held := s.heldRoot >= 0 && s.g.nodes[s.heldRoot].state == stHeld
		if s.inflight == 0 && (!s.canStart() || !s.q.ready() && !held) {
			return
		}
		if s.inflight == 0 && held && !s.q.ready() {
			continue // the next round releases the root
		}
		s.wait()
	}
}

// canStart reports whether the run may start tasks. Once Close has begun no task starts,
// even before the coordinator's wait has seen the closing signal.
func (s *sched) canStart() bool {
	if !s.closing && s.e.isClosing() {
		s.closing = true
	}
	return !s.closing && s.fatal == nil
}

// resolveLinks gives every link of the tree (origin_type "link", docs/semantics.md rule 16) its
// original's result in memory, so that dependents get the original's data injected. Links
// are completed and never executed; nothing is written.
func (s *sched) resolveLinks(ctx context.Context, tasks []*task.Task) error {
	for _, t := range tasks {
		if !t.IsLink() || t.Result != nil {
			continue
		}
		orig, err := s.e.cfg.Store.Get(ctx, t.OriginalTaskID)
		if err != nil {
			return fmt.Errorf("link %s: original %s: %w", t.ID, t.OriginalTaskID, err)
		}
		t.Result = orig.Result
	}
	return nil
}

// load reads the tree once, builds the index and resets what the run re-executes.
func (s *sched) load(ctx context.Context) error {
	r := s.r
	tasks, err := s.e.cfg.Store.Tree(ctx, r.treeID)
	if err != nil {
		return fmt.Errorf("run of %s: load tree: %w", r.rootID, err)
	}
	if err := s.resolveLinks(ctx, tasks); err != nil {
		return fmt.Errorf("run of %s: %w", r.rootID, err)
	}
	s.g = newGraph(tasks)
	s.q.g = s.g
	if _, ok := s.g.index[r.rootID]; !ok {
		return fmt.Errorf("run of %s: the root is not in tree %s", r.rootID, r.treeID)
	}
	target := int32(-1)
	if r.opts.TaskID != "" {
		i, ok := s.g.index[r.opts.TaskID]
		if !ok {
			return fmt.Errorf("run of %s: task %s is not in tree %s", r.rootID, r.opts.TaskID, r.treeID)
		}
		if !r.opts.resume {
			target = i // a resume does not re-run the target once it has completed
		}
		s.scope = s.g.scopeFor(i)
	} else {
		s.scope = s.g.scopeAll()
	}
	n := 0
	for _, in := range s.scope {
		if in {
			n++
		}
	}
	r.tasks.Store(int64(n))
	now := s.e.cfg.Now()
	for _, i := range s.g.resetSet(s.scope, r.opts.Full, r.opts.resume, target) {
		nd := s.g.nodes[i]
		s.b.add(nd.t.ID, func(t *task.Task) error {
			if !needsReset(t) {
				return nil
			}
			return t.Reset(now)
		}, s.keep(nd, true))
	}
	// The run marker joins the resets, so that a crash right after them resumes the run;
	// without resets it joins the first round's commit (see markRun).
	resets := !s.b.empty()
	s.markRun()
	if resets {
		s.b.commit(ctx, s.e.cfg.Store)
	}
	return s.fatal
}

// init computes every in-scope task's count of unsettled dependencies and queues what is
// ready. Pending tasks start unblocked: blocking is recomputed from their dependencies.
func (s *sched) init() {
	g := s.g
	for i, n := range g.nodes {
		if !s.scope[i] {
			continue
		}
		switch {
		case n.t.Status.Terminal():
			n.state = stDone
		case n.t.Status == task.Pending:
			n.state = stIdle
		default: // in_progress outside a resume: left alone, never settles
			n.state = stOut
		}
	}
	for i, n := range g.nodes {
		if !s.scope[i] || n.state != stIdle {
			continue
		}
		if int32(i) == g.root && len(n.deps) == 0 {
			n.state = stHeld
			s.heldRoot = int32(i)
			continue
		}
		reason := ""
		for k, j := range n.deps {
			dep := n.t.Dependencies[k]
			if j < 0 {
				if dep.Required {
					reason = fmt.Sprintf("%srequired dependency %s not found", task.BlockedPrefix, dep.ID)
					break
				}
				continue
			}
			dn := g.nodes[j]
			switch {
			case dn.state == stDone || !s.scope[j] && dn.t.Status.Terminal():
				if dep.Required && dn.t.Status != task.Completed {
					reason = blockedReason(dep, string(dn.t.Status))
				}
			case dn.state == stIdle || dn.state == stHeld || dn.state == stReady:
				n.waiting++
			case dn.state == stBlocked:
				reason = blockedReason(dep, "blocked")
			default:
				// A dependency outside a TaskID run that has not finished: this task
				// (an ancestor of the target) is not part of the run.
				n.state = stOut
			}
			if n.state == stOut {
				break
			}
			if reason != "" {
				break
			}
		}
		if n.state == stOut {
			continue
		}
		if reason != "" {
			n.state = stBlocked
			s.markBlocked(int32(i), reason)
			continue
		}
		if n.waiting == 0 {
			s.makeReady(int32(i))
		}
	}
}

func requiredWord(d task.Dependency) string {
	if d.Required {
		return "required"
	}
	return "optional"
}

// blockedReason is the error of a task blocked by dependency d in the given state:
// "blocked: required dependency <id> <status>".
func blockedReason(d task.Dependency, status string) string {
	return fmt.Sprintf("%s%s dependency %s %s", task.BlockedPrefix, requiredWord(d), d.ID, status)
}

// markBlocked records the blocked marker of node i (state already stBlocked) and queues
// the settling of its dependents.
func (s *sched) markBlocked(i int32, reason string) {
	n := s.g.nodes[i]
	s.settleQ = append(s.settleQ, i)
	if n.t.Error == reason {
		return
	}
	now := s.e.cfg.Now()
	s.b.add(n.t.ID, func(t *task.Task) error {
		if t.Status != task.Pending {
			return nil
		}
		t.Error = reason
		t.UpdatedAt = now
		return nil
	}, s.keep(n, true))
	c := *n.t
	c.Error = reason
	n.t = &c
}

// keep returns the write callback that records the stored snapshot of node n (and, with
// publish, tells subscribers about it); a failed write stops the run.
func (s *sched) keep(n *node, publish bool) func(*task.Task, error) {
	return func(stored *task.Task, err error) {
		if err != nil {
			s.fail(err)
			return
		}
		n.t = stored
		if publish {
			s.publishTask(stored)
		}
	}
}

func (s *sched) makeReady(i int32) {
	s.g.nodes[i].state = stReady
	s.q.push(i)
}

// propagate settles the dependents of every node in settleQ, iteratively: a dependent
// whose last dependency settled becomes ready; one whose required dependency did not
// complete (or any dependency is blocked) becomes blocked and settles in turn.
func (s *sched) propagate() {
	g := s.g
	for len(s.settleQ) > 0 {
		j := s.settleQ[len(s.settleQ)-1]
		s.settleQ = s.settleQ[:len(s.settleQ)-1]
		nj := g.nodes[j]
		for _, e := range nj.dependents {
			d := e.node
			nd := g.nodes[d]
			if !s.scope[d] || nd.state != stIdle {
				continue
			}
			reason := ""
			dep := nd.t.Dependencies[e.k]
			switch {
			case nj.state == stBlocked:
				reason = blockedReason(dep, "blocked")
			case dep.Required && nj.t.Status != task.Completed:
				reason = blockedReason(dep, string(nj.t.Status))
			default:
				nd.waiting--
			}
			if reason != "" {
				nd.state = stBlocked
				s.markBlocked(d, reason)
				continue
			}
			if nd.waiting == 0 {
				s.makeReady(d)
			}
		}
	}
}

// startReady starts ready tasks while execution slots are free.
func (s *sched) startReady() {
	for s.canStart() && s.q.ready() {
		select {
		case s.e.sem <- struct{}{}:
		default:
			return
		}
		s.prepareStart(s.q.pop())
	}
}

// wait blocks until a worker reports, a slot frees up for a ready task, or the engine
// starts closing; then it takes every message already queued.
func (s *sched) wait() {
	var slot chan<- struct{}
	if s.canStart() && s.q.ready() {
		slot = s.e.sem
	}
	var closing <-chan struct{}
	if !s.closing {
		closing = s.e.closing
	}
	select {
	case m := <-s.r.inbox:
		s.handle(m)
	case slot <- struct{}{}:
		s.prepareStart(s.q.pop())
	case <-closing:
		s.closing = true
	}
	for {
		select {
		case m := <-s.r.inbox:
			s.handle(m)
		default:
			return
		}
	}
}

func (s *sched) handle(m message) {
	switch m.kind {
	case msgOutcome:
		s.handleOutcome(m.out)
	case msgPostDone:
		n := s.g.nodes[m.idx]
		s.inflight--
		if n.state == stPosting {
			n.state = stDone
			s.settleQ = append(s.settleQ, m.idx)
		}
	case msgCancel:
		s.handleCancel(m.cancel)
	}
}

// fail records a store failure: the run stops starting tasks and ends once nothing is in
// flight.
func (s *sched) fail(err error) {
	s.e.cfg.Logger.Error("run stopped: store write failed", "root", s.r.rootID, "error", err)
	if s.fatal == nil {
		s.fatal = err
	}
}

// info describes the executor of a method, cached for the run.
func (s *sched) info(method string) *executor.Info {
	if in, ok := s.infos[method]; ok {
		return in
	}
	var in *executor.Info
	if method != "" {
		if h, err := s.e.cfg.Catalog.Lookup(method); err == nil {
			in = h.Info()
			h.Release()
		}
	}
	s.infos[method] = in
	return in
}
