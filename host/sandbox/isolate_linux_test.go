package sandbox

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCompileWorkerDiesWithHost: a host killed while its compile worker runs takes the
// worker with it (workerAttr's Pdeathsig), rather than leaving it compiling as an orphan.
// The worker here never ends on its own, so only the host's death can end it.
func TestCompileWorkerDiesWithHost(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(filepath.Join("/proc/self/task", strconv.Itoa(syscall.Gettid()), "children")); err != nil {
		t.Skipf("this kernel does not list a process's children: %v", err)
	}
	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), hostLoadsEnv+"="+t.TempDir())
	var stderr bytes.Buffer
	host.Stderr = &stderr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = host.Wait(); close(exited) }()
	t.Cleanup(func() { _ = host.Process.Kill(); <-exited })

	worker := waitFor(t, "the host started its compile worker", exited, &stderr, func() (int, bool) {
		// Until it execs, the host's child is a copy of the host.
		pid, ok := childOf(host.Process.Pid)
		return pid, ok && command(pid) == "sleep"
	})
	t.Cleanup(func() { _ = syscall.Kill(worker, syscall.SIGKILL) }) // if it outlived the host
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	waitFor(t, "the worker ended", nil, nil, func() (int, bool) { return 0, !running(worker) })
}

// waitFor polls cond until it holds, for up to a minute (a shared machine can be slow to
// start a process), and returns its value; what says what cond is. It fails at once
// when exited is closed, with the host's stderr.
func waitFor(t *testing.T, what string, exited <-chan struct{}, stderr *bytes.Buffer, cond func() (int, bool)) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if v, ok := cond(); ok {
			return v
		}
		select {
		case <-exited:
			t.Fatalf("the host exited before %s: %s", what, stderr)
		default:
		}
	}
	t.Fatalf("not after a minute: %s", what)
	return 0
}

// childOf returns a child process of pid, if it has one.
func childOf(pid int) (int, bool) {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			child, err := strconv.Atoi(fields[0])
			return child, err == nil
		}
	}
	return 0, false
}

// command is the name of process pid's executable (its comm), or "".
func command(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return strings.TrimSpace(string(b))
}

// running reports whether process pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last parenthesis.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
