package badgerstore

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
)

func TestLogsConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunLogs(t, newStore) })
}

func TestQueuedLogsConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunQueuedLogs(t, newStore) })
}

// TestLogsSurviveReopen: lines and the next Seq are on disk.
func TestLogsSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := store.LogBounds{MaxLines: 2, MaxBytes: 100}
	for i, msg := range []string{"one", "two", "three"} {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendLogs(t.Context(), "a", []store.LogLine{{Message: msg, Level: "info"}}, b); err != nil {
			t.Fatal(err)
		}
		lines, _, err := s.Logs(t.Context(), "a", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if last := lines[len(lines)-1]; last.Seq != int64(i+1) || last.Message != msg || len(lines) != min(i+1, 2) {
			t.Fatalf("after reopen %d: lines %+v", i, lines)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
