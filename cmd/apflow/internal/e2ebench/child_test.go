package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNewChildEnv: a child runs with gctrace on and the environment it is given over
// this process's, so that a base measured at baseGOGC collects back to back even where
// the harness itself runs with a GOGC of its own.
func TestNewChildEnv(t *testing.T) {
	t.Setenv("GOGC", "50")
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"inherited", nil, "50 gctrace=1"},
		{"base", []string{baseGOGC}, "1 gctrace=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := newChild(t.Context(), c.env, "/bin/sh", "-c", `echo "$GOGC $GODEBUG"`)
			if err := ch.start(); err != nil {
				t.Fatal(err)
			}
			if err := ch.wait(); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(ch.stdoutText()); got != c.want {
				t.Errorf("the child saw %q, want %q", got, c.want)
			}
		})
	}
}

// TestBaseCollectsBackToBack: warmPlugin measures the base of the heap per task with
// baseGOGC, whatever pace the harness runs at. The apflow here is a script that reports
// a collection whose live heap, in MB, is its GOGC.
func TestBaseCollectsBackToBack(t *testing.T) {
	t.Setenv("GOGC", "50")
	bin := filepath.Join(t.TempDir(), "apflow")
	script := "#!/bin/sh\necho \"gc 1 @0.001s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, 1->1->${GOGC:-100} MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\" >&2\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := options{work: t.TempDir(), modes: []string{"run"}, timeout: time.Minute}
	p := &plugin{lang: "wat", method: "echo", dir: t.TempDir(), bin: bin}
	if err := warmPlugin(t.Context(), o, p); err != nil {
		t.Fatal(err)
	}
	if got := p.base["run"]; got != 1<<20 {
		t.Fatalf("the base's live heap = %d bytes, want 1 MB: its collections at GOGC=1", got)
	}
}

// TestRSSAnon: the RssAnon line of a status file is read in KiB; a file without one,
// or with a value that is not a number, gives no figure.
func TestRSSAnon(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		status string
		want   int64
		ok     bool
	}{
		{"linux", "Name:\tapflow\nVmRSS:\t  118208 kB\nRssAnon:\t   89404 kB\nRssFile:\t   28804 kB\n", 89404, true},
		{"last line", "VmRSS:\t1 kB\nRssAnon:\t7 kB", 7, true},
		{"missing", "Name:\tapflow\nVmRSS:\t  118208 kB\n", 0, false},
		{"not a number", "RssAnon:\t  n/a kB\n", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := rssAnon([]byte(c.status))
			if got != c.want || ok != c.ok {
				t.Errorf("rssAnon = %d, %v; want %d, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// TestChildPeakAnon: a child's anonymous memory is sampled while it runs: a process that
// holds 64 MiB it has written shows at least that much.
func TestChildPeakAnon(t *testing.T) {
	t.Parallel()
	if b, err := os.ReadFile("/proc/self/status"); err != nil {
		t.Skip("no /proc: the anonymous memory is not sampled here")
	} else if _, ok := rssAnon(b); !ok {
		t.Skip("/proc/self/status has no RssAnon line: the anonymous memory is not sampled here")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ch := newChild(t.Context(), []string{"E2EBENCH_TEST_HOLD=64"}, exe, "-test.run=^TestHoldMemory$")
	if err := ch.start(); err != nil {
		t.Fatal(err)
	}
	if err := ch.wait(); err != nil {
		t.Fatal(ch.failure(err))
	}
	if got := ch.peakAnon(); got < 64<<20 {
		t.Errorf("peakAnon = %d MiB, want at least 64", got>>20)
	}
}

// TestHoldMemory is TestChildPeakAnon's child: with E2EBENCH_TEST_HOLD=n it writes n MiB
// and holds them for a second.
func TestHoldMemory(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("E2EBENCH_TEST_HOLD"))
	if err != nil {
		t.Skip("run by TestChildPeakAnon")
	}
	b := make([]byte, n<<20)
	for i := range b {
		b[i] = 1
	}
	time.Sleep(time.Second)
	runtime.KeepAlive(b)
}

// TestServeArgs: -serve-args reach every apflow serve child's command line. The apflow
// here is a script that prints its arguments, says it serves on a port where nothing
// listens, and waits to be interrupted; the request fails, and its error carries what
// the script printed.
func TestServeArgs(t *testing.T) {
	// Not parallel: a child that a parallel test forks while this one writes its script
	// holds the file open for writing until it execs, and starting the script then fails
	// with "text file busy", as it did once in CI.
	bin := filepath.Join(t.TempDir(), "apflow")
	script := "#!/bin/sh\necho \"args: $*\" >&2\necho 'serving on http://127.0.0.1:1'\nexec sleep 30\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := options{work: t.TempDir(), timeout: time.Minute, serveArgs: []string{"--memtable-bytes", "4194304"}}
	p := plugin{lang: "wat", method: "echo", dir: t.TempDir(), bin: bin}
	res := measureServe(t.Context(), o, "serve", p, filepath.Join(t.TempDir(), "body.json"), 1)
	if res.err == nil || !strings.Contains(res.err.Error(), "--memtable-bytes 4194304") {
		t.Fatalf("the serve child did not get -serve-args: %v", res.err)
	}
}
