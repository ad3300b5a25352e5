package scheduler

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store/pgstore"
	"github.com/apflow-wasm/apflow/internal/pgtest"
)

// pg is the PostgreSQL server of this test binary, started by the first test that needs it.
var pg = pgtest.New()

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// TestOneFirePerOccurrencePostgres: two schedulers on two stores of one PostgreSQL
// database (two nodes) fire each occurrence exactly once.
func TestOneFirePerOccurrencePostgres(t *testing.T) {
	t.Parallel()
	dsn := pg.Database(t)
	open := func() *pgstore.Store {
		s, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a := setup(t, open())
	b := setup(t, open())
	b.clock, b.s.cfg.Now, b.run.clock = a.clock, a.clock.Now, a.clock
	a.job("job", "interval", "60")
	for occurrence := 1; occurrence <= 3; occurrence++ {
		a.clock.Add(time.Minute)
		var wg sync.WaitGroup
		for _, e := range []*env{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.s.Poll(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := a.run.count() + b.run.count(); n != occurrence {
			t.Fatalf("after occurrence %d: %d fires, want %d", occurrence, n, occurrence)
		}
	}
	if got := b.get("job"); got.RunCount != 3 {
		t.Fatalf("run_count %d, want 3", got.RunCount)
	}
}
