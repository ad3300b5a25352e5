package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema step: the SQL that takes the schema from version-1 to version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationLockKey is the pg_advisory_xact_lock key that serializes schema migrations of
// every apflow node on one database ("apflow" in ASCII).
const migrationLockKey int64 = 0x6170666c6f77

// ErrSchemaTooNew is matched (errors.Is) by the error of Open when the database's schema
// is newer than this binary knows: a newer apflow migrated it, and this one would misread
// it.
var ErrSchemaTooNew = errors.New("the database schema is newer than this apflow binary")

type tooNewError struct{ db, known int }

func (e *tooNewError) Error() string {
	return fmt.Sprintf("the database schema is at version %d and this apflow binary knows versions up to %d: upgrade apflow on this node (it refuses to run on a schema it does not know)", e.db, e.known)
}

func (e *tooNewError) Unwrap() error { return ErrSchemaTooNew }

// loadMigrations reads the embedded migrations: files NNNN_name.sql, numbered 1, 2, ...
// without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	out := make([]migration, 0, len(names))
	for _, name := range names { // Glob returns names in lexical order
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_<what>.sql", base)
		}
		if v != len(out)+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions are 1, 2, ... without gaps)", base, v, len(out)+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	if len(out) == 0 {
		return nil, errors.New("no migrations embedded")
	}
	return out, nil
}

// SchemaVersion is the schema version this binary creates and expects.
func SchemaVersion() int {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		panic(err) // the embedded files are checked by TestMigrationFiles
	}
	return len(ms)
}

// migrate brings the database's schema to the newest version in ms, in one transaction
// under an advisory lock, so nodes starting at once apply each migration once and none
// sees a half-migrated schema. It is a no-op on an up-to-date schema, and refuses
// (ErrSchemaTooNew) one newer than ms.
func migrate(ctx context.Context, conn *pgx.Conn, ms []migration) (applied int, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return 0, fmt.Errorf("take the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS apflow_schema_version (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("create the schema version table: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM apflow_schema_version").Scan(&current); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if current > len(ms) {
		return 0, &tooNewError{db: current, known: len(ms)}
	}
	for _, m := range ms[current:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return 0, fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO apflow_schema_version (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return 0, fmt.Errorf("record migration %s: %w", m.name, err)
		}
		applied++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit migrations: %w", err)
	}
	return applied, nil
}
