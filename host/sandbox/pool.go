package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// instance is one instantiation of a module. It serves one call at a time.
type instance struct {
	mod       api.Module
	mem       *limitedMemory
	alloc     api.Function
	stdout    *logWriter
	stderr    *logWriter
	cr        clockRandom
	initPages uint32
	uses      int
	stack     *stackMeter // nil for a module limitStack did not instrument
	// ctx is the context of the call the instance serves (nil when idle): its
	// nanosleep ends with it and its interrupt flag is raised when it is done. Set by
	// arm and cleared by disarm (interrupt.go), read on the call's goroutine.
	ctx context.Context
	// exports caches api.Function values: ExportedFunction allocates a call engine
	// (with its stack) on every call.
	exports map[string]api.Function
}

// export returns the exported function name, cached.
func (in *instance) export(name string) api.Function {
	fn, ok := in.exports[name]
	if !ok {
		fn = in.mod.ExportedFunction(name)
		in.exports[name] = fn
	}
	return fn
}

// pages returns the current memory size in pages.
func (in *instance) pages() uint32 { return in.mod.Memory().Size() / pageSize }

// PoolStats counts what a module's pool did. Every call that reaches the pool takes a
// pooled instance (Reused) or a new one (Created, unless instantiation failed), and every
// instance the pool handed out ends idle, recycled or discarded: while the module is
// open, Created = Idle + Recycled + Discarded + instances serving a call now.
type PoolStats struct {
	Calls     int64 // executions and hook calls that asked the pool for an instance
	Idle      int64 // instances waiting for a call now
	Created   int64 // instances created for a call (each ran _initialize)
	Reused    int64 // calls served by a pooled instance
	Recycled  int64 // healthy instances closed: age, memory or stack growth, other grants, a smaller limit, no room
	Discarded int64 // instances closed after a trap, timeout, interrupt, limit hit or bad result
}

// pool keeps a module's idle instances, most recently used last (LIFO keeps them warm).
type pool struct {
	m *Module

	mu     sync.Mutex
	idle   []*instance
	closed bool

	calls, created, reused, recycled, discarded atomic.Int64
}

// Stats returns the module's pool counters.
func (m *Module) Stats() PoolStats {
	p := &m.pool
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	return PoolStats{Calls: p.calls.Load(), Idle: int64(idle), Created: p.created.Load(), Reused: p.reused.Load(),
		Recycled: p.recycled.Load(), Discarded: p.discarded.Load()}
}

// acquire returns an instance whose memory fits limitPages and whose clock and random
// sources match cr, reusing an idle one when possible. ctx bounds instantiation
// (including _initialize) and must carry the call state.
func (p *pool) acquire(ctx context.Context, limitPages uint32, cr clockRandom) (*instance, error) {
	p.calls.Add(1)
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if in.cr != cr || in.pages() > limitPages {
			// Built for other grants, or already larger than this call allows.
			p.recycled.Add(1)
			in.close()
			continue
		}
		in.mem.setLimit(limitPages)
		in.stack.reset()
		in.arm(ctx)
		p.reused.Add(1)
		return in, nil
	}
	in, err := p.m.instantiate(ctx, limitPages, cr)
	if err != nil {
		return nil, err
	}
	in.stack.reset() // _initialize ran on it
	p.created.Add(1)
	return in, nil
}

// release returns in after a call. An unhealthy instance (trap, timeout, interrupt,
// limit, bad result, or closed by wazero) is discarded: it is never reused, and neither
// is one whose interrupt flag was raised, even after its call returned. A healthy one
// is recycled when it served Config.RecycleAfter calls, when its memory is above
// recyclePages or when its call stack grew past poolStackBytes; else it is kept idle if
// the pool has room, and recycled otherwise.
func (p *pool) release(in *instance, healthy bool) {
	in.uses++
	if interrupted := in.disarm(); !healthy || interrupted || in.mod.IsClosed() {
		p.discarded.Add(1)
		in.close()
		return
	}
	cfg := &p.m.rt.cfg
	if in.uses >= cfg.RecycleAfter || in.pages() > p.recyclePages(in) || in.stack.grew() {
		p.recycled.Add(1)
		in.close()
		return
	}
	p.mu.Lock()
	if p.closed || len(p.idle) >= cfg.PoolSize {
		p.mu.Unlock()
		p.recycled.Add(1) // healthy, but no room: counted so that the counters add up
		in.close()
		return
	}
	p.idle = append(p.idle, in)
	p.mu.Unlock()
}

// recyclePages is the memory size above which a healthy instance is recycled rather than
// pooled: Config.RecycleMemoryPages when set, else the larger of twice the instance's size
// after _initialize plus 64 pages and the operator's default memory limit.
//
// The default limit is part of the rule because a garbage-collected guest (Go) settles at
// the heap it needs and keeps it: an instance whose memory settled between its own
// threshold and what any default task may use anyway was recycled after every call, and
// each call of the chain then paid _initialize and regrew the heap (a Go guest holding
// 8 MiB: 8–50 ms per call instead of about 11 µs, docs/performance.md). Keeping it
// loosens no limit: acquire never hands an instance larger than the call's memory limit
// to that call, and a guest that keeps growing is stopped by the limit and discarded.
// What the pool holds idle stays bounded by PoolSize times this size.
func (p *pool) recyclePages(in *instance) uint32 {
	cfg := &p.m.rt.cfg
	if cfg.RecycleMemoryPages != 0 {
		return cfg.RecycleMemoryPages
	}
	return max(2*in.initPages+64, cfg.Defaults.MemoryPages)
}

// close closes the idle instances and makes release close the others.
func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, in := range idle {
		in.close()
	}
}

func (in *instance) close() {
	in.disarm()
	_ = in.mod.Close(context.Background())
}

// instantiate creates an instance whose memory may grow to limitPages. It runs
// _initialize under ctx, so a module whose initialisation never returns is interrupted.
// The instance is returned armed for ctx (interrupt.go): the caller disarms it.
func (m *Module) instantiate(ctx context.Context, limitPages uint32, cr clockRandom) (*instance, error) {
	if m.minPages > limitPages {
		return nil, &Error{Plugin: m.info.ID, Hash: m.hash, Kind: KindOutOfMemory,
			Msg: fmt.Sprintf("out of memory: the module declares a minimum memory of %s, above the memory limit of %s",
				formatPages(m.minPages), formatPages(limitPages))}
	}
	in := &instance{
		mem:    &limitedMemory{reserve: m.rt.memReserve},
		stdout: newLogWriter("stdout", hclog.Info, false),
		stderr: newLogWriter("stderr", hclog.Warn, true),
		cr:     cr,
		ctx:    ctx,
	}
	in.mem.setLimit(limitPages)
	cs := callStateFrom(ctx)
	in.stdout.start(cs.logger)
	in.stderr.start(cs.logger)

	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module may coexist
		// _initialize is called below, after the module's start function (which the
		// stack rewrite exports as startExport instead of running it at instantiation),
		// so that their failures can be classified with the instance's stack meter.
		WithStartFunctions().
		WithStdout(in.stdout).
		WithStderr(in.stderr)
	if cr.clock {
		// Not WithSysNanosleep: its time.Sleep would outlive the call (see interrupt.go).
		cfg = cfg.WithSysWalltime().WithSysNanotime().WithNanosleep(in.sleep)
	}
	if cr.random {
		cfg = cfg.WithRandSource(rand.Reader)
	}
	m.rt.instances.Add(1)
	mod, err := m.rt.wz.InstantiateModule(experimental.WithMemoryAllocator(ctx, in.mem.allocator()), m.compiled, cfg)
	if err == nil {
		in.stack = newStackMeter(mod)
		in.arm(ctx)
		for _, name := range []string{startExport, "_initialize"} {
			if fn := mod.ExportedFunction(name); fn != nil {
				if _, err = in.callTop(ctx, fn); err != nil {
					_ = mod.Close(context.Background())
					break
				}
			}
		}
	}
	tail := in.stderr.finish()
	in.stdout.finish()
	if err != nil {
		in.disarm()
		// wazero does not close a module whose instantiation failed after its memory
		// was made (an active data segment out of bounds): a mapping is not collected.
		in.mem.Free()
		kind, msg := describe(cs.parent, ctx, err, cs.timeout, in.mem, in.stack)
		if p := panicLine(tail); p != "" {
			msg += ": " + p
		}
		return nil, &Error{Plugin: m.info.ID, Hash: m.hash, Kind: kind, Msg: "instantiation failed: " + msg, Err: ctxErr(kind, err)}
	}
	in.mod = mod
	in.exports = map[string]api.Function{}
	in.alloc = in.export("alloc")
	in.initPages = in.pages()
	return in, nil
}
