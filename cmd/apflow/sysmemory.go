package main

import (
	"bufio"
	"bytes"
	"strconv"
)

// Where the memory a process may use is read from: the limit of its cgroup (v2, then
// v1) and the machine's memory. systemMemory takes the smallest of those it finds.
const (
	cgroupV2Max   = "/sys/fs/cgroup/memory.max"
	cgroupV1Limit = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	procMemInfo   = "/proc/meminfo"
)

// systemMemory returns the bytes of memory the process may use: the machine's memory, or
// its cgroup's limit when lower; 0 when none of them can be read (not Linux). read is
// os.ReadFile, or a test's.
func systemMemory(read func(string) ([]byte, error)) uint64 {
	var mem uint64
	if b, err := read(procMemInfo); err == nil {
		mem = parseMemTotal(b)
	}
	for _, f := range []string{cgroupV2Max, cgroupV1Limit} {
		b, err := read(f)
		if err != nil {
			continue
		}
		if l := parseCgroupLimit(b); l > 0 && (mem == 0 || l < mem) {
			mem = l
		}
	}
	return mem
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
		if err != nil || kb > 1<<53 {
			return 0
		}
		return kb << 10
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
