package sandbox

import (
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
	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), hostLoadsEnv+"="+t.TempDir())
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	worker := waitFor(t, "the host started its compile worker", func() (int, bool) { return childOf(host.Process.Pid) })
	if comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(worker), "comm")); strings.TrimSpace(string(comm)) != "sleep" {
		t.Fatalf("the host's child is %q, not its worker (sleep)", comm)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitFor(t, "the worker ended", func() (int, bool) { return 0, !running(worker) })
}

// waitFor polls cond until it holds, for up to a minute (a shared machine can be slow to
// start a process), and returns its value; what says what cond is.
func waitFor(t *testing.T, what string, cond func() (int, bool)) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if v, ok := cond(); ok {
			return v
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
