package registry

import (
	"os"
	"syscall"
)

// fileIdentity returns what, besides size and modification time, tells a rewritten file
// from an untouched one: the inode and the status change time, which no ordinary write,
// copy or rename can keep.
func fileIdentity(st os.FileInfo) (inode uint64, changeNS int64) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Ino, sys.Ctim.Nano()
	}
	return 0, 0
}
