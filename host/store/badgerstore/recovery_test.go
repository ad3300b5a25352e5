package badgerstore

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/store"
)

func TestOpenMemTableSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		recorded  string // memTableFile's content; "" for none
		log       int64  // the size of a *.mem file left; 0 for none
		requested int64
		want      int64
		// wantRecord is the record once the size is chosen, before the open settles it.
		wantRecord int64
	}{
		{"a new store", "", 0, 8 << 20, 8 << 20, 8 << 20},
		{"closed by a larger writer: lowered only once the open holds the lock", "33554432\n", 0, 8 << 20, 8 << 20, 32 << 20},
		{"left by a larger writer", "33554432\n", 1 << 20, 8 << 20, 32 << 20, 32 << 20},
		{"left by a smaller writer", "8388608\n", 16 << 20, 32 << 20, 32 << 20, 32 << 20},
		{"left by a writer that recorded nothing: half its log", "", 8 << 20, 1 << 20, 4 << 20, 4 << 20},
		{"a record that is not a size: ignored", "lots\n", 2 << 20, 8 << 20, 8 << 20, 8 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.recorded != "" {
				writeTestFile(t, filepath.Join(dir, memTableFile), tc.recorded)
			}
			if tc.log > 0 {
				writeTestFile(t, filepath.Join(dir, "00001.mem"), "")
				if err := os.Truncate(filepath.Join(dir, "00001.mem"), tc.log); err != nil {
					t.Fatal(err)
				}
			}
			got, recorded, err := openMemTableSize(dir, tc.requested, hclog.NewNullLogger())
			if err != nil || got != tc.want {
				t.Fatalf("openMemTableSize = %d, %v; want %d", got, err, tc.want)
			}
			if rec, err := readMemTableSize(dir); err != nil || rec != tc.wantRecord {
				t.Errorf("recorded %d, %v; want %d", rec, err, tc.wantRecord)
			}
			if recorded != tc.wantRecord {
				t.Errorf("openMemTableSize reports %d recorded; want %d", recorded, tc.wantRecord)
			}
			if err := settleMemTableSize(dir, got, recorded); err != nil {
				t.Fatal(err)
			}
			if rec, err := readMemTableSize(dir); err != nil || rec != got {
				t.Errorf("recorded %d, %v once settled; want %d", rec, err, got)
			}
		})
	}
}

// TestOpenAfterACrashWithLargerMemtables: a process with 4 MiB memtables dies with more
// in its write-ahead log than a 1 MiB memtable holds (its files are copied while it
// runs, as a crash would leave them); the store then opens with 1 MiB asked, replays the
// log with the writer's size (Badger would exit the process at 1 MiB) and keeps every
// task, and once closed opens with 1 MiB again.
func TestOpenAfterACrashWithLargerMemtables(t *testing.T) {
	t.Parallel()
	dir, crashed := t.TempDir(), t.TempDir()
	s, err := Open(Options{Dir: dir, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ts := bigTree("m", 3000)
	if err := s.Create(ctx, ts); err != nil {
		t.Fatal(err)
	}
	copyDir(t, dir, crashed)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A 1 MiB memtable's arena is about 1.3 MiB, and holds less of a log than that.
	if n := logBytes(t, crashed); n <= 3<<19 {
		t.Fatalf("the write-ahead log left holds %d bytes, not more than a 1 MiB memtable takes", n)
	}
	s, err = Open(Options{Dir: crashed, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.db.Opts().MemTableSize; got != 4<<20 {
		t.Errorf("opened with %d-byte memtables, want the writer's %d", got, 4<<20)
	}
	if n, err := s.Count(ctx, store.Filter{}); err != nil || n != len(ts) {
		t.Fatalf("Count after the crash = %d, %v; want %d", n, err, len(ts))
	}
	checkIndexes(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: crashed, MemTableSize: 1 << 20})
	if got := s.db.Opts().MemTableSize; got != 1<<20 {
		t.Errorf("reopened after a clean close with %d-byte memtables, want %d", got, 1<<20)
	}
	if n, err := s.Count(ctx, store.Filter{}); err != nil || n != len(ts) {
		t.Fatalf("Count after the reopen = %d, %v; want %d", n, err, len(ts))
	}
}

// logBytes returns the size of the memtables' write-ahead logs in dir that is written:
// the files are larger, and zero past what was written.
func logBytes(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	paths, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n += len(strings.TrimRight(string(b), "\x00"))
	}
	return n
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err == nil {
			_, err = io.Copy(out, in)
		}
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
