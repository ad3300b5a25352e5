package badgerstore

import (
	"os"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestZZDebug(t *testing.T) {
	src := os.Getenv("ZZDIR")
	if src == "" {
		t.Skip()
	}
	dir := t.TempDir()
	copyDir(t, src, dir)
	opts := Options{Dir: dir, MemTableSize: 3 << 20}.withDefaults()
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		db, err := badger.Open(opts.badgerOptions())
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		j, _, err := openJournal(db, dir, opts.Logger)
		t2 := time.Now()
		undoBigWrites(db, j)
		t3 := time.Now()
		undoInterrupted(db, j)
		t4 := time.Now()
		indexSchedules(db, j)
		t5 := time.Now()
		j.close()
		t6 := time.Now()
		db.Close()
		t7 := time.Now()
		t.Logf("badger open %v journal %v bigwrites %v interrupted %v schedules %v jclose %v badger close %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t5.Sub(t4), t6.Sub(t5), t7.Sub(t6))
	}
}
