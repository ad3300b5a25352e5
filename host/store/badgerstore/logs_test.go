package badgerstore

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
)

func TestLogsConformance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"OnDisk", Options{}},
		{"InMemory", Options{InMemory: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.RunLogs(t, func(t *testing.T) *Store { return setup(t, c.opts) })
		})
	}
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
