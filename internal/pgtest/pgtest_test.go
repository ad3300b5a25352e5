package pgtest

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

var pg = New()

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

func TestDatabaseIsDurableAndSeparate(t *testing.T) {
	t.Parallel()
	a, b := pg.Database(t), pg.Database(t)
	if a == b {
		t.Fatalf("two calls returned the same database %s", a)
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, setting := range []string{"fsync", "synchronous_commit"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", setting).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "on" {
			t.Errorf("%s = %s, want on", setting, v)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	var n int
	if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("table of database a visible in b: %d, %v", n, err)
	}
}

func TestServerDoesNotRunAsRoot(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, pg.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, os.TempDir()) {
		t.Fatalf("data directory %s is not under the temporary directory", dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Fatalf("data directory %s is owned by root: PostgreSQL runs as root", dir)
	}
}

func TestDBName(t *testing.T) {
	for _, c := range []struct {
		test string
		seq  int64
		want string
	}{
		{"TestX", 1, "t1_testx"},
		{"TestConformance/Create-Get_Round trip", 12, "t12_testconformance_create_get_round_trip"},
		{strings.Repeat("A", 100), 3, "t3_" + strings.Repeat("a", 60)},
	} {
		if got := dbName(c.test, c.seq); got != c.want {
			t.Errorf("dbName(%q, %d) = %q, want %q", c.test, c.seq, got, c.want)
		}
	}
}

// recorder is a testing.TB that records Fatal and Skip instead of stopping the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recorder) Fatal(a ...any)                 { r.fatal = fmt.Sprint(a...) }
func (r *recorder) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

// TestMissingBinariesSkipUnlessRequired: without PostgreSQL a test is skipped, but fails
// when APFLOW_REQUIRE_PG is set (CI), so CI cannot pass by skipping.
func TestMissingBinariesSkipUnlessRequired(t *testing.T) {
	for _, c := range []struct {
		require  string
		wantSkip bool
	}{{"", true}, {"1", false}} {
		t.Setenv(RequireEnv, c.require)
		s := New()
		s.once.Do(func() { s.skip = "PostgreSQL binaries not found" })
		r := &recorder{TB: t}
		if dsn := s.Database(r); dsn != "" {
			t.Fatalf("Database without a server returned %q", dsn)
		}
		if c.wantSkip && (r.skip == "" || r.fatal != "") {
			t.Errorf("%s=%q: skip %q, fatal %q; want a skip", RequireEnv, c.require, r.skip, r.fatal)
		}
		if !c.wantSkip && (r.fatal == "" || r.skip != "" || !strings.Contains(r.fatal, RequireEnv)) {
			t.Errorf("%s=%q: skip %q, fatal %q; want a failure naming %s", RequireEnv, c.require, r.skip, r.fatal, RequireEnv)
		}
	}
}
