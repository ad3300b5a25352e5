package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

// TestSystemMemory: the machine's memory, or the lowest limit of the process's cgroups
// and their ancestors when lower; a cgroup without a limit, and files that do not parse
// or cannot be read, count for nothing.
func TestSystemMemory(t *testing.T) {
	t.Parallel()
	const (
		meminfo = "MemTotal:       25165824 kB\nMemFree:        1000 kB\n" // 24 GiB
		v2      = "0::/user.slice/app.service\n"
		v1      = "5:devices:/\n4:memory:/process_api/abc\n0::/\n"
		// Lines of this machine's /proc/self/mountinfo: cgroup v2 beside v1's controllers.
		hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
			"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
			"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n" +
			"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	)
	tests := []struct {
		name  string
		files map[string]string
		want  uint64
	}{
		{"machine only", map[string]string{procMemInfo: meminfo}, 24 << 30},
		{"v2: the process's cgroup", map[string]string{procMemInfo: meminfo, procSelfCgroup: v2,
			"/sys/fs/cgroup/user.slice/app.service/memory.max": "4294967296\n"}, 4 << 30},
		{"v2: a parent's limit, lower", map[string]string{procMemInfo: meminfo, procSelfCgroup: v2,
			"/sys/fs/cgroup/user.slice/app.service/memory.max": "max\n", "/sys/fs/cgroup/user.slice/memory.max": "2147483648\n"}, 2 << 30},
		{"v2: a namespace's root", map[string]string{procMemInfo: meminfo, procSelfCgroup: "0::/\n",
			"/sys/fs/cgroup/memory.max": "1073741824\n"}, 1 << 30},
		{"v2: no limit", map[string]string{procMemInfo: meminfo, procSelfCgroup: v2,
			"/sys/fs/cgroup/user.slice/app.service/memory.max": "max\n"}, 24 << 30},
		{"v1: the memory controller's cgroup", map[string]string{procMemInfo: meminfo, procSelfCgroup: v1,
			"/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": "2147483648\n"}, 2 << 30},
		{"v1: controllers listed together", map[string]string{procMemInfo: meminfo, procSelfCgroup: "3:cpu,memory:/job\n",
			"/sys/fs/cgroup/memory/job/memory.limit_in_bytes": "3221225472"}, 3 << 30},
		{"v1: no limit", map[string]string{procMemInfo: meminfo, procSelfCgroup: v1,
			"/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": "9223372036854771712\n"}, 24 << 30},
		{"a limit over the machine's memory", map[string]string{procMemInfo: meminfo, procSelfCgroup: "0::/\n",
			"/sys/fs/cgroup/memory.max": "68719476736"}, 24 << 30},
		{"a cgroup's limit only", map[string]string{procSelfCgroup: "0::/\n", "/sys/fs/cgroup/memory.max": "1073741824"}, 1 << 30},
		{"a limit in another controller's cgroup does not count", map[string]string{procMemInfo: meminfo, procSelfCgroup: "5:devices:/d\n",
			"/sys/fs/cgroup/memory/d/memory.limit_in_bytes": "1073741824"}, 24 << 30},
		{"nothing readable", map[string]string{}, 0},
		{"meminfo without MemTotal", map[string]string{procMemInfo: "MemFree: 1 kB\n"}, 0},
		{"meminfo in another unit", map[string]string{procMemInfo: "MemTotal: 1 MB\n"}, 0},
		{"meminfo garbled", map[string]string{procMemInfo: "MemTotal: lots kB\n"}, 0},
		{"more than maxSystemMemory", map[string]string{procMemInfo: "MemTotal: 18446744073709551615 kB\n"}, maxSystemMemory},
		{"v2 mounted elsewhere (hybrid)", map[string]string{procMemInfo: meminfo, procSelfCgroup: v2,
			procSelfMountInfo: hybrid,
			"/sys/fs/cgroup/unified/user.slice/app.service/memory.max": "1073741824\n",
			"/sys/fs/cgroup/user.slice/app.service/memory.max":         "536870912\n"}, 1 << 30},
		{"v1's memory mounted elsewhere", map[string]string{procMemInfo: meminfo, procSelfCgroup: v1,
			procSelfMountInfo: "30 20 0:30 / /cgroup/mem\\040x rw - cgroup cgroup rw,memory,nosuid\n",
			"/cgroup/mem x/process_api/memory.limit_in_bytes": "2147483648\n"}, 2 << 30},
		{"v1 in a container: its cgroup mounted as the root", map[string]string{procMemInfo: meminfo,
			procSelfCgroup:    "4:memory:/docker/abc\n",
			procSelfMountInfo: "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid master:15 - cgroup cgroup rw,memory\n",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "3221225472\n"}, 3 << 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			read := func(name string) ([]byte, error) {
				if b, ok := tc.files[name]; ok {
					return []byte(b), nil
				}
				return nil, fs.ErrNotExist
			}
			if got := systemMemory(read, mountsOnce(read)); got != tc.want {
				t.Errorf("systemMemory = %d, want %d", got, tc.want)
			}
		})
	}
	denied := func(string) ([]byte, error) { return nil, errors.New("denied") }
	if systemMemory(denied, mountsOnce(denied)) != 0 {
		t.Error("unreadable files gave a size")
	}
}

// TestCgroupLimitFiles: the limit files of each cgroup of /proc/self/cgroup and of its
// ancestors up to its mount's root, under the mount of its hierarchy that mountinfo lists
// (the usual one when it lists none), and none for other controllers.
func TestCgroupLimitFiles(t *testing.T) {
	t.Parallel()
	const cgroup = "12:pids:/x\n4:memory:/a/b\n0::/c/../d\nnonsense\n1:name=systemd:/\n"
	// The files under the usual mount points, of v1's memory controller and of v2.
	usualV1 := []string{"/sys/fs/cgroup/memory/a/b/memory.limit_in_bytes", "/sys/fs/cgroup/memory/a/memory.limit_in_bytes",
		"/sys/fs/cgroup/memory/memory.limit_in_bytes"}
	usualV2 := []string{"/sys/fs/cgroup/d/memory.max", "/sys/fs/cgroup/memory.max"}
	usual := append(slices.Clone(usualV1), usualV2...)
	tests := []struct {
		name, mountInfo string
		want            []string
	}{
		{"the usual mounts", "", usual},
		{"mounts of cgroups below the root", "1 0 0:1 /a /m1 rw - cgroup cgroup rw,memory\n2 0 0:2 /d /m2 rw shared:1 - cgroup2 none rw\n", []string{
			"/m1/b/memory.limit_in_bytes", "/m1/memory.limit_in_bytes", "/m2/memory.max",
		}},
		{"the first mount holding the cgroup", "1 0 0:1 /z /m0 rw - cgroup2 none rw\n2 0 0:2 / /m2 rw - cgroup2 none rw\n", append(slices.Clone(usualV1), "/m2/d/memory.max", "/m2/memory.max")},
		{"a cgroup under no mount's root: none of its kind", "1 0 0:1 /other /m1 rw - cgroup cgroup rw,memory\n", usualV2},
		{"a root that is a prefix of the cgroup's name, not its ancestor", "1 0 0:1 /a/bc /m1 rw - cgroup cgroup rw,memory\n2 0 0:2 /a /m2 rw - cgroup cgroup rw,memory\n", append([]string{"/m2/b/memory.limit_in_bytes", "/m2/memory.limit_in_bytes"}, usualV2...)},
		{"a mount without a source", "1 0 0:1 / /m1 rw - cgroup2  rw\n", append(slices.Clone(usualV1), "/m1/d/memory.max", "/m1/memory.max")},
		{"a root outside the cgroup namespace", "1 0 0:1 /../.. /m1 rw - cgroup cgroup rw,memory\n", usual},
		{"only ASCII blanks separate fields", "1 0 0:1 / /mnt/a\u00a0b\u00a0-\u00a0cgroup2 rw - fuse x rw\n", usual},
		{"lines that are not cgroup mounts", "1 0 0:1 / /m1 rw - cgroup cgroup rw,cpu\n2 0 0:2 / /m2 rw - tmpfs tmpfs rw\n3 0 0:3 relative /m3 rw - cgroup2 none rw\nshort - cgroup2\n", usual},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := cgroupLimitFiles([]byte(cgroup), cgroupMounts([]byte(tc.mountInfo))); !slices.Equal(got, tc.want) {
				t.Errorf("cgroupLimitFiles = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzMemoryFiles: the parsers of /proc/meminfo, /proc/self/cgroup, /proc/self/mountinfo
// and a cgroup's limit take any input without panicking; a MemTotal line in kB reads as
// its bytes (at most maxSystemMemory), a limit that means none reads as 0, mounts have
// clean absolute paths, and every limit file lies under a cgroup mount.
func FuzzMemoryFiles(f *testing.F) {
	f.Add([]byte("MemTotal:       25165824 kB\n"), uint64(25165824))
	f.Add([]byte("max\n"), uint64(0))
	f.Add([]byte("4:memory:/process_api/abc\n0::/\n"), uint64(1<<63))
	f.Add([]byte("0::/a/../../b\n3:cpu,memory:../x\n"), uint64(7))
	f.Add([]byte("35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro master:15 - cgroup cgroup rw,memory\n4:memory:/docker/abc\n"), uint64(0))
	f.Add([]byte("41 31 0:38 /a\\134 /x\\040y rw - cgroup2 cgroup2 rw\n0::/a\\\n"), uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, kb uint64) {
		if m := parseMemTotal(b); m > maxSystemMemory {
			t.Errorf("parseMemTotal(%q) = %d, over maxSystemMemory", b, m)
		}
		line := fmt.Appendf(nil, "MemFree: 3 kB\nMemTotal: %d kB\n", kb)
		if got, want := parseMemTotal(line), min(kb, maxSystemMemory>>10)<<10; got != want {
			t.Errorf("parseMemTotal(%q) = %d, want %d", line, got, want)
		}
		if l := parseCgroupLimit(b); l >= 1<<62 {
			t.Errorf("parseCgroupLimit(%q) = %d, a limit that is none", b, l)
		}
		mounts := cgroupMounts(b)
		for _, m := range mounts {
			if !path.IsAbs(m.root) || path.Clean(m.root) != m.root || !path.IsAbs(m.point) || path.Clean(m.point) != m.point {
				t.Errorf("cgroupMounts(%q) gives %+v", b, m)
			}
		}
		for _, file := range cgroupLimitFiles(b, mounts) {
			under := slices.ContainsFunc(mounts, func(m cgroupMount) bool {
				return m.point == "/" || strings.HasPrefix(file, m.point+"/")
			})
			if !under || path.Clean(file) != file ||
				(path.Base(file) != "memory.max" && path.Base(file) != "memory.limit_in_bytes") {
				t.Errorf("cgroupLimitFiles(%q) gives %q", b, file)
			}
		}
	})
}

// TestMountsReadOnce: the cgroup mounts are read from /proc/self/mountinfo at the first
// call only, and not at all while /proc/self/cgroup cannot be read.
func TestMountsReadOnce(t *testing.T) {
	t.Parallel()
	reads := 0
	files := map[string]string{procMemInfo: "MemTotal: 1048576 kB\n"}
	read := func(name string) ([]byte, error) {
		if name == procSelfMountInfo {
			reads++
		}
		if b, ok := files[name]; ok {
			return []byte(b), nil
		}
		return nil, fs.ErrNotExist
	}
	mounts := mountsOnce(read)
	systemMemory(read, mounts)
	if reads != 0 {
		t.Fatalf("mountinfo read %d times without a /proc/self/cgroup", reads)
	}
	files[procSelfCgroup] = "0::/\n"
	for range 3 {
		if got := systemMemory(read, mounts); got != 1<<30 {
			t.Fatalf("systemMemory = %d, want 1 GiB", got)
		}
	}
	if reads != 1 {
		t.Errorf("mountinfo read %d times, want once", reads)
	}
}
