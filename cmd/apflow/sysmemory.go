package main

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Where the memory a process may use is read from: the machine's memory, and the memory
// limits of the cgroups the process is in (/proc/self/cgroup) and of their ancestors,
// under the mounts of cgroup v2 and of v1's memory controller that
// /proc/self/mountinfo lists, or their usual mount points when it lists none.
const (
	procMemInfo       = "/proc/meminfo"
	procSelfCgroup    = "/proc/self/cgroup"
	procSelfMountInfo = "/proc/self/mountinfo"
	cgroupV2Mount     = "/sys/fs/cgroup"
	cgroupV1Mount     = "/sys/fs/cgroup/memory"
)

// maxSystemMemory bounds what systemMemory returns (1 PiB), so that a pace computed from
// it cannot overflow.
const maxSystemMemory = 1 << 50

// systemMemory returns the bytes of memory the process may use: the machine's memory, or
// the lowest limit of its cgroups when lower; 0 when none of them can be read (not Linux).
// read is os.ReadFile, or a test's; mounts gives the cgroup mounts (mountsOnce).
func systemMemory(read func(string) ([]byte, error), mounts func() []cgroupMount) uint64 {
	var mem uint64
	if b, err := read(procMemInfo); err == nil {
		mem = parseMemTotal(b)
	}
	if b, err := read(procSelfCgroup); err == nil {
		for _, f := range cgroupLimitFiles(b, mounts()) {
			if b, err := read(f); err == nil {
				if l := parseCgroupLimit(b); l > 0 && (mem == 0 || l < mem) {
					mem = l
				}
			}
		}
	}
	return min(mem, maxSystemMemory)
}

// mountsOnce returns what gives the cgroup mounts of /proc/self/mountinfo (cgroupMounts),
// read with read at its first call and kept: a process's mounts do not change under it
// as its cgroups' limits may, and a host's mountinfo can hold thousands of lines (about
// 3 ms to read and parse 5,000), which the pace would otherwise read at every collection
// of a large heap.
func mountsOnce(read func(string) ([]byte, error)) func() []cgroupMount {
	return sync.OnceValue(func() []cgroupMount {
		b, _ := read(procSelfMountInfo) // none: the usual mount points
		return cgroupMounts(b)
	})
}

// processMemory returns the memory the process may use as the collector's pacer reads it
// (gcMemory, its cgroups' mounts read once, at the first call).
func processMemory() func() uint64 {
	mounts := mountsOnce(os.ReadFile)
	return func() uint64 { return gcMemory(os.ReadFile, mounts) }
}

// cgroupMount is a mount of a cgroup hierarchy: its cgroup root, mounted at point.
type cgroupMount struct {
	root, point string
	v1Memory    bool // cgroup v1's memory controller, else cgroup v2
}

// cgroupMounts returns the mounts of cgroup v2 and of v1's memory controller that
// /proc/self/mountinfo (b) lists, in its order; for a kind it lists none of, the usual
// mount point (cgroupV2Mount, cgroupV1Mount) with the hierarchy's root.
func cgroupMounts(b []byte) []cgroupMount {
	var mounts []cgroupMount
	for line := range strings.SplitSeq(string(b), "\n") {
		if m, ok := parseCgroupMount(line); ok {
			mounts = append(mounts, m)
		}
	}
	for _, v1 := range []bool{false, true} {
		if !slices.ContainsFunc(mounts, func(m cgroupMount) bool { return m.v1Memory == v1 }) {
			point := cgroupV2Mount
			if v1 {
				point = cgroupV1Mount
			}
			mounts = append(mounts, cgroupMount{root: "/", point: point, v1Memory: v1})
		}
	}
	return mounts
}

// parseCgroupMount reads one line of /proc/self/mountinfo ("35 31 0:32 / /sys/fs/cgroup/memory
// rw,relatime - cgroup cgroup rw,memory"): a mount of cgroup v2, or of v1 with the memory
// controller among its super options; false for any other line.
//
// The kernel separates the fields with one blank each and escapes blanks inside them, so
// a line is split at each blank: a field may be empty (a mount without a source), and
// only ASCII blanks separate. A root outside the reader's cgroup namespace ("/.."), whose
// cgroups the process cannot name, is no mount of its.
func parseCgroupMount(line string) (cgroupMount, bool) {
	f := strings.Split(line, " ")
	sep := slices.Index(f, "-")
	if sep < 6 || len(f) < sep+4 {
		return cgroupMount{}, false
	}
	m := cgroupMount{root: unescapeMountPath(f[3]), point: unescapeMountPath(f[4])}
	if slices.Contains(strings.Split(m.root, "/"), "..") {
		return cgroupMount{}, false
	}
	switch f[sep+1] {
	case "cgroup2":
	case "cgroup":
		if !slices.Contains(strings.Split(f[sep+3], ","), "memory") {
			return cgroupMount{}, false
		}
		m.v1Memory = true
	default:
		return cgroupMount{}, false
	}
	if !path.IsAbs(m.root) || !path.IsAbs(m.point) {
		return cgroupMount{}, false
	}
	m.root, m.point = path.Clean(m.root), path.Clean(m.point)
	return m, true
}

// unescapeMountPath undoes mountinfo's escapes of a path: a byte as a backslash and
// three octal digits (a blank is "\040").
func unescapeMountPath(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && '0' <= s[i+1] && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// cgroupLimitFiles returns the files holding the memory limits of the cgroups named in
// /proc/self/cgroup (b), each cgroup's and its ancestors' up to its mount's root:
// memory.max for cgroup v2 (the "0::" line), memory.limit_in_bytes for v1's memory
// controller, under the first of mounts of that kind whose root holds the cgroup. A
// cgroup under no mount's root has no files: the mounted cgroups are not its ancestors.
func cgroupLimitFiles(b []byte, mounts []cgroupMount) []string {
	var files []string
	for line := range strings.SplitSeq(string(b), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		controllers, dir, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || !strings.HasPrefix(dir, "/") {
			continue
		}
		var v1 bool
		var file string
		switch {
		case id == "0" && controllers == "":
			file = "memory.max"
		case slices.Contains(strings.Split(controllers, ","), "memory"):
			v1, file = true, "memory.limit_in_bytes"
		default:
			continue
		}
		m, rel, ok := mountOf(mounts, v1, path.Clean(dir))
		if !ok {
			continue
		}
		for ; ; rel = path.Dir(rel) {
			files = append(files, path.Join(m.point, rel, file))
			if rel == "/" {
				break
			}
		}
	}
	return files
}

// mountOf returns the first of mounts of the kind v1 whose root holds the cgroup dir,
// and dir relative to that root; false when none does.
func mountOf(mounts []cgroupMount, v1 bool, dir string) (cgroupMount, string, bool) {
	for _, m := range mounts {
		if m.v1Memory == v1 && (m.root == "/" || dir == m.root || strings.HasPrefix(dir, m.root+"/")) {
			return m, path.Join("/", strings.TrimPrefix(dir, m.root)), true
		}
	}
	return cgroupMount{}, "", false
}

// parseMemTotal returns the MemTotal line of /proc/meminfo in bytes ("MemTotal: 24576000
// kB"), or 0 when it has none or it does not parse.
func parseMemTotal(b []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemTotal:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return min(kb, maxSystemMemory>>10) << 10
	}
	return 0
}

// parseCgroupLimit returns a cgroup's memory limit in bytes, or 0 when there is none
// ("max" in v2, a value near 2^63 in v1) or it does not parse.
func parseCgroupLimit(b []byte) uint64 {
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil || n >= 1<<62 {
		return 0
	}
	return n
}
