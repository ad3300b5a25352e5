package badgerstore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate allocates the file's blocks up to size (and extends it), so that writing
// within them changes no metadata the next fdatasync would have to commit. A file
// system that cannot preallocate leaves the file to grow as it is written.
func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	return err
}

// datasync writes the file's data to the disk, and of its metadata only what reading the
// data needs (fdatasync).
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
