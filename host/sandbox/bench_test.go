package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// BenchmarkRoundTripRaw is the floor: alloc + execute called directly on a wazero
// instance of the module as written (no rewrite, no close-on-context-done: like
// production, which interrupts through the rewrite's checks), result copied out.
func BenchmarkRoundTripRaw(b *testing.B) {
	b.Run("background", func(b *testing.B) { benchRaw(b, false) })
	// With a deadline, as every real call has.
	b.Run("deadline", func(b *testing.B) { benchRaw(b, true) })
}

func benchRaw(b *testing.B, deadline bool) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(coreFeatures))
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	mod, err := r.InstantiateWithConfig(ctx, wasmFile(b, "noop"), wazero.NewModuleConfig().WithName(""))
	if err != nil {
		b.Fatal(err)
	}
	alloc, execute := mod.ExportedFunction("alloc"), mod.ExportedFunction("execute")
	input := []byte(`{}`)
	for b.Loop() {
		ctx := ctx
		cancel := context.CancelFunc(func() {})
		if deadline {
			ctx, cancel = context.WithTimeout(ctx, time.Minute)
		}
		res, err := alloc.Call(ctx, uint64(len(input)))
		if err != nil {
			b.Fatal(err)
		}
		ptr := uint32(res[0])
		mod.Memory().Write(ptr, input)
		res, err = execute.Call(ctx, uint64(ptr), uint64(len(input)))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := mod.Memory().Read(uint32(res[0]>>32), uint32(res[0]))
		_ = append([]byte(nil), out...)
		cancel()
	}
}

// BenchmarkExecuteNoop is the same call through Module.Execute (limits, pool, deadline,
// call state, result checks, usage).
func BenchmarkExecuteNoop(b *testing.B) {
	rt := setup(b, Config{})
	m := load(b, rt, "noop")
	r := req(`{}`)
	for b.Loop() {
		if _, err := m.Execute(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecuteEchoParallel runs the echo module (two host calls) from all Ps.
func BenchmarkExecuteEchoParallel(b *testing.B) {
	rt := setup(b, Config{})
	m := load(b, rt, "echo")
	b.RunParallel(func(pb *testing.PB) {
		r := req(`{"text":"hello"}`)
		for pb.Next() {
			if _, err := m.Execute(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAcquirePooled takes an instance from the pool and gives it back.
func BenchmarkAcquirePooled(b *testing.B) {
	rt := setup(b, Config{})
	m := load(b, rt, "noop")
	ctx := withCallState(context.Background(), callStateFrom(context.Background()))
	for b.Loop() {
		in, err := m.pool.acquire(ctx, DefaultMemoryPages, clockRandom{})
		if err != nil {
			b.Fatal(err)
		}
		m.pool.release(in, true)
	}
}

// BenchmarkInstantiateFresh creates and closes an instance of the same module.
func BenchmarkInstantiateFresh(b *testing.B) {
	rt := setup(b, Config{})
	instantiateLoop(b, load(b, rt, "noop"))
}

// instantiateLoop creates and closes an instance of m at each iteration.
func instantiateLoop(b *testing.B, m *Module) {
	ctx := withCallState(context.Background(), callStateFrom(context.Background()))
	for b.Loop() {
		in, err := m.instantiate(ctx, DefaultMemoryPages, clockRandom{})
		if err != nil {
			b.Fatal(err)
		}
		in.close()
	}
}

// echoModules are the echo executor of each language: the WAT fixture always, the
// kits' Go, Rust and C builds when `make kits` made them (build/plugins). A module
// missing is skipped.
func echoModules(b *testing.B, run func(b *testing.B, name string, wasm []byte)) {
	modules := []struct{ name, path string }{{"wat", filepath.Join("testdata", "echo.wasm")}}
	for _, lang := range []string{"go", "rust", "c"} {
		modules = append(modules, struct{ name, path string }{lang, filepath.Join("..", "..", "build", "plugins", "echo_"+lang+".wasm")})
	}
	for _, mod := range modules {
		b.Run(mod.name, func(b *testing.B) {
			wasm, err := os.ReadFile(mod.path)
			if err != nil {
				b.Skipf("no %s module (make kits): %v", mod.name, err)
			}
			run(b, filepath.Base(mod.path), wasm)
		})
	}
}

// BenchmarkLoadWarmCache is a restart: a new Runtime on a populated cache directory
// loading a module (no compilation), including its metadata calls: what a process or a
// server's first request pays to load a plugin it has run before. The echo of each
// language (echoModules).
func BenchmarkLoadWarmCache(b *testing.B) {
	ctx := context.Background()
	echoModules(b, func(b *testing.B, name string, wasm []byte) {
		dir := b.TempDir()
		warm := setup(b, Config{CacheDir: dir})
		if _, err := warm.Load(ctx, wasm, name); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			loadIn(b, dir, name, wasm)
		}
	})
}

// loadIn loads wasm in a new Runtime on the cache directory dir, with this test binary
// as its compile worker, and closes it.
func loadIn(b *testing.B, dir, name string, wasm []byte) {
	ctx := context.Background()
	rt, err := New(ctx, Config{CacheDir: dir, CompileWorker: []string{os.Args[0]}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := rt.Load(ctx, wasm, name); err != nil {
		b.Fatal(err)
	}
	_ = rt.Close(ctx)
}

// BenchmarkInstantiateEcho creates and closes an instance of the echo of each language
// (echoModules), as a pool does for each new instance: its memory, its data segments
// copied in, its start function.
func BenchmarkInstantiateEcho(b *testing.B) {
	echoModules(b, func(b *testing.B, name string, wasm []byte) {
		rt := setup(b, Config{})
		m, err := rt.Load(context.Background(), wasm, name)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close(context.Background()) })
		instantiateLoop(b, m)
	})
}

// BenchmarkLoadColdCache is a plugin author's first run after an edit: a new Runtime on
// an empty cache directory loading a module, so that it is validated, rewritten and
// compiled by a compile worker (this test binary, TestMain), as apflow does, then read
// from the cache and instantiated for its metadata. The echo of each language
// (echoModules).
func BenchmarkLoadColdCache(b *testing.B) {
	echoModules(b, func(b *testing.B, name string, wasm []byte) {
		for b.Loop() {
			dir, err := os.MkdirTemp(b.TempDir(), "cache-")
			if err != nil {
				b.Fatal(err)
			}
			loadIn(b, dir, name, wasm)
		}
	})
}

// BenchmarkRunawayStop measures how long after its 20ms limit an infinite loop is
// stopped (overshoot-ms, mean and max over the iterations).
func BenchmarkRunawayStop(b *testing.B) {
	rt := setup(b, Config{})
	m := load(b, rt, "loop")
	r := req(`{}`)
	r.Limits.TimeoutMS = 20
	var total, worst time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		if _, err := m.Execute(context.Background(), r); KindOf(err) != KindTimeout {
			b.Fatalf("err = %v", err)
		}
		over := time.Since(start) - 20*time.Millisecond
		total += over
		worst = max(worst, over)
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/float64(n)/1000, "overshoot-ms")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-overshoot-ms")
}

// BenchmarkSequentialEcho is a dependency chain's access pattern on an echo executor: one
// call at a time on one module, with the clock and random grants, reporting the pool's
// counters per call. "wat" is testdata/echo.wasm (the floor: the host's own cost per
// call, with the log and progress host calls echo makes), "wat-noop" testdata/noop.wasm
// (no host call); "go" is the Go guest of TestGoGuest (GOOS=wasip1 -buildmode=c-shared), whose
// execute echoes its input. A warm pool creates nothing per call (created/op ≈ 0; an
// instance is replaced after Config.RecycleAfter calls).
func BenchmarkSequentialEcho(b *testing.B) {
	grants := Grants{Clock: true, Random: true}
	const input = `{"text":"The quick brown fox jumps over the lazy dog","numbers":[1,2,3,4,5,6,7,8,9,10]}`
	for _, c := range []struct{ name, module, input string }{
		{"wat", "echo", input},
		{"wat-noop", "noop", input},
		{"go", "go", input},
		// The Go guest keeping 8 MiB on its heap: its memory settles at about 172 pages,
		// above twice its size after _initialize plus 64 pages, within the default limit.
		{"go-settled-heap", "go", `{"ballast":true}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			rt := setup(b, Config{Grants: func(string) Grants { return grants }})
			var m *Module
			if c.module == "go" {
				var err error
				if m, err = rt.Load(context.Background(), buildGoPlugin(b), "goguest.wasm"); err != nil {
					b.Fatal(err)
				}
			} else {
				m = load(b, rt, c.module)
			}
			benchSequential(b, m, c.input)
		})
	}
}

// benchSequential calls m's execute b.N times in a row, after one warming call, and
// reports the pool counters per call.
func benchSequential(b *testing.B, m *Module, input string) {
	r := req(input)
	if _, err := m.Execute(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	before := m.Stats()
	n := 0
	for b.Loop() {
		if _, err := m.Execute(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		n++
	}
	after := m.Stats()
	per := func(a, b int64) float64 { return float64(a-b) / float64(n) }
	b.ReportMetric(per(after.Created, before.Created), "created/op")
	b.ReportMetric(per(after.Recycled, before.Recycled), "recycled/op")
	b.ReportMetric(per(after.Discarded, before.Discarded), "discarded/op")
}
