package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// ScheduleStore is a store that finds scheduled tasks.
type ScheduleStore interface {
	store.Store
	store.Schedules
}

// RunSchedules runs the conformance suite of store.Schedules. newStore must return a
// new, empty store for each call; RunSchedules closes it when the subtest ends.
func RunSchedules[S ScheduleStore](t *testing.T, newStore func(t *testing.T) S) {
	runSuite(t, func(t *testing.T) ScheduleStore { return newStore(t) }, scheduleCases)
}

var scheduleCases = []storeCase[ScheduleStore]{
	{"DueOrderAndFilters", testDue},
	{"DueFollowsWrites", testDueFollowsWrites},
	{"ScheduledListing", testScheduledListing},
	{"OneClaimPerOccurrence", testOneClaim},
}

// scheduled returns a root of its own tree with an enabled interval schedule due at
// base+due (no next run when due is negative).
func scheduled(id string, seq int, due time.Duration) *task.Task {
	t := mk(id, "", seq)
	t.TaskTreeID = id
	t.ScheduleType, t.ScheduleExpression, t.ScheduleEnabled = "interval", "60", true
	if due >= 0 {
		t.NextRunAt = base.Add(due)
	}
	return t
}

func due(t *testing.T, s ScheduleStore, q store.DueQuery) []*task.Task {
	t.Helper()
	got, err := s.Due(ctx(t), q)
	if err != nil {
		t.Fatalf("Due(%+v): %v", q, err)
	}
	return got
}

func testDue(t *testing.T, s ScheduleStore) {
	late := scheduled("late", 0, 2*time.Minute)
	early := scheduled("early", 1, time.Minute)
	tie := scheduled("a-tie", 2, 2*time.Minute) // same time as late: id decides
	future := scheduled("future", 3, time.Hour)
	off := scheduled("off", 4, time.Minute)
	off.ScheduleEnabled = false
	never := scheduled("never", 5, -1)
	plain := mk("plain", "", 6)
	plain.TaskTreeID = "plain"
	bob := scheduled("bob", 7, 30*time.Second)
	bob.UserID = "bob"
	busy := scheduled("busy", 8, 90*time.Second)
	busy.Status = task.InProgress
	busy.StartedAt = base
	child := mk("child", "late", 9) // a scheduled task that is not a root is due too
	child.TaskTreeID = "late"
	child.ScheduleType, child.ScheduleExpression, child.ScheduleEnabled = "daily", "09:00", true
	child.NextRunAt = base.Add(3 * time.Minute)
	for _, x := range [][]*task.Task{{late, child}, {early}, {tie}, {future}, {off}, {never}, {plain}, {bob}, {busy}} {
		create(t, s, x...)
	}
	at := base.Add(5 * time.Minute)
	wantIDs(t, "Due", due(t, s, store.DueQuery{Before: at}), "bob", "early", "busy", "a-tie", "late", "child")
	wantIDs(t, "Due at the instant", due(t, s, store.DueQuery{Before: base.Add(time.Minute)}), "bob", "early")
	wantIDs(t, "Due before all", due(t, s, store.DueQuery{Before: base}))
	wantIDs(t, "Due idle", due(t, s, store.DueQuery{Before: at, Idle: true}), "bob", "early", "a-tie", "late", "child")
	wantIDs(t, "Due of bob", due(t, s, store.DueQuery{Before: at, UserID: "bob"}), "bob")
	wantIDs(t, "Due limit", due(t, s, store.DueQuery{Before: at, Limit: 2}), "bob", "early")
	got := due(t, s, store.DueQuery{Before: at, Limit: 1})
	if len(got) != 1 || !got[0].NextRunAt.Equal(bob.NextRunAt) || got[0].ScheduleType != "interval" {
		t.Fatalf("Due returned %+v, want bob as stored", got)
	}
}

func testDueFollowsWrites(t *testing.T, s ScheduleStore) {
	a, b := scheduled("a", 0, time.Minute), scheduled("b", 1, 2*time.Minute)
	create(t, s, a)
	create(t, s, b)
	at := base.Add(time.Hour)
	// Moving a's next run after b's reorders them; disabling b removes it.
	if _, err := s.Update(ctx(t), "a", func(t *task.Task) error { t.NextRunAt = base.Add(3 * time.Minute); return nil }); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Due after moving a", due(t, s, store.DueQuery{Before: at}), "b", "a")
	if _, err := s.UpdateMany(ctx(t), []store.Mutation{{ID: "b", Fn: func(t *task.Task) error { t.ScheduleEnabled = false; return nil }}}); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Due after disabling b", due(t, s, store.DueQuery{Before: at}), "a")
	if _, err := s.Update(ctx(t), "a", func(t *task.Task) error { t.NextRunAt = time.Time{}; return nil }); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Due after clearing a's next run", due(t, s, store.DueQuery{Before: at}))
	if _, err := s.Update(ctx(t), "b", func(t *task.Task) error { t.ScheduleEnabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Due after enabling b again", due(t, s, store.DueQuery{Before: at}), "b")
	if err := s.Delete(ctx(t), []string{"b"}); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Due after deleting b", due(t, s, store.DueQuery{Before: at}))
}

func testScheduledListing(t *testing.T, s ScheduleStore) {
	x := scheduled("x", 0, 2*time.Minute)
	y := scheduled("y", 1, time.Minute)
	y.ScheduleType, y.ScheduleExpression = "daily", "09:00"
	z := scheduled("z", 2, -1) // no next run: last
	z.ScheduleEnabled = false
	w := scheduled("w", 3, 3*time.Minute)
	w.UserID = "bob"
	w.Status, w.CompletedAt, w.StartedAt = task.Completed, base, base
	plain := mk("plain", "", 4)
	plain.TaskTreeID = "plain"
	for _, v := range []*task.Task{x, y, z, w, plain} {
		create(t, s, v)
	}
	list := func(q store.ScheduleQuery) ([]*task.Task, int) {
		t.Helper()
		got, n, err := s.Scheduled(ctx(t), q)
		if err != nil {
			t.Fatalf("Scheduled(%+v): %v", q, err)
		}
		return got, n
	}
	tests := []struct {
		name  string
		q     store.ScheduleQuery
		want  []string
		total int
	}{
		{"all", store.ScheduleQuery{}, []string{"y", "x", "w", "z"}, 4},
		{"enabled", store.ScheduleQuery{EnabledOnly: true}, []string{"y", "x", "w"}, 3},
		{"user", store.ScheduleQuery{UserID: "bob"}, []string{"w"}, 1},
		{"type", store.ScheduleQuery{Type: "daily"}, []string{"y"}, 1},
		{"status", store.ScheduleQuery{Status: task.Pending}, []string{"y", "x", "z"}, 3},
		{"page", store.ScheduleQuery{Limit: 2, Offset: 1}, []string{"x", "w"}, 4},
		{"past the end", store.ScheduleQuery{Offset: 9}, nil, 4},
	}
	for _, tt := range tests {
		got, n := list(tt.q)
		wantIDs(t, "Scheduled "+tt.name, got, tt.want...)
		if n != tt.total {
			t.Fatalf("Scheduled %s: total %d, want %d", tt.name, n, tt.total)
		}
	}
}

// errTaken is the claim's refusal: another claim advanced the schedule first.
var errTaken = errors.New("occurrence already claimed")

// testOneClaim: of concurrent claims of one occurrence (an Update whose function refuses
// unless next_run_at is still the time seen as due, and advances it), exactly one wins.
func testOneClaim(t *testing.T, s ScheduleStore) {
	create(t, s, scheduled("job", 0, time.Minute))
	seen := due(t, s, store.DueQuery{Before: base.Add(time.Hour)})
	if len(seen) != 1 {
		t.Fatalf("Due = %v, want job", ids(seen))
	}
	const claimers = 8
	var wg sync.WaitGroup
	errs := make([]error, claimers)
	for i := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Update(ctx(t), "job", func(t *task.Task) error {
				if !t.NextRunAt.Equal(seen[0].NextRunAt) {
					return errTaken
				}
				t.NextRunAt = t.NextRunAt.Add(time.Minute)
				t.RunCount++
				return nil
			})
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errTaken):
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	got := get(t, s, "job")
	if won != 1 || got.RunCount != 1 {
		t.Fatalf("%d claims won, run_count %d; want exactly one (%s)", won, got.RunCount, fmt.Sprint(errs))
	}
}
