package main

import (
	"errors"
	"io/fs"
	"testing"
)

// TestSystemMemory: the machine's memory, or its cgroup's limit when lower; a cgroup
// without a limit, or files that do not parse or cannot be read, count for nothing.
func TestSystemMemory(t *testing.T) {
	t.Parallel()
	const meminfo = "MemTotal:       25165824 kB\nMemFree:        1000 kB\n" // 24 GiB
	tests := []struct {
		name  string
		files map[string]string
		want  uint64
	}{
		{"machine only", map[string]string{procMemInfo: meminfo}, 24 << 30},
		{"cgroup v2 lower", map[string]string{procMemInfo: meminfo, cgroupV2Max: "4294967296\n"}, 4 << 30},
		{"cgroup v2 without a limit", map[string]string{procMemInfo: meminfo, cgroupV2Max: "max\n"}, 24 << 30},
		{"cgroup v1 lower", map[string]string{procMemInfo: meminfo, cgroupV1Limit: "2147483648\n"}, 2 << 30},
		{"cgroup v1 without a limit", map[string]string{procMemInfo: meminfo, cgroupV1Limit: "9223372036854771712\n"}, 24 << 30},
		{"cgroup higher than the machine", map[string]string{procMemInfo: meminfo, cgroupV2Max: "68719476736"}, 24 << 30},
		{"cgroup only", map[string]string{cgroupV2Max: "1073741824"}, 1 << 30},
		{"nothing readable", map[string]string{}, 0},
		{"meminfo without MemTotal", map[string]string{procMemInfo: "MemFree: 1 kB\n"}, 0},
		{"meminfo in another unit", map[string]string{procMemInfo: "MemTotal: 1 MB\n"}, 0},
		{"meminfo garbled", map[string]string{procMemInfo: "MemTotal: lots kB\n"}, 0},
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
			if got := systemMemory(read); got != tc.want {
				t.Errorf("systemMemory = %d, want %d", got, tc.want)
			}
		})
	}
	if systemMemory(func(string) ([]byte, error) { return nil, errors.New("denied") }) != 0 {
		t.Error("unreadable files gave a size")
	}
}

// FuzzMemoryFiles: the parsers of /proc/meminfo and of a cgroup's limit return 0 or a
// size in bytes for any input, without panicking, and a size read from MemTotal is a
// whole number of KiB.
func FuzzMemoryFiles(f *testing.F) {
	f.Add([]byte("MemTotal:       25165824 kB\n"))
	f.Add([]byte("max\n"))
	f.Add([]byte("9223372036854771712"))
	f.Add([]byte("MemTotal: 18446744073709551615 kB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m := parseMemTotal(b); m%1024 != 0 {
			t.Errorf("parseMemTotal(%q) = %d, not whole KiB", b, m)
		}
		if l := parseCgroupLimit(b); l >= 1<<62 {
			t.Errorf("parseCgroupLimit(%q) = %d, a limit that is none", b, l)
		}
	})
}
