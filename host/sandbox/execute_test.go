package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

func req(inputs string) *executor.Request {
	return &executor.Request{Task: &task.Task{ID: "t1"}, Inputs: json.RawMessage(inputs)}
}

func taskLimits(timeoutMS int64, pages uint32, maxResult int64) task.Limits {
	return task.Limits{TimeoutMS: timeoutMS, MemoryPages: pages, MaxResultBytes: maxResult}
}

func TestExecuteEcho(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "echo")
	logger, logs := newLogger()
	var progress atomic.Value
	r := req(`{"text":"hello"}`)
	r.Logger = logger
	r.Progress = func(v float64) { progress.Store(v) }
	resp, err := m.Execute(context.Background(), r)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if string(resp.Output) != `{"text":"hello"}` || resp.Plugin != m.Hash() {
		t.Fatalf("response = %s from %s", resp.Output, resp.Plugin)
	}
	if p, _ := progress.Load().(float64); p != 0.5 {
		t.Fatalf("progress = %v, want 0.5", p)
	}
	mustContain(t, "logs", logs.String(), "[INFO]  task: echo called")
	u := resp.Usage
	if u.BytesIn != 16 || u.BytesOut != 16 || u.HostCalls != 2 || u.PeakMemoryPages != 2 || u.DurationMS <= 0 {
		t.Fatalf("usage = %+v", u)
	}
}

func TestExecuteValidatesInputs(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "echo")
	_, err := m.Execute(context.Background(), req(`[1,2]`))
	if KindOf(err) != KindInput {
		t.Fatalf("err = %v, want KindInput", err)
	}
	mustContain(t, "error", err.Error(), "inputs do not match the input schema: inputs: expected object, but got array")
	// A caller that validated the inputs itself (the engine) is not checked again.
	r := req(`[1,2]`)
	r.Validated = true
	if resp, err := m.Execute(context.Background(), r); err != nil || string(resp.Output) != `[1,2]` {
		t.Fatalf("validated inputs: %v, %v", resp, err)
	}
	// Empty inputs are the empty object.
	resp, err := m.Execute(context.Background(), req(``))
	if err != nil || string(resp.Output) != `{}` {
		t.Fatalf("empty inputs: %v, %v", resp, err)
	}
}

func TestExecuteOnHookModule(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "hook")
	if _, err := m.Execute(context.Background(), req(`{}`)); KindOf(err) != KindInvalid {
		t.Fatalf("err = %v", err)
	}
}

// TestHostile runs every hostile plugin twice (the second run proves the module is still
// usable after its instance was discarded) while a well-behaved module keeps executing
// concurrently.
func TestHostile(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	good := load(t, rt, "echo")

	stop := make(chan struct{})
	var goodRuns atomic.Int64
	var goodErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := good.Execute(context.Background(), req(`{"ok":true}`))
			if err != nil || string(resp.Output) != `{"ok":true}` {
				goodErr.Store(errors.New("well-behaved module failed: " + errString(err)))
				return
			}
			goodRuns.Add(1)
		}
	}()

	tests := []struct {
		file   string
		limits task.Limits
		kind   Kind
		want   string
	}{
		{"loop", taskLimits(100, 0, 0), KindTimeout, "): timed out after 100ms"},
		{"membomb", taskLimits(0, 0, 0), KindOutOfMemory, "out of memory: memory limit 256 pages (16 MiB) reached (then trapped: unreachable)"},
		{"membomb", taskLimits(0, 40, 0), KindOutOfMemory, "memory limit 40 pages (2.5 MiB)"},
		{"bigmin", taskLimits(0, 0, 0), KindOutOfMemory, "declares a minimum memory of 300 pages (18.8 MiB), above the memory limit of 256 pages (16 MiB)"},
		{"unreachable", taskLimits(0, 0, 0), KindTrap, "): trapped: unreachable"},
		{"divzero", taskLimits(0, 0, 0), KindTrap, "trapped: integer divide by zero"},
		{"oob", taskLimits(0, 0, 0), KindTrap, "trapped: out of bounds memory access"},
		{"recursion", taskLimits(0, 0, 0), KindStackOverflow, "stack overflow"},
		{"badptr", taskLimits(0, 0, 0), KindResult, "result pointer out of bounds: 100 bytes at 0xffffff00, memory is 128 KiB"},
		{"bigresult", taskLimits(0, 0, 0), KindResult, "result of 100 MB exceeds max_result_bytes 16 MiB"},
		{"notjson", taskLimits(0, 0, 0), KindResult, `result is not valid JSON: "not json"`},
	}
	for _, tt := range tests {
		m := load(t, rt, tt.file)
		for run := 1; run <= 2; run++ {
			r := req(`{}`)
			r.Limits = tt.limits
			start := time.Now()
			resp, err := m.Execute(context.Background(), r)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("%s run %d: succeeded with %s", tt.file, run, resp.Output)
			}
			if KindOf(err) != tt.kind {
				t.Fatalf("%s run %d: kind %q, want %q: %v", tt.file, run, KindOf(err), tt.kind, err)
			}
			mustContain(t, tt.file+" error", err.Error(), "plugin "+tt.file+" (sha256 "+m.Hash()[:12]+"…): ")
			mustContain(t, tt.file+" error", err.Error(), tt.want)
			if resp == nil || resp.Plugin != m.Hash() {
				t.Fatalf("%s: failed response does not name the plugin: %+v", tt.file, resp)
			}
			if tt.kind == KindTimeout {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("timeout error does not wrap context.DeadlineExceeded: %v", err)
				}
				// Not a timing assertion: only a hang detector. The overshoot is logged.
				if elapsed > 10*time.Second {
					t.Fatalf("runaway plugin stopped after %v", elapsed)
				}
				t.Logf("runaway plugin stopped %v after its 100ms limit", elapsed-100*time.Millisecond)
			}
		}
		if s := m.Stats(); s.Idle != 0 || s.Discarded != s.Created {
			t.Fatalf("%s: a failed instance was kept: %+v", tt.file, s)
		}
	}
	close(stop)
	wg.Wait()
	if err, _ := goodErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	if goodRuns.Load() == 0 {
		t.Fatal("the well-behaved module never ran")
	}
}

func errString(err error) string {
	if err == nil {
		return "wrong output"
	}
	return err.Error()
}

func TestBigMinimumWithRaisedLimit(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "bigmin")
	r := req(`{}`)
	r.Limits.MemoryPages = 512
	resp, err := m.Execute(context.Background(), r)
	if err != nil || resp.Usage.PeakMemoryPages != 300 {
		t.Fatalf("Execute with 512 pages: %v, %+v", err, resp)
	}
	// A pooled 300-page instance is not handed to a call with a smaller limit.
	if _, err := m.Execute(context.Background(), req(`{}`)); KindOf(err) != KindOutOfMemory {
		t.Fatalf("default limit: %v", err)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "loop")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := m.Execute(ctx, req(`{}`))
	if KindOf(err) != KindCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a cancel", err)
	}
	mustContain(t, "error", err.Error(), "): execution cancelled")
}

func TestTimeoutFromCallerDeadlineIsACancel(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "loop")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := m.Execute(ctx, req(`{}`))
	if KindOf(err) != KindCancelled {
		t.Fatalf("err = %v, want KindCancelled (the caller's own deadline)", err)
	}
}

// TestHostileMemoryBounded repeats memory bombs and checks the host's heap comes back.
func TestHostileMemoryBounded(t *testing.T) {
	rt := setup(t, Config{})
	m := load(t, rt, "membomb")
	r := req(`{}`)
	r.Limits.MemoryPages = 1024 // 64 MiB per run
	heap := func() uint64 {
		runtime.GC()
		var s runtime.MemStats
		runtime.ReadMemStats(&s)
		return s.HeapAlloc
	}
	before := heap()
	for range 20 {
		if _, err := m.Execute(context.Background(), r); KindOf(err) != KindOutOfMemory {
			t.Fatalf("err = %v", err)
		}
	}
	after := heap()
	t.Logf("heap before %s, after 20 memory bombs of 64 MiB: %s", formatBytes(int64(before)), formatBytes(int64(after)))
	if after > before+128<<20 {
		t.Fatalf("heap grew from %d to %d bytes over 20 memory bombs", before, after)
	}
}

func TestPooling(t *testing.T) {
	t.Parallel()
	t.Run("reuse", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{})
		m := load(t, rt, "echo")
		for range 5 {
			if _, err := m.Execute(context.Background(), req(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		if s := m.Stats(); s.Created != 1 || s.Reused != 4 || s.Idle != 1 {
			t.Fatalf("stats = %+v", s)
		}
	})
	t.Run("recycle after N", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{RecycleAfter: 2})
		m := load(t, rt, "echo")
		for range 5 {
			if _, err := m.Execute(context.Background(), req(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		if s := m.Stats(); s.Created != 3 || s.Recycled != 2 {
			t.Fatalf("stats = %+v", s)
		}
	})
	t.Run("recycle on memory growth", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{RecycleMemoryPages: 20})
		m := load(t, rt, "leak") // 2 pages, +8 per call
		var peaks []uint32
		for range 4 {
			resp, err := m.Execute(context.Background(), req(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			peaks = append(peaks, resp.Usage.PeakMemoryPages)
		}
		if s := m.Stats(); s.Recycled != 1 || s.Created != 2 {
			t.Fatalf("stats = %+v, peaks %v", s, peaks)
		}
		if want := []uint32{10, 18, 26, 10}; !equalU32(peaks, want) {
			t.Fatalf("peaks = %v, want %v", peaks, want)
		}
	})
	t.Run("keep a settled instance within the default limit", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{})
		m := load(t, rt, "plateau") // 2 pages after _initialize, 100 from its first call on
		for range 50 {
			if _, err := m.Execute(context.Background(), req(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		if s := m.Stats(); s.Created != 1 || s.Reused != 49 || s.Recycled != 0 {
			t.Fatalf("stats = %+v, want one instance serving all 50 calls", s)
		}
	})
	t.Run("recycle a settled instance above the default limit", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{Defaults: task.Limits{MemoryPages: 64}})
		m := load(t, rt, "plateau")
		r := req(`{}`)
		r.Limits.MemoryPages = 128
		for range 3 {
			if _, err := m.Execute(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		if s := m.Stats(); s.Created != 3 || s.Recycled != 3 || s.Idle != 0 {
			t.Fatalf("stats = %+v, want every 100-page instance recycled (threshold 68 pages, default limit 64)", s)
		}
	})
	t.Run("never serve a call whose limit the instance exceeds", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{})
		m := load(t, rt, "plateau")
		if _, err := m.Execute(context.Background(), req(`{}`)); err != nil {
			t.Fatal(err)
		}
		r := req(`{}`)
		r.Limits.MemoryPages = 50
		resp, err := m.Execute(context.Background(), r)
		if KindOf(err) != KindOutOfMemory {
			t.Fatalf("err = %v, want KindOutOfMemory from a new instance capped at 50 pages", err)
		}
		if resp.Usage.PeakMemoryPages > 50 {
			t.Fatalf("the call ran with %d pages, above its limit of 50", resp.Usage.PeakMemoryPages)
		}
		if s := m.Stats(); s.Created != 2 || s.Recycled != 1 || s.Discarded != 1 || s.Reused != 0 {
			t.Fatalf("stats = %+v, want the 100-page instance recycled and a new one created", s)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{PoolSize: 2})
		m := load(t, rt, "echo")
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				in := `{"i":` + string(rune('0'+i%10)) + `}`
				resp, err := m.Execute(context.Background(), req(in))
				if err == nil && string(resp.Output) != in {
					err = errors.New("got " + string(resp.Output) + " for " + in)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if s := m.Stats(); s.Idle > 2 {
			t.Fatalf("pool kept %d idle instances, limit 2", s.Idle)
		}
	})
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
