package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/pgtest"
)

// pg is the PostgreSQL server of this test binary, started by the first test that needs it.
var pg = pgtest.New()

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// setup opens a store on a new database and closes it at the end. It returns the
// database's connection string too, for more stores on the same database.
func setup(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	opts.DSN = pg.Database(t)
	return open(t, opts), opts.DSN
}

// open opens a store with opts and closes it at the end.
func open(t testing.TB, opts Options) *Store {
	t.Helper()
	return storetest.Open(t, func() (*Store, error) { return Open(context.Background(), opts) })
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := setup(t, Options{})
		return s
	})
}

func TestKeysConformance(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(t *testing.T) *Store {
		s, _ := setup(t, Options{})
		return s
	})
}

func TestSchedulesConformance(t *testing.T) {
	t.Parallel()
	storetest.RunSchedules(t, func(t *testing.T) *Store {
		s, _ := setup(t, Options{})
		return s
	})
}

func mk(id, parent string, seq int) *task.Task {
	return &task.Task{
		ID: id, ParentID: parent, TaskTreeID: "tree", Name: id, Status: task.Pending,
		Priority: task.DefaultPriority, Seq: seq, Inputs: map[string]any{},
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 123456789, time.UTC),
	}
}

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	dsn := pg.Database(t)
	// Nodes starting at once on an empty database: each migration is applied once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(t.Context(), Options{DSN: dsn})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s := open(t, Options{DSN: dsn}) // and once more on the migrated database
	var versions []int
	rows, err := s.pool.Query(t.Context(), "SELECT version FROM apflow_schema_version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if want := SchemaVersion(); len(versions) != want || versions[len(versions)-1] != want {
		t.Fatalf("schema versions recorded %v, want 1..%d once each", versions, want)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	s, dsn := setup(t, Options{})
	next := SchemaVersion() + 1
	if _, err := s.pool.Exec(t.Context(), "INSERT INTO apflow_schema_version (version, name) VALUES ($1, 'from the future')", next); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), Options{DSN: dsn})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open on a schema at version %d: %v, want ErrSchemaTooNew", next, err)
	}
	for _, want := range []string{fmt.Sprintf("version %d", next), fmt.Sprintf("up to %d", next-1), "upgrade apflow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestMigrationFiles(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != SchemaVersion() || ms[0].version != 1 {
		t.Fatalf("embedded migrations %d, first %d", len(ms), ms[0].version)
	}
	for _, c := range []struct {
		name  string
		files []string
		want  string
	}{
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "version 3, want 2"},
		{"bad name", []string{"1_a.sql"}, "NNNN_"},
		{"none", nil, "no migrations"},
	} {
		fsys := fstest.MapFS{}
		for _, f := range c.files {
			fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		if _, err := loadMigrations(fsys); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), Options{DSN: "postgres://apflow:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1"})
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error shows the password: %v", err)
	}
	for _, c := range []struct{ dsn, want string }{
		{"postgres://u:pw@h:5432/db?sslmode=disable&password=x", "postgres://u@h:5432/db"},
		{"host=h port=5 dbname=d password=pw user=u", "(host=h port=5 dbname=d)"},
	} {
		if got := Redact(c.dsn); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.dsn, got, c.want)
		}
	}
}

func TestRefusesTextPostgreSQLCannotHold(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	bad := mk("a\x00b", "", 0)
	err := s.Create(t.Context(), []*task.Task{mk("ok", "", 0), bad})
	if apferr.CodeOf(err) != apferr.InvalidParams || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("Create with a NUL in an id: %v", err)
	}
	create(t, s, mk("ok", "", 0))
	_, err = s.Update(t.Context(), "ok", func(t *task.Task) error {
		t.Dependencies = []task.Dependency{{ID: "x\x00"}}
		return nil
	})
	if e := apferr.As(err); e == nil || e.Code != apferr.InvalidParams || !strings.Contains(err.Error(), "dependencies[0].id") {
		t.Fatalf("Update with a NUL in a dependency id: %v", err)
	}
}

func create(t testing.TB, s *Store, ts ...*task.Task) {
	t.Helper()
	if err := s.Create(t.Context(), ts); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

// TestCreateLargeTreeAtomic stores a tree far bigger than one statement, and refuses
// one whose last task exists: nothing of it may be stored.
func TestCreateLargeTreeAtomic(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	const n = 20_000
	big := func(prefix string) []*task.Task {
		ts := make([]*task.Task, n)
		for i := range ts {
			parent := ""
			if i > 0 {
				parent = prefix + "0"
			}
			ts[i] = mk(fmt.Sprintf("%s%d", prefix, i), parent, i)
			ts[i].TaskTreeID = prefix + "tree"
			if i > 1 {
				ts[i].Dependencies = []task.Dependency{{ID: fmt.Sprintf("%s%d", prefix, i-1), Required: true}}
			}
		}
		return ts
	}
	create(t, s, big("a")...)
	if got, err := s.Tree(t.Context(), "atree"); err != nil || len(got) != n {
		t.Fatalf("Tree = %d tasks, %v; want %d", len(got), err, n)
	}
	if got, _ := s.Dependents(t.Context(), "a5"); len(got) != 1 || got[0].ID != "a6" {
		t.Fatalf("Dependents(a5) = %v", got)
	}
	create(t, s, mk("b-taken", "", 0))
	ts := big("b")
	ts[n-1] = mk("b-taken", "b0", n-1)
	err := s.Create(t.Context(), ts)
	if e := apferr.As(err); e == nil || e.Code != apferr.InvalidParams || fmt.Sprint(e.Data.(map[string]any)["task_id"]) != "b-taken" {
		t.Fatalf("Create with an existing id: %v, want InvalidParams naming b-taken", err)
	}
	if n, err := s.Count(t.Context(), store.Filter{TreeID: "btree"}); err != nil || n != 0 {
		t.Fatalf("a refused Create left %d tasks, %v", n, err)
	}
}

// TestNodesShareTheDatabase runs two stores (two nodes) on one database: updates from
// both are never lost, and a status change is checked against the other node's writes.
func TestNodesShareTheDatabase(t *testing.T) {
	t.Parallel()
	a, dsn := setup(t, Options{})
	b := open(t, Options{DSN: dsn})
	create(t, a, mk("shared", "", 0))
	var wg sync.WaitGroup
	const per = 25
	for _, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if _, err := s.Update(context.Background(), "shared", func(t *task.Task) error {
					t.RunCount++
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := b.Get(t.Context(), "shared")
	if err != nil || got.RunCount != 4*per {
		t.Fatalf("run_count = %d, %v; want %d: lost updates between nodes", got.RunCount, err, 4*per)
	}

	// Both nodes end the same running task, one completing, one cancelling: exactly one
	// wins, the other is refused by the state machine.
	for i := range 10 {
		id := fmt.Sprintf("race%d", i)
		create(t, a, mk(id, "", i+1))
		now := time.Now()
		if _, err := a.Update(t.Context(), id, func(t *task.Task) error { return t.Start(now) }); err != nil {
			t.Fatal(err)
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for k, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[k] = s.Update(context.Background(), id, func(t *task.Task) error {
					if k == 0 {
						return t.Complete("done", now)
					}
					t.Status = task.Cancelled
					return nil
				})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case apferr.CodeOf(err) != apferr.InvalidTransition:
				t.Fatalf("%s: %v, want success or InvalidTransition", id, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%s: %d nodes ended the task (errors %v), want exactly 1", id, ok, errs)
		}
	}
}

func TestUpdateManyRoundSharesCommitButNotFailures(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	var ts []*task.Task
	for i := range 64 {
		ts = append(ts, mk(fmt.Sprintf("g%d", i), "", i))
	}
	create(t, s, ts...)
	var wg sync.WaitGroup
	errs := make([]error, len(ts))
	for i, x := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Update(context.Background(), x.ID, func(t *task.Task) error {
				if i%2 == 1 {
					t.Status = task.Completed // pending → completed: refused
				}
				t.Name = "renamed"
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		got, gerr := s.Get(t.Context(), ts[i].ID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if i%2 == 1 {
			if apferr.CodeOf(err) != apferr.InvalidTransition || got.Name != ts[i].Name {
				t.Fatalf("%s: %v, name %q: a refused update was written", ts[i].ID, err, got.Name)
			}
		} else if err != nil || got.Name != "renamed" {
			t.Fatalf("%s: %v, name %q: a legal update sharing a round with refused ones was lost", ts[i].ID, err, got.Name)
		}
	}
}

func TestDependencyEdgesFollowUpdates(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	r, a, b := mk("r", "", 0), mk("a", "r", 1), mk("b", "r", 2)
	b.Dependencies = []task.Dependency{{ID: "a"}, {ID: "a", Required: true}} // twice: one edge
	create(t, s, r, a, b)
	if got, err := s.Dependents(t.Context(), "a"); err != nil || len(got) != 1 {
		t.Fatalf("Dependents(a) = %v, %v", got, err)
	}
	// Dependencies changed in the second of two mutations of one UpdateMany.
	if _, err := s.UpdateMany(t.Context(), []store.Mutation{
		{ID: "b", Fn: func(t *task.Task) error { t.Name = "b2"; return nil }},
		{ID: "b", Fn: func(t *task.Task) error { t.Dependencies = []task.Dependency{{ID: "r"}}; return nil }},
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Dependents(t.Context(), "a"); len(got) != 0 {
		t.Fatalf("Dependents(a) after the change = %v", got)
	}
	if got, _ := s.Dependents(t.Context(), "r"); len(got) != 1 || got[0].Name != "b2" {
		t.Fatalf("Dependents(r) after the change = %v", got)
	}
	if err := s.Delete(t.Context(), []string{"r"}); apferr.CodeOf(err) != apferr.CannotDelete {
		t.Fatalf("Delete(r) with children and a dependent: %v", err)
	}
	if err := s.Delete(t.Context(), []string{"b", "a", "r"}); err != nil {
		t.Fatal(err)
	}
	var edges int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM apflow_task_dependencies").Scan(&edges); err != nil || edges != 0 {
		t.Fatalf("%d dependency edges left after deleting every task, %v", edges, err)
	}
}

func TestRunMarkerColumnFollowsTheTask(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	create(t, s, mk("root", "", 0))
	active := func() []string {
		rows, err := s.pool.Query(t.Context(), "SELECT id FROM apflow_tasks WHERE run_active")
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if _, err := s.Update(t.Context(), "root", func(t *task.Task) error {
		t.Run = &task.RunMarker{StartedAt: time.Now()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := active(); len(got) != 1 || got[0] != "root" {
		t.Fatalf("roots with a run marker: %v, want [root]", got)
	}
	if _, err := s.Update(t.Context(), "root", func(t *task.Task) error { t.Run = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := active(); len(got) != 0 {
		t.Fatalf("roots with a run marker after clearing it: %v", got)
	}
}

// TestQueriesUseIndexes checks that every query of the store is served by an index, so
// none reads the whole table as the store grows.
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	ctx := t.Context()
	// Enough rows, and fresh statistics, for the planner to prefer indexes.
	var ts []*task.Task
	for i := range 2000 {
		x := mk(fmt.Sprintf("q%d", i), "", i)
		if i%50 != 0 {
			x.ParentID = fmt.Sprintf("q%d", i-i%50)
		}
		x.TaskTreeID = fmt.Sprintf("tree%d", i/50)
		x.UserID = fmt.Sprintf("user%d", i%40)
		x.Dependencies = []task.Dependency{{ID: fmt.Sprintf("q%d", max(i-1, 0))}}
		ts = append(ts, x)
	}
	create(t, s, ts...)
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	listSQL := func(f store.Filter) (string, []any) {
		cond, args := where(f)
		return "SELECT id FROM apflow_tasks WHERE " + cond + " ORDER BY " + newestFirst + " LIMIT 100", args
	}
	type query struct {
		name, sql string
		args      []any
	}
	qs := []query{
		{"get", "SELECT body FROM apflow_tasks WHERE id = $1", []any{"q7"}},
		{"children", "SELECT id, body FROM apflow_tasks WHERE parent_id = $1 ORDER BY priority, seq, id", []any{"q50"}},
		{"tree", "SELECT id, body FROM apflow_tasks WHERE tree_id = $1 ORDER BY seq, id", []any{"tree3"}},
		{"dependents", "SELECT task_id FROM apflow_task_dependencies WHERE dependency_id = $1", []any{"q9"}},
		{"runs", "SELECT id FROM apflow_tasks WHERE run_active", nil},
	}
	for _, f := range []store.Filter{{}, {RootOnly: true}, {Status: task.Pending}, {UserID: "user3"}, {TreeID: "tree2"}, {ParentID: "q100"}} {
		sql, args := listSQL(f)
		qs = append(qs, query{fmt.Sprintf("list %+v", f), sql, args})
	}
	for _, q := range qs {
		rows, err := s.pool.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		plan := strings.Join(lines, "\n")
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s reads the whole table:\n%s", q.name, plan)
		}
	}
}

func TestKVConformance(t *testing.T) {
	t.Parallel()
	storetest.RunKV(t, func(t *testing.T) *Store {
		s, _ := setup(t, Options{})
		return s
	})
}

// TestKVDropOfANameNeverWritten: dropping a space nothing was written to (a mistyped
// plugin id) frees nothing and leaves no row behind.
func TestKVDropOfANameNeverWritten(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	u, err := s.KVDropSpace(t.Context(), store.KVSpace{Scope: "alice", Plugin: "typo"})
	if err != nil || u != (store.KVUsage{}) {
		t.Fatalf("KVDropSpace = %+v, %v; want nothing freed", u, err)
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM apflow_kv_usage WHERE plugin = 'typo'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d usage rows of the dropped name (%v), want none", n, err)
	}
}

func TestLogsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLogs(t, func(t *testing.T) *Store {
		s, _ := setup(t, Options{})
		return s
	})
}

// TestDeleteSiblingsAtOnce: two Deletes of a parent's last two children at the same time
// leave the parent without has_children, whichever commits last.
func TestDeleteSiblingsAtOnce(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	ctx := t.Context()
	for i := range 20 {
		r := &task.Task{ID: fmt.Sprintf("r%d", i), Name: "r", Status: task.Pending, HasChildren: true, Inputs: map[string]any{}}
		r.TaskTreeID = r.ID
		kids := []*task.Task{r}
		for _, k := range []string{"b", "c"} {
			kids = append(kids, &task.Task{ID: fmt.Sprintf("%s%d", k, i), Name: k, ParentID: r.ID, TaskTreeID: r.ID, Status: task.Pending, Inputs: map[string]any{}})
		}
		if err := s.Create(ctx, kids); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, k := range kids[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Delete(ctx, []string{k.ID}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got, err := s.Get(ctx, r.ID); err != nil || got.HasChildren {
			t.Fatalf("%s after both children were deleted at once: has_children %v (%v)", r.ID, got != nil && got.HasChildren, err)
		}
	}
}
