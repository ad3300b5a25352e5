package badgerstore

import (
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/store/storetest"
)

func TestMappingsWarning(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		tables, limit int
		warn          bool
	}{
		{"a small store", 200, 65530, false},
		{"half the cap", 32765, 65530, false},
		{"over half", 32766, 65530, true},
		{"a raised cap", 40000, 262144, false},
		{"an unknown cap", 40000, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mappingsWarning(c.tables, c.limit)
			if (got != "") != c.warn {
				t.Fatalf("mappingsWarning(%d, %d) = %q, want a warning: %v", c.tables, c.limit, got, c.warn)
			}
			if c.warn && !strings.Contains(got, "vm.max_map_count=262120") {
				t.Errorf("the warning %q does not say how to raise the cap", got)
			}
		})
	}
}

// TestTableCount: tableCount counts the tables of every level, as Badger describes them
// one by one.
func TestTableCount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir, NoSync: true, MemTableSize: 1 << 20})
	if err := s.Create(t.Context(), storetest.BenchTasks("c", 5000)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // flushes the memtable: at least one table
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: dir})
	want := 0
	for _, n := range tablesPerLevel(s) {
		want += n
	}
	if got := tableCount(s.db); got != want || want == 0 {
		t.Fatalf("tableCount = %d, want %d (and some)", got, want)
	}
}
