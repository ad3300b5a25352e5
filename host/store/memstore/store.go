package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Store is the in-memory implementation of store.Store. It is safe for concurrent use.
// The zero value is not usable; call New.
type Store struct {
	// writer is the turn of the one write running: a write holds it (a value in the
	// channel) from its first check to the publication of its changes. A channel rather
	// than a mutex so that a waiting write can give up when its context ends.
	writer chan struct{}

	// mu guards the state below: readers hold it shared, a write exclusively while it
	// publishes. The writer holding its turn reads the state without mu (no other
	// goroutine changes it meanwhile).
	mu     sync.RWMutex
	closed bool
	state

	// ops counts the calls admitted before Close, which waits for them.
	ops sync.WaitGroup

	// kv holds plugins' key-value entries (kv.go), under a lock of its own.
	kv kvState
	// logs holds tasks' log lines (logs.go), under a lock of its own.
	logs logState
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{writer: make(chan struct{}, 1), state: newState()}
}

// Close waits for the calls already started, then releases the tasks; later calls fail
// with store.ErrClosed. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.ops.Wait()
	s.mu.Lock()
	s.state = state{}
	s.mu.Unlock()
	return nil
}

// enter admits a call: it fails with ctx's error, or store.ErrClosed after Close.
// Every admitted call ends with s.ops.Done().
func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	s.ops.Add(1)
	return nil
}

// admit fails as a call would that does nothing else: with ctx's error, or
// store.ErrClosed after Close. A call given nothing to do answers it.
func (s *Store) admit(ctx context.Context) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	s.ops.Done()
	return nil
}

// read runs fn with the state held shared.
func (s *Store) read(ctx context.Context, fn func(st *state)) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.ops.Done()
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(&s.state)
	return nil
}

// change is what a write publishes: tasks to store (new or replacing their stored
// version, each in its canonical form and never handed to anyone) and ids to delete.
type change struct {
	put []*task.Task
	del []string
	// key, when set, is an idempotency key recorded with the change; unkey are keys
	// deleted.
	key   *store.KeyRecord
	unkey []keyID
}

// write waits for the writer's turn (or ctx's end), runs prepare against the current
// state, and publishes its change unless it failed.
func (s *Store) write(ctx context.Context, prepare func(st *state) (change, error)) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.ops.Done()
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writer }()
	c, err := prepare(&s.state)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range c.del {
		s.remove(id)
	}
	if len(c.del) > 0 {
		s.forgetLogs(c.del) // a task's lines go with it (store.TaskLogs)
	}
	for _, t := range c.put {
		s.remove(t.ID)
		s.add(t)
	}
	for _, k := range c.unkey {
		delete(s.keys, k)
	}
	if c.key != nil {
		s.keys[keyID{c.key.Scope, c.key.Key}] = *c.key
	}
	return nil
}

// canonical returns t as its wire form decodes: the form stored and read back. The
// result shares nothing with t.
func canonical(t *task.Task) (*task.Task, error) {
	raw, err := t.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	c := new(task.Task)
	if err := c.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("task %s does not read back from its wire form: %w", t.ID, err)
	}
	return c, nil
}
