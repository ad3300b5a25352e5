package main

import (
	"bufio"
	"bytes"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Where the memory a process may use is read from: the machine's memory, and the memory
// limits of the cgroups the process is in (/proc/self/cgroup) and of their ancestors,
// under the usual mount points of cgroup v2 and of v1's memory controller.
const (
	procMemInfo    = "/proc/meminfo"
	procSelfCgroup = "/proc/self/cgroup"
	cgroupV2Mount  = "/sys/fs/cgroup"
	cgroupV1Mount  = "/sys/fs/cgroup/memory"
)

// maxSystemMemory bounds what systemMemory returns (1 PiB), so that a pace computed from
// it cannot overflow.
const maxSystemMemory = 1 << 50

// systemMemory returns the bytes of memory the process may use: the machine's memory, or
// the lowest limit of its cgroups when lower; 0 when none of them can be read (not Linux).
// read is os.ReadFile, or a test's.
func systemMemory(read func(string) ([]byte, error)) uint64 {
	var mem uint64
	if b, err := read(procMemInfo); err == nil {
		mem = parseMemTotal(b)
	}
	if b, err := read(procSelfCgroup); err == nil {
		for _, f := range cgroupLimitFiles(b) {
			if b, err := read(f); err == nil {
				if l := parseCgroupLimit(b); l > 0 && (mem == 0 || l < mem) {
					mem = l
				}
			}
		}
	}
	return min(mem, maxSystemMemory)
}

// cgroupLimitFiles returns the files holding the memory limits of the cgroups named in
// /proc/self/cgroup (b), each cgroup's and its ancestors' up to the root: memory.max for
// cgroup v2 (the "0::" line), memory.limit_in_bytes for v1's memory controller. A
// process in a container with its own cgroup namespace sees its cgroup as the root.
func cgroupLimitFiles(b []byte) []string {
	var files []string
	for line := range strings.SplitSeq(string(b), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		controllers, dir, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || !strings.HasPrefix(dir, "/") {
			continue
		}
		var mount, file string
		switch {
		case id == "0" && controllers == "":
			mount, file = cgroupV2Mount, "memory.max"
		case slices.Contains(strings.Split(controllers, ","), "memory"):
			mount, file = cgroupV1Mount, "memory.limit_in_bytes"
		default:
			continue
		}
		for dir = path.Clean(dir); ; dir = path.Dir(dir) {
			files = append(files, path.Join(mount, dir, file))
			if dir == "/" {
				break
			}
		}
	}
	return files
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
