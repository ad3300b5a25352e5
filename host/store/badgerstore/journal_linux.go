package badgerstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"

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

// allocated is the space the file takes on disk: a sparse file's holes take none.
func allocated(info os.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
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

// openDirect opens path for direct, synchronous writes (direct.go), or fails where the
// file system does not take them.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|unix.O_DIRECT|unix.O_DSYNC, 0)
}

// isDirectRefused reports whether err is a direct write refused for its alignment.
func isDirectRefused(err error) bool { return errors.Is(err, unix.EINVAL) }

// directAlignment fails when the file system reports (statx, Linux 6.1 and later) that
// f takes no direct I/O, or only at an alignment larger than directBlock. A kernel that
// does not say leaves it to the first direct write (useDirectWrites).
func directAlignment(f *os.File) error {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st); err != nil {
		return nil
	}
	return dioAlignment(st.Mask&unix.STATX_DIOALIGN != 0, st.Dio_offset_align, st.Dio_mem_align)
}

// dioAlignment is directAlignment's verdict on what statx reported: whether it knew
// (reported), and the alignments direct I/O needs in the file and in memory.
func dioAlignment(reported bool, offset, memory uint32) error {
	switch {
	case !reported:
		return nil
	case offset == 0:
		return errors.New("the file system takes no direct I/O for this file")
	case offset > directBlock || memory > directBlock:
		return fmt.Errorf("direct I/O needs an alignment of %d bytes in the file and %d in memory, more than %d",
			offset, memory, directBlock)
	}
	return nil
}
