package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// With one slot, tasks run one after the other, and their stored times say so: a task
// starts no earlier than the previous one ended, whatever ordered them (priority,
// submission order, a dependency).
func TestOneSlotStoredTimesDoNotOverlap(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(1))
	root := v.create(
		spec{id: "root"},
		spec{id: "low", priority: prio(3)},
		spec{id: "high", priority: prio(1)},
		spec{id: "urgent", priority: prio(0)},
		spec{id: "fifo-1"},
		spec{id: "fifo-2"},
		spec{id: "first", priority: prio(3)},
		spec{id: "then", priority: prio(0), deps: req("first")},
	)
	res := v.run(root, RunOptions{})
	if res.Status != task.Completed {
		t.Fatalf("result = %+v", res)
	}
	order := v.cat.startOrder()
	want := []string{"urgent", "high", "fifo-1", "fifo-2", "low", "first", "then", "root"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("start order = %v, want %v", order, want)
	}
	for k := 1; k < len(order); k++ {
		for j := 0; j < k; j++ {
			earlier, later := v.get(order[j]), v.get(order[k])
			if later.StartedAt.Before(earlier.CompletedAt) {
				t.Errorf("%s started at %s, before %s completed at %s",
					later.ID, later.StartedAt.Format("15:04:05.000000000"),
					earlier.ID, earlier.CompletedAt.Format("15:04:05.000000000"))
			}
		}
	}
}

// inProgressStore records, after every committed write, how many tasks the store holds
// in_progress, and the most it ever held.
type inProgressStore struct {
	store.Store
	mu      sync.Mutex
	running map[string]bool
	max     int
}

func (s *inProgressStore) record(ts ...*task.Task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range ts {
		if t == nil {
			continue
		}
		if t.Status == task.InProgress {
			s.running[t.ID] = true
		} else {
			delete(s.running, t.ID)
		}
	}
	s.max = max(s.max, len(s.running))
}

func (s *inProgressStore) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	t, err := s.Store.Update(ctx, id, fn)
	if err == nil {
		s.record(t)
	}
	return t, err
}

func (s *inProgressStore) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	ts, err := s.Store.UpdateMany(ctx, muts)
	if err == nil {
		s.record(ts...)
	}
	return ts, err
}

func (s *inProgressStore) maxInProgress() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// An observer of the store never sees more tasks in_progress than there are slots: a
// slot is taken again only once the terminal state of its previous task is durable, also
// when several runs share the slots.
func TestStoreNeverHoldsMoreInProgressThanSlots(t *testing.T) {
	t.Parallel()
	const slots = 4
	for _, tc := range []struct {
		method string
		trees  int
	}{{"noop", 1}, {"fake", 1}, {"fake", 3}} {
		t.Run(fmt.Sprintf("%s/%d_trees", tc.method, tc.trees), func(t *testing.T) {
			t.Parallel()
			st := &inProgressStore{Store: memStore(t), running: map[string]bool{}}
			v := setupStore(t, st, withConcurrency(slots))
			var runs []*Run
			for k := 0; k < tc.trees; k++ {
				p := fmt.Sprintf("t%d-", k)
				specs := []spec{{id: p + "root", method: tc.method}}
				for i := 0; i < 300/tc.trees; i++ {
					specs = append(specs, spec{id: fmt.Sprintf("%sc%d", p, i), method: tc.method})
				}
				r, err := v.e.Start(context.Background(), v.create(specs...), RunOptions{})
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, r)
			}
			for _, r := range runs {
				<-r.Done()
				if res := r.Result(); res.Status != task.Completed {
					t.Fatalf("result = %+v", res)
				}
			}
			if got := st.maxInProgress(); got > slots {
				t.Fatalf("the store held %d tasks in_progress at once, want at most %d", got, slots)
			}
		})
	}
}
