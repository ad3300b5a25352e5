package badgerstore

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestJournalLeavesNothingUnsynced: once a commit, a checkpoint or a refused commit has
// returned, no page of the journal waits in the page cache (dirty or under writeback),
// whether it writes directly, through the page cache, or fell back from the first: what
// was acknowledged is on the disk.
func TestJournalLeavesNothingUnsynced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		direct, fallBack bool
	}{{"page cache", false, false}, {"direct", true, false}, {"direct, refused", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newModeJournal(t, tc.direct)
			j.syncFiles = func(string) error { return nil }
			if tc.fallBack {
				j.direct.pwrite = func([]byte, int64) (int, error) { return 0, syscall.EINVAL }
			}
			unsynced := func(after string) {
				t.Helper()
				var st unix.Cachestat_t
				if err := unix.Cachestat(uint(j.f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
					t.Skipf("cachestat (Linux 6.5 and later): %v", err)
				}
				if n := st.Dirty + st.Writeback; n != 0 {
					t.Fatalf("after %s: %d pages of the journal not on the disk", after, n)
				}
			}
			unsynced("the reset")
			for i := range 40 {
				if err := j.commitWith(func() error { return nil }, func() {}, []write{set("k", strings.Repeat("v", 200*i+1))}); err != nil {
					t.Fatal(err)
				}
				unsynced("a commit")
			}
			if err := j.checkpoint(); err != nil {
				t.Fatal(err)
			}
			unsynced("a checkpoint")
			if err := j.commitWith(func() error { return errors.New("refused") }, func() {}, []write{set("x", "y")}); err == nil {
				t.Fatal("the refused commit succeeded")
			}
			unsynced("a refused commit")
		})
	}
}

// TestDirectAlignment: direct writes are refused where statx says the file takes no
// direct I/O or needs more than directBlock of alignment, and left to the first write
// where it does not say.
func TestDirectAlignment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		reported         bool
		offset, memory   uint32
		wantDirectWrites bool
	}{
		{"not reported (before Linux 6.1)", false, 0, 0, true},
		{"512-byte sectors", true, 512, 4, true},
		{"4 KiB sectors", true, 4096, 4096, true},
		{"no direct I/O", true, 0, 0, false},
		{"a larger alignment in the file", true, 8192, 4, false},
		{"a larger alignment in memory", true, 512, 8192, false},
	} {
		if err := dioAlignment(tc.reported, tc.offset, tc.memory); (err == nil) != tc.wantDirectWrites {
			t.Errorf("%s: %v, want direct writes %v", tc.name, err, tc.wantDirectWrites)
		}
	}
}
