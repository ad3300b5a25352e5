package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// goPlugin is a Go reactor plugin: execute echoes its input, panics when the input is
// {"panic":true}, allocates without bound when it is {"oom":true}, sleeps for an hour
// when it is {"sleep":true}, and keeps an 8 MiB heap object from the first call on when
// it is {"ballast":true} (like a plugin that loads a dictionary once), so that its heap,
// and with it its linear memory, settles well above its size after _initialize.
const goPlugin = `package main

import (
	"strings"
	"time"
	"unsafe"
)

func main() {}

var keep = map[uintptr][]byte{}
var hoard [][]byte
var result []byte
var ballast []byte

//go:wasmexport alloc
func alloc(n int32) int32 {
	if n == 0 {
		n = 1
	}
	b := make([]byte, n)
	p := uintptr(unsafe.Pointer(&b[0]))
	keep[p] = b
	return int32(p)
}

//go:wasmexport dealloc
func dealloc(p, n int32) { delete(keep, uintptr(p)) }

//go:wasmexport get_metadata
func getMetadata() int64 { return give([]byte(` + "`" + `{"id":"goguest","version":"0.1.0"}` + "`" + `)) }

//go:wasmexport get_input_schema
func getInputSchema() int64 { return 0 }

//go:wasmexport execute
func execute(p, n int32) int64 {
	in := string(keep[uintptr(p)][:n])
	delete(keep, uintptr(p))
	switch {
	case strings.Contains(in, "panic"):
		panic("boom from the go plugin")
	case strings.Contains(in, "sleep"):
		time.Sleep(time.Hour)
	case strings.Contains(in, "ballast") && ballast == nil:
		ballast = make([]byte, 8<<20)
	case strings.Contains(in, "oom"):
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	}
	return give([]byte(in))
}

func give(b []byte) int64 {
	result = b
	return int64(uintptr(unsafe.Pointer(&b[0])))<<32 | int64(len(b))
}
`

// buildGoPlugin compiles goPlugin with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
func buildGoPlugin(t testing.TB) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not available to build a Go guest")
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod":  "module goguest\n\ngo 1.24\n",
		"main.go": goPlugin,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "goguest.wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Go guest: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles a Go guest")
	}
	t.Parallel()
	wasm := buildGoPlugin(t)
	rt := setup(t, Config{Grants: grantsFor("goguest", Grants{Clock: true})})
	m, err := rt.Load(context.Background(), wasm, "goguest.wasm")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	if m.ID() != "goguest" || m.Info().InputSchema != nil {
		t.Fatalf("info = %+v", m.Info())
	}

	resp, err := m.Execute(context.Background(), req(`{"x":1}`))
	if err != nil || string(resp.Output) != `{"x":1}` {
		t.Fatalf("Execute = %v, %v", resp, err)
	}
	t.Logf("Go guest usage: %+v", resp.Usage)

	// A Go time.Sleep (poll_oneoff) far beyond the timeout ends with the call. The
	// instance the first call pooled serves it, so the time limit goes to the sleep.
	err = executeOrHang(t, context.Background(), m, &reqArgs{inputs: `{"sleep":true}`, limits: taskLimits(2000, 0, 0)})
	if KindOf(err) != KindTimeout {
		t.Fatalf("sleep: err = %v, want KindTimeout", err)
	}
	t.Logf("sleep: %v", err)

	logger, logs := newLogger()
	r := req(`{"panic":true}`)
	r.Logger = logger
	_, err = m.Execute(context.Background(), r)
	if KindOf(err) != KindPanic {
		t.Fatalf("panic: err = %v, want KindPanic", err)
	}
	mustContain(t, "error", err.Error(), "panicked: panic: boom from the go plugin (")
	t.Logf("panic: %v", err)
	mustContain(t, "logs", logs.String(), "panic: boom from the go plugin")

	r = req(`{"oom":true}`)
	r.Limits.MemoryPages = 200
	_, err = m.Execute(context.Background(), r)
	if KindOf(err) != KindOutOfMemory {
		t.Fatalf("oom: err = %v, want KindOutOfMemory", err)
	}
	mustContain(t, "error", err.Error(), "out of memory: memory limit 200 pages (12.5 MiB) reached")
	t.Logf("oom: %v", err)

	// The module still works after these failures.
	resp, err = m.Execute(context.Background(), req(`{"y":2}`))
	if err != nil || string(resp.Output) != `{"y":2}` {
		t.Fatalf("Execute after failures = %v, %v", resp, err)
	}
}

// TestGoGuestWarm: a chain's calls (one at a time, one module) on a Go guest whose heap
// settles well above its size after _initialize, but within the default memory limit,
// are all served by one warm instance: none pays _initialize again.
func TestGoGuestWarm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles a Go guest")
	}
	t.Parallel()
	rt := setup(t, Config{})
	m, err := rt.Load(context.Background(), buildGoPlugin(t), "goguest.wasm")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	var peak uint32
	for range 50 {
		resp, err := m.Execute(context.Background(), req(`{"ballast":true}`))
		if err != nil {
			t.Fatal(err)
		}
		peak = max(peak, resp.Usage.PeakMemoryPages)
	}
	s := m.Stats()
	t.Logf("memory %s, stats %+v", formatPages(peak), s)
	if s.Created != 1 || s.Reused != 49 || s.Recycled != 0 {
		t.Fatalf("stats = %+v, want one instance serving all 50 calls", s)
	}
}
