package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setup returns a registry over a fresh directory holding the given fixtures, each
// written under the file name it is paired with.
func setup(t *testing.T, files map[string]string) (*Registry, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	for file, fx := range files {
		writeFile(t, filepath.Join(dir, file), fixture(t, fx))
	}
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	r, err := Open(ctx, Options{Runtime: rt, Dir: dir, PollInterval: 10 * time.Millisecond,
		Reserved: []string{"aggregate_results_executor"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r, dir
}

// writeFile writes b and moves the modification time forward so a rescan notices even
// on file systems with coarse timestamps.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(time.Duration(len(b)) * time.Millisecond)
	if st, err := os.Stat(path); err == nil && !st.ModTime().Before(mt) {
		mt = st.ModTime().Add(time.Second)
	}
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, h executor.Handle) map[string]any {
	t.Helper()
	resp, err := h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "t1"}, Inputs: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		t.Fatalf("result %s: %v", resp.Output, err)
	}
	return out
}

func lookupRun(t *testing.T, r *Registry, id string) map[string]any {
	t.Helper()
	h, err := r.Lookup(id)
	if err != nil {
		t.Fatalf("lookup %s: %v", id, err)
	}
	defer h.Release()
	return run(t, h)
}

func TestOpenRegistersByMetadataID(t *testing.T) {
	t.Parallel()
	r, _ := setup(t, map[string]string{"a-file-name.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
	if got := lookupRun(t, r, "swap")["version"]; got != 1.0 {
		t.Fatalf("swap returned version %v, want 1", got)
	}
	var ids []string
	for _, info := range r.List() {
		ids = append(ids, info.ID)
	}
	if len(ids) != 2 || ids[0] != "other" || ids[1] != "swap" {
		t.Fatalf("List ids = %v, want [other swap]", ids)
	}
	if _, err := r.Lookup("a-file-name"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
		t.Fatalf("file name must not be an id when metadata has one; err = %v", err)
	}
}

func TestHotSwapKeepsRunningTasksOnOldVersion(t *testing.T) {
	t.Parallel()
	r, dir := setup(t, map[string]string{"swap.wasm": "swap_v1.wasm"})
	old, err := r.Lookup("swap")
	if err != nil {
		t.Fatal(err)
	}
	oldHash := old.Info().Hash

	writeFile(t, filepath.Join(dir, "swap.wasm"), fixture(t, "swap_v2.wasm"))
	if err := r.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 2.0 {
		t.Fatalf("new lookups must get version 2, got %v", got)
	}
	// The handle taken before the swap still runs the old version.
	if got := run(t, old)["version"]; got != 1.0 {
		t.Fatalf("pinned handle ran version %v, want 1", got)
	}
	if h := sandbox.Hash(fixture(t, "swap_v1.wasm")); oldHash != h {
		t.Fatalf("pinned handle hash %s, want %s", oldHash, h)
	}
	old.Release()
	old.Release() // idempotent
}

func TestRemovedFileUnregisters(t *testing.T) {
	t.Parallel()
	r, dir := setup(t, map[string]string{"swap.wasm": "swap_v1.wasm"})
	pinned, err := r.Lookup("swap")
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Release()
	if err := os.Remove(filepath.Join(dir, "swap.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := r.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup("swap"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
		t.Fatalf("lookup after removal: err = %v, want ExecutorNotFound", err)
	}
	if got := run(t, pinned)["version"]; got != 1.0 {
		t.Fatalf("handle pinned before removal ran version %v, want 1", got)
	}
}

func TestBrokenFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content []byte
	}{
		{"garbage", []byte("not a wasm module")},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, dir := setup(t, map[string]string{"swap.wasm": "swap_v1.wasm"})
			writeFile(t, filepath.Join(dir, "bad.wasm"), tc.content)
			// A broken replacement of a working file keeps the working version.
			writeFile(t, filepath.Join(dir, "swap.wasm"), tc.content)
			if err := r.Rescan(context.Background()); err != nil {
				t.Fatal(err)
			}
			probs := r.Problems()
			if probs["bad.wasm"] == "" || probs["swap.wasm"] == "" {
				t.Fatalf("problems = %v, want entries for bad.wasm and swap.wasm", probs)
			}
			if got := lookupRun(t, r, "swap")["version"]; got != 1.0 {
				t.Fatalf("swap must keep serving version 1, got %v", got)
			}
		})
	}
}

func TestDuplicateIDFirstFileWins(t *testing.T) {
	t.Parallel()
	r, dir := setup(t, map[string]string{"a.wasm": "swap_v1.wasm", "b.wasm": "swap_v2.wasm"})
	if got := lookupRun(t, r, "swap")["version"]; got != 1.0 {
		t.Fatalf("a.wasm must win, got version %v", got)
	}
	if r.Problems()["b.wasm"] == "" {
		t.Fatalf("b.wasm must be reported: %v", r.Problems())
	}
	if err := os.Remove(filepath.Join(dir, "a.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := r.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 2.0 {
		t.Fatalf("after a.wasm is removed b.wasm must take over, got version %v", got)
	}
}

func TestAddAndRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, dir := setup(t, map[string]string{"legacy-name.wasm": "swap_v1.wasm"})
	info, err := r.Add(ctx, "upload.wasm", fixture(t, "swap_v2.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "swap" || info.Hash != sandbox.Hash(fixture(t, "swap_v2.wasm")) {
		t.Fatalf("info = %+v", info)
	}
	if _, err := os.Stat(filepath.Join(dir, "swap.wasm")); err != nil {
		t.Fatalf("Add must install swap.wasm: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "legacy-name.wasm")); !os.IsNotExist(err) {
		t.Fatalf("the file that provided the id before must be replaced, stat err = %v", err)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 2.0 {
		t.Fatalf("after Add lookups must get version 2, got %v", got)
	}
	// A rescan sees the installed file as already known.
	if err := r.Rescan(ctx); err != nil || len(r.Problems()) != 0 {
		t.Fatalf("rescan after add: err %v, problems %v", err, r.Problems())
	}

	if _, err := r.Add(ctx, "bad.wasm", []byte("junk")); apferr.CodeOf(err) != apferr.InvalidParams {
		t.Fatalf("Add of junk: err = %v, want InvalidParams", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("a refused upload must write nothing; dir has %d entries", len(entries))
	}

	if err := r.Remove(ctx, "swap"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup("swap"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
		t.Fatalf("lookup after Remove: %v", err)
	}
	if err := r.Remove(ctx, "swap"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestReservedIDRefused(t *testing.T) {
	t.Parallel()
	r, dir := setup(t, nil)
	if _, err := r.Add(context.Background(), "x.wasm", fixture(t, "reserved.wasm")); apferr.CodeOf(err) != apferr.InvalidParams {
		t.Fatalf("Add of a module claiming a built-in id: err = %v, want InvalidParams", err)
	}
	writeFile(t, filepath.Join(dir, "impostor.wasm"), fixture(t, "reserved.wasm"))
	if err := r.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup("aggregate_results_executor"); err == nil {
		t.Fatal("a plugin must not register a reserved id")
	}
	if r.Problems()["impostor.wasm"] == "" {
		t.Fatalf("the impostor must be reported: %v", r.Problems())
	}
}

func TestWatchPicksUpNewFiles(t *testing.T) {
	t.Parallel()
	r, dir := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx)
	writeFile(t, filepath.Join(dir, "other.wasm"), fixture(t, "other.wasm"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if h, err := r.Lookup("other"); err == nil {
			h.Release()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch did not register a new file")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMergeLimitsTaskOverPlugin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		task, plugin task.Limits
		want         task.Limits
	}{
		{"plugin fills unset", task.Limits{}, task.Limits{TimeoutMS: 60000, MemoryPages: 512}, task.Limits{TimeoutMS: 60000, MemoryPages: 512}},
		{"task wins", task.Limits{TimeoutMS: 10}, task.Limits{TimeoutMS: 60000}, task.Limits{TimeoutMS: 10}},
		{"field by field", task.Limits{MaxResultBytes: 5}, task.Limits{TimeoutMS: 7, MaxResultBytes: 9}, task.Limits{TimeoutMS: 7, MaxResultBytes: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := mergeLimits(tc.task, tc.plugin); got != tc.want {
				t.Fatalf("mergeLimits = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWriteMetricsListsEveryPlugin(t *testing.T) {
	t.Parallel()
	r, _ := setup(t, map[string]string{"swap.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
	lookupRun(t, r, "swap")
	var b strings.Builder
	if err := r.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE apflow_plugin_instances_created_total counter",
		`apflow_plugin_pool_idle_instances{plugin="other",`,
		`apflow_plugin_instances_created_total{plugin="swap",sha256="` + sandbox.Hash(fixture(t, "swap_v1.wasm")) + `"} `,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("metrics lack %q:\n%s", want, out)
		}
	}
}

// TestRescanSkipsNonRegularFiles: a .wasm name that is a device (here a symlink to
// /dev/zero, which would be read until the host runs out of memory) or a FIFO (which
// would block the scan) is reported, never read.
func TestRescanSkipsNonRegularFiles(t *testing.T) {
	t.Parallel()
	r, dir := setup(t, nil)
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.wasm")); err != nil {
		t.Skipf("symlink: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Rescan(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Rescan: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Rescan did not return: it is reading /dev/zero")
	}
	if why := r.Problems()["zero.wasm"]; !strings.Contains(why, "not a regular file") {
		t.Fatalf("problem of zero.wasm = %q, want it to say it is not a regular file", why)
	}
}

// TestOpenLeavesItsProblemsToTheCaller: the problems Open's own scan finds are reported
// by Problems only (the caller shows them: logging them too made the CLI say it twice);
// problems found by later scans are logged, once each.
func TestOpenLeavesItsProblemsToTheCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.wasm"), []byte("not a module"))
	writeFile(t, filepath.Join(dir, "dup.wasm"), fixture(t, "swap_v2.wasm"))
	writeFile(t, filepath.Join(dir, "a-swap.wasm"), fixture(t, "swap_v1.wasm"))
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	var logs logbuf.Buffer
	r, err := Open(ctx, Options{Runtime: rt, Dir: dir, Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	if p := r.Problems(); p["bad.wasm"] == "" || p["dup.wasm"] == "" {
		t.Fatalf("problems = %v, want bad.wasm and dup.wasm", p)
	}
	if s := logs.String(); s != "" {
		t.Fatalf("Open logged the problems it returns:\n%s", s)
	}
	writeFile(t, filepath.Join(dir, "worse.wasm"), []byte("neither"))
	for range 2 {
		if err := r.Rescan(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := logs.Lines("worse.wasm"); len(got) != 1 || !strings.Contains(got[0], "[ERROR]") {
		t.Fatalf("a problem found by a later scan: log lines %q, want one error", got)
	}
	if got := logs.Lines("bad.wasm"); len(got) != 0 {
		t.Fatalf("an unchanged problem was logged again: %q", got)
	}
}

// TestScanReportsProgressAndKeepsFileOrder: a scan loads modules in parallel, reports each
// full load to Progress, and still registers an id for the first file by name, whichever
// load ends first.
func TestScanReportsProgressAndKeepsFileOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	// z.wasm and the b..e copies of v2 load while a.wasm (v1) may still be compiling.
	files := map[string]string{"a.wasm": "swap_v1.wasm", "z.wasm": "other.wasm"}
	for _, n := range []string{"b", "c", "d", "e"} {
		files[n+".wasm"] = "swap_v2.wasm"
	}
	for file, fx := range files {
		writeFile(t, filepath.Join(dir, file), fixture(t, fx))
	}
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	var mu sync.Mutex
	var calls []string
	r, err := Open(ctx, Options{Runtime: rt, Dir: dir, Progress: func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, fmt.Sprintf("%d/%d", done, total))
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	slices.Sort(calls)
	if want := []string{"1/6", "2/6", "3/6", "4/6", "5/6", "6/6"}; !slices.Equal(calls, want) {
		t.Errorf("progress = %v, want %v", calls, want)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 1.0 {
		t.Fatalf("a.wasm must win, got version %v", got)
	}
	for _, n := range []string{"b", "c", "d", "e"} {
		if !strings.Contains(r.Problems()[n+".wasm"], "already provided by a.wasm") {
			t.Errorf("%s.wasm: problem %q", n, r.Problems()[n+".wasm"])
		}
	}
}

// TestBackgroundOpenAnswersWhileLoading: with Background, Open returns while modules
// still load; a Lookup of a plugin not loaded yet waits for it instead of failing, an id
// no file provides fails once the scan ends, and Close stops a scan in progress.
func TestBackgroundOpenAnswersWhileLoading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := func(t *testing.T) (*Registry, chan struct{}) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.wasm"), fixture(t, "swap_v1.wasm"))
		writeFile(t, filepath.Join(dir, "b.wasm"), fixture(t, "other.wasm"))
		rt, err := sandbox.New(ctx, sandbox.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Close(ctx) })
		gate := make(chan struct{})
		// Progress runs before a loaded module is applied: holding it holds the scan.
		r, err := Open(ctx, Options{Runtime: rt, Dir: dir, Background: true, NoMetadataCache: true,
			Progress: func(int, int) { <-gate }})
		if err != nil {
			t.Fatal(err)
		}
		return r, gate
	}
	t.Run("lookups wait for the scan", func(t *testing.T) {
		t.Parallel()
		r, gate := setup(t)
		t.Cleanup(func() { _ = r.Close(ctx) })
		if n := len(r.List()); n != 0 {
			t.Fatalf("Open waited for the loads: %d plugins registered", n)
		}
		type result struct {
			id  string
			err error
		}
		results := make(chan result, 2)
		for _, id := range []string{"swap", "missing"} {
			go func() {
				h, err := r.Lookup(id)
				if err == nil {
					h.Release()
				}
				results <- result{id, err}
			}()
		}
		select {
		case res := <-results:
			t.Fatalf("Lookup(%s) answered while the scan was held: %v", res.id, res.err)
		case <-time.After(50 * time.Millisecond):
		}
		close(gate)
		for range 2 {
			res := <-results
			if (res.err == nil) != (res.id == "swap") {
				t.Errorf("Lookup(%s) = %v after the scan", res.id, res.err)
			}
		}
	})
	t.Run("close stops the scan", func(t *testing.T) {
		t.Parallel()
		r, gate := setup(t)
		closed := make(chan error, 1)
		go func() { closed <- r.Close(ctx) }()
		close(gate) // the loads in flight end; Close must not hang on the rest
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if _, err := r.Lookup("swap"); err == nil {
			t.Error("Lookup after Close succeeded")
		}
	})
}
