package badgerstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// Badger keeps every table of the store mapped into memory (tables of 1 MiB: about a
// thousand a GB), and Linux caps a process's mappings at vm.max_map_count (65,530 by
// default). Past the cap Badger cannot map the next table it builds, in a flush or a
// compaction, and the store stops taking writes; so Open warns while there is room to
// act, once the tables take half of it.

// tableCount is the number of tables the store holds, at every level, from Badger's
// summary of its levels (db.Tables would read every table's index to describe it).
func tableCount(db *badger.DB) int {
	n := 0
	for _, l := range db.Levels() {
		n += l.NumTables
	}
	return n
}

// maxMapCountFile is where Linux states the cap.
const maxMapCountFile = "/proc/sys/vm/max_map_count"

// maxMapCount is the system's cap on a process's mappings, or 0 where it cannot be read.
func maxMapCount() int {
	b, err := os.ReadFile(maxMapCountFile)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return n
}

// mappingsWarning is the warning for a store of tables tables under a cap of limit
// mappings (0: unknown), or "" while they take at most half of it.
func mappingsWarning(tables, limit int) string {
	if limit <= 0 || tables <= limit/2 {
		return ""
	}
	return fmt.Sprintf("the task store's %d tables take over half of the %d memory mappings the system allows a process (vm.max_map_count); "+
		"past it the store stops taking writes: raise it (sysctl -w vm.max_map_count=%d), or delete trees the store no longer needs", tables, limit, 4*limit)
}
