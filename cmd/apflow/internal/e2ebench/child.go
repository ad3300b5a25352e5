package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// gcLine matches a gctrace line's heap sizes: "a->b->c MB" (c is the live heap the
// collection marked).
var gcLine = regexp.MustCompile(`^gc \d+ @.* (\d+)->(\d+)->(\d+) MB`)

// child is one apflow process with GODEBUG=gctrace=1: its stderr is scanned for the
// largest live heap, and kept (without the gctrace lines) for error reports; its
// anonymous memory is sampled while it runs (sampleAnon).
type child struct {
	cmd     *exec.Cmd
	mu      sync.Mutex // guards stdout, stderr, liveMB and anonKiB
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	liveMB  int
	anonKiB int64
	done    chan struct{} // closed when stderr is drained
	sampled chan struct{} // closed when sampleAnon has returned
}

// newChild prepares the child running bin with args, with env added to this process's
// environment (later entries win).
func newChild(ctx context.Context, env []string, bin string, args ...string) *child {
	c := &child{cmd: exec.CommandContext(ctx, bin, args...), done: make(chan struct{}), sampled: make(chan struct{})}
	c.cmd.Env = append(append(os.Environ(), "GODEBUG=gctrace=1"), env...)
	c.cmd.Stdout = lockedWriter{c}
	// Interrupt first, so a server closes its store; killed 10 s later if it has not ended.
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(os.Interrupt) }
	c.cmd.WaitDelay = 10e9
	return c
}

// lockedWriter appends to a child's stdout under its lock (a server's stdout is read
// while it runs).
type lockedWriter struct{ c *child }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.stdout.Write(p)
}

// stdoutText is what the child printed on stdout so far.
func (c *child) stdoutText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdout.String()
}

// start starts the process and the scanner of its stderr.
func (c *child) start() error {
	r, err := c.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := c.cmd.Start(); err != nil {
		return err
	}
	go c.scan(r)
	go c.sampleAnon(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	return nil
}

// anonInterval is how often sampleAnon reads the child's anonymous memory.
const anonInterval = 5 * time.Millisecond

// sampleAnon records the largest RssAnon the child's status file (path) shows, read
// every anonInterval until its stderr is drained (it has exited) or the file cannot be
// read (not Linux, or gone). It is the process's own memory: the peak RSS of wait4 also
// counts the file pages mapped into it, such as its binary's, which the kernel maps up
// to 64 KiB around each page touched (docs/performance.md, "What a peak RSS counts").
// A peak shorter than anonInterval can be missed, so the figure errs low. wait reaps the
// child only once it has returned: until then path is the child's (alive, or a zombie
// whose status has no RssAnon line), never a process that took its pid over.
func (c *child) sampleAnon(path string) {
	defer close(c.sampled)
	t := time.NewTicker(anonInterval)
	defer t.Stop()
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		if kib, ok := rssAnon(b); ok {
			c.mu.Lock()
			c.anonKiB = max(c.anonKiB, kib)
			c.mu.Unlock()
		}
		select {
		case <-c.done:
			return
		case <-t.C:
		}
	}
}

// rssAnon returns the RssAnon line's KiB of a /proc/<pid>/status text.
func rssAnon(status []byte) (int64, bool) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("RssAnon:"))
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
		return kib, err == nil
	}
	return 0, false
}

func (c *child) scan(r io.Reader) {
	defer close(c.done)
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if m := gcLine.FindStringSubmatch(line); m != nil {
			live, _ := strconv.Atoi(m[3])
			c.mu.Lock()
			c.liveMB = max(c.liveMB, live)
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		c.stderr.WriteString(line + "\n")
		c.mu.Unlock()
	}
}

// wait waits for the process to end, its stderr to be read and its sampling to stop.
func (c *child) wait() error {
	<-c.done
	<-c.sampled
	return c.cmd.Wait()
}

// peakRSS is the child's Maxrss from wait4, in bytes (Linux reports KiB).
func (c *child) peakRSS() int64 {
	if c.cmd.ProcessState == nil {
		return 0
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return ru.Maxrss << 10
}

// peakAnon is the largest anonymous memory sampleAnon saw, in bytes (0 when none was
// read).
func (c *child) peakAnon() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.anonKiB << 10
}

// liveHeap is the largest live heap a collection reported, in bytes.
func (c *child) liveHeap() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(c.liveMB) << 20
}

// output is the end of what the child printed (gctrace lines left out), for a failure.
func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimSpace(c.stdout.String() + "\n" + c.stderr.String())
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

func (c *child) failure(err error) error {
	return fmt.Errorf("%v: %s", err, c.output())
}
