package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestSchedulesMigrationCopiesStoredSchedules: migration 0008 fills the schedule columns
// of tasks stored before it, so Due and Scheduled find them.
func TestSchedulesMigrationCopiesStoredSchedules(t *testing.T) {
	t.Parallel()
	dsn := pg.Database(t)
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := migrate(t.Context(), conn, ms[:7]); err != nil {
		t.Fatal(err)
	}
	job := mk("job", "", 0)
	job.TaskTreeID = "job"
	job.ScheduleType, job.ScheduleExpression, job.ScheduleEnabled = "interval", "60", true
	job.NextRunAt = time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC)
	off := mk("off", "", 1)
	off.TaskTreeID = "off"
	off.ScheduleType, off.ScheduleExpression = "daily", "09:00"
	for _, x := range []*task.Task{job, off, mk("plain", "", 2)} {
		body, err := x.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(t.Context(), `INSERT INTO apflow_tasks (id, status, priority, seq, body)
			VALUES ($1, 'pending', 2, $2, $3)`, x.ID, x.Seq, string(body)); err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, Options{DSN: dsn}) // applies 0008
	due, err := s.Due(t.Context(), store.DueQuery{Before: job.NextRunAt})
	if err != nil || len(due) != 1 || due[0].ID != "job" {
		t.Fatalf("Due after the migration = %v, %v; want job", due, err)
	}
	listed, n, err := s.Scheduled(t.Context(), store.ScheduleQuery{})
	if err != nil || n != 2 || listed[0].ID != "job" || listed[1].ID != "off" {
		t.Fatalf("Scheduled after the migration: %d tasks, %v; want job, off", n, err)
	}
}
