//go:build !linux

package badgerstore

import (
	"errors"
	"os"
)

// preallocate does nothing where fallocate is not available: the journal grows as it is
// written, and each sync commits its new length too.
func preallocate(*os.File, int64) error { return nil }

// allocated is the file's size.
func allocated(info os.FileInfo) int64 { return info.Size() }

// datasync syncs the file (fsync).
func datasync(f *os.File) error { return f.Sync() }

// openDirect fails: the journal writes through the page cache and syncs (fsync).
func openDirect(string) (*os.File, error) { return nil, errors.ErrUnsupported }

// isDirectRefused is never asked: no direct writes here.
func isDirectRefused(error) bool { return false }

// directAlignment is never asked: openDirect fails here.
func directAlignment(*os.File) error { return nil }
