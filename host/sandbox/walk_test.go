package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestWalkBody walks expressions of every instruction class: it finds exactly the loops
// (never a byte 0x03 inside an immediate) and refuses what it does not know or what is
// cut short. TestWalkBodyCalls checks the calls it reports.
func TestWalkBody(t *testing.T) {
	t.Parallel()
	end := byte(opEnd)
	tests := []struct {
		name  string
		expr  []byte
		loops []int // offsets just after each loop's block type
		err   bool
	}{
		{"loop, empty block type", []byte{0x03, 0x40, 0x0b, end}, []int{2}, false},
		{"loop, value block type", []byte{0x03, 0x7f, 0x41, 0x03, 0x0b, end}, []int{2}, false},
		{"loop, v128 and reference block types", []byte{0x03, 0x7b, 0x00, 0x0b, 0x03, 0x6f, 0x00, 0x0b, end}, []int{2, 6}, false},
		{"loop, type index block type (multi-byte s33)", []byte{0x03, 0x83, 0x00, 0x0b, end}, []int{3}, false},
		{"negative type index refused", []byte{0x03, 0x7a, 0x0b, end}, nil, true},
		{"nested loops in block and if/else", []byte{0x02, 0x40, 0x03, 0x40, 0x04, 0x40, 0x03, 0x40, 0x0b, 0x05, 0x0b, 0x0b, 0x0b, end}, []int{4, 8}, false},
		{"br, br_if, br_table with 0x03 immediates", []byte{0x03, 0x40, 0x0c, 0x03, 0x0d, 0x03, 0x0e, 0x03, 0x03, 0x03, 0x03, 0x03, 0x0b, end}, []int{2}, false},
		{"call and call_indirect", []byte{0x10, 0x03, 0x11, 0x03, 0x03, 0x10, 0x83, 0x03, end}, nil, false},
		{"locals and globals", []byte{0x20, 0x03, 0x21, 0x03, 0x22, 0x03, 0x23, 0x03, 0x24, 0x03, end}, nil, false},
		{"select and select t*", []byte{0x1b, 0x1c, 0x02, 0x7f, 0x7b, end}, nil, false},
		{"table.get and table.set", []byte{0x25, 0x03, 0x26, 0x03, end}, nil, false},
		{"loads and stores (memarg)", []byte{0x28, 0x02, 0x03, 0x36, 0x03, 0x83, 0x03, 0x3e, 0x00, 0x03, end}, nil, false},
		{"memarg with the multi-memory bit refused", []byte{0x28, 0x40, 0x00, 0x00, end}, nil, true},
		{"memory.size and memory.grow", []byte{0x3f, 0x00, 0x40, 0x00, end}, nil, false},
		{"i32.const and i64.const", []byte{0x41, 0x83, 0x03, 0x42, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x03, end}, nil, false},
		{"f32.const and f64.const", []byte{0x43, 0x03, 0x03, 0x03, 0x03, 0x44, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, end}, nil, false},
		{"numeric and sign extension", []byte{0x45, 0x6a, 0xbf, 0xc0, 0xc4, end}, nil, false},
		{"ref.null, ref.is_null, ref.func", []byte{0xd0, 0x70, 0xd0, 0x6f, 0xd1, 0xd2, 0x03, end}, nil, false},
		{"ref.null of a non-reference type refused", []byte{0xd0, 0x7f, end}, nil, true},
		{"0xFC trunc_sat", []byte{0xfc, 0x00, 0xfc, 0x07, end}, nil, false},
		{"0xFC bulk memory", []byte{0xfc, 0x08, 0x03, 0x00, 0xfc, 0x09, 0x03, 0xfc, 0x0a, 0x00, 0x00, 0xfc, 0x0b, 0x00, end}, nil, false},
		{"0xFC tables", []byte{0xfc, 0x0c, 0x03, 0x03, 0xfc, 0x0d, 0x03, 0xfc, 0x0e, 0x03, 0x03, 0xfc, 0x0f, 0x03, 0xfc, 0x10, 0x03, 0xfc, 0x11, 0x03, end}, nil, false},
		{"0xFC 18 refused", []byte{0xfc, 0x12, end}, nil, true},
		{"0xFD loads and stores", []byte{0xfd, 0x00, 0x04, 0x03, 0xfd, 0x0b, 0x04, 0x03, 0xfd, 0x5c, 0x02, 0x03, end}, nil, false},
		{"0xFD v128.const", append(append([]byte{0xfd, 0x0c}, slices.Repeat([]byte{0x03}, 16)...), end), nil, false},
		{"0xFD i8x16.shuffle", append(append([]byte{0xfd, 0x0d}, slices.Repeat([]byte{0x03}, 16)...), end), nil, false},
		{"0xFD lanes", []byte{0xfd, 0x15, 0x03, 0xfd, 0x22, 0x03, end}, nil, false},
		{"0xFD load and store lane", []byte{0xfd, 0x54, 0x00, 0x03, 0x03, 0xfd, 0x5b, 0x03, 0x03, 0x03, end}, nil, false},
		{"0xFD arithmetic (multi-byte sub-opcode)", []byte{0xfd, 0x0e, 0xfd, 0x4d, 0xfd, 0xff, 0x01, end}, nil, false},
		{"0xFD relaxed SIMD refused", []byte{0xfd, 0x80, 0x02, end}, nil, true},
		{"try (exceptions) refused", []byte{0x06, 0x40, 0x0b, end}, nil, true},
		{"return_call (tail calls) refused", []byte{0x12, 0x00, end}, nil, true},
		{"atomics refused", []byte{0xfe, 0x00, 0x02, 0x00, end}, nil, true},
		{"unassigned opcode refused", []byte{0x27, end}, nil, true},
		{"truncated immediate", []byte{0x41, 0x83}, nil, true},
		{"truncated v128.const", []byte{0xfd, 0x0c, 0x03, 0x03}, nil, true},
		{"missing final end", []byte{0x01}, nil, true},
		{"empty", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var loops []int
			err := walkBody(tt.expr, func(op byte, at int) {
				if op == opLoop {
					loops = append(loops, at)
				}
			})
			if (err != nil) != tt.err {
				t.Fatalf("walkBody(% x) = %v, want error %t", tt.expr, err, tt.err)
			}
			if !tt.err && !slices.Equal(loops, tt.loops) {
				t.Fatalf("loops at %v, want %v", loops, tt.loops)
			}
		})
	}
}

// TestWalkBodyCalls checks that the walker reports every call and call_indirect, just
// after its immediates (where the rewrite restores the caller's stack level), and nothing
// else: not a 0x10 or 0x11 byte inside an immediate, not the other instructions.
func TestWalkBodyCalls(t *testing.T) {
	t.Parallel()
	end := byte(opEnd)
	tests := []struct {
		name  string
		expr  []byte
		calls []int // offsets just after each call's immediates
	}{
		{"call and call_indirect", []byte{0x10, 0x03, 0x11, 0x03, 0x00, 0x10, 0x91, 0x01, end}, []int{2, 5, 8}},
		{"calls in a loop, after its check point", []byte{0x03, 0x40, 0x10, 0x00, 0x10, 0x11, 0x0b, end}, []int{4, 6}},
		{"0x10 and 0x11 as immediates only", []byte{0x41, 0x10, 0x20, 0x11, 0x28, 0x02, 0x10, 0x1a, end}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls []int
			err := walkBody(tt.expr, func(op byte, at int) {
				if op == opCall || op == opCallIndirect {
					calls = append(calls, at)
				}
			})
			if err != nil || !slices.Equal(calls, tt.calls) {
				t.Fatalf("walkBody(% x): calls at %v, %v; want %v", tt.expr, calls, err, tt.calls)
			}
		})
	}
}

// TestWalkRefusalNamesTheInstruction checks that a module using an instruction outside
// the runtime's features is refused by the rewrite, naming the instruction.
func TestWalkRefusalNamesTheInstruction(t *testing.T) {
	t.Parallel()
	err := walkBody([]byte{0xfd, 0x80, 0x02, opEnd}, func(byte, int) {})
	var op *errOpcode
	if !errors.As(err, &op) || op.prefix != opPrefixFD || op.op != 256 {
		t.Fatalf("err = %v, want an unknown 0xfd 256", err)
	}
	mustContain(t, "error", err.Error(), "unknown instruction 0xfd 256 at body offset 0")
}

// TestRewriteKeepsBehaviour runs testdata/opcodes (every instruction class, in loops)
// as written and rewritten: the rewritten module compiles and computes the same value,
// and has an interrupt check in each of its loops.
func TestRewriteKeepsBehaviour(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orig := wasmFile(t, "opcodes")
	out, err := limitStack(orig)
	if err != nil {
		t.Fatalf("limitStack: %v", err)
	}
	run := func(wasm []byte) (uint64, error) {
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(coreFeatures))
		defer r.Close(ctx)
		mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
		if err != nil {
			return 0, err
		}
		res, err := mod.ExportedFunction("run").Call(ctx)
		if err != nil {
			return 0, err
		}
		return res[0], nil
	}
	want, err := run(orig)
	if err != nil {
		t.Fatalf("original: %v", err)
	}
	got, err := run(out)
	if err != nil {
		t.Fatalf("rewritten: %v", err)
	}
	if got != want {
		t.Fatalf("rewritten run() = %#x, original %#x", got, want)
	}
	m, err := parseForStack(mustSplit(t, orig))
	if err != nil {
		t.Fatal(err)
	}
	check := m.interruptCheck([]byte{opLoop, blockEmpty})
	if n := countAll(out, check); n != 1 { // the outer loop; the inner has a type index
		t.Fatalf("%d outer loops with a check, want 1", n)
	}
}

func mustSplit(t *testing.T, wasm []byte) []section {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	return secs
}

func countAll(b, sub []byte) int {
	n := 0
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			n++
		}
	}
	return n
}

// TestCompilerTagNamesWazero: the tag of the rewrite cache's entries changes with
// wazero's version (or its replacement) and nothing else in the build; without wazero in
// the build information it is the unknown version's.
func TestCompilerTagNamesWazero(t *testing.T) {
	t.Parallel()
	build := func(deps ...*debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{Deps: append([]*debug.Module{{Path: "github.com/labstack/echo/v4", Version: "v4.0.0"}}, deps...)}
	}
	wazeroAt := func(v string) *debug.Module { return &debug.Module{Path: "github.com/tetratelabs/wazero", Version: v} }
	v12, v13 := compilerTagOf(build(wazeroAt("v1.12.0"))), compilerTagOf(build(wazeroAt("v1.13.0")))
	replaced := wazeroAt("v1.12.0")
	replaced.Replace = &debug.Module{Path: "../wazero"}
	for _, c := range []struct {
		name      string
		got, want [compilerTagLen]byte
		same      bool
	}{
		{"another version", v13, v12, false},
		{"replaced", compilerTagOf(build(replaced)), v12, false},
		{"no wazero", compilerTagOf(build()), v12, false},
		{"another dependency", compilerTagOf(&debug.BuildInfo{Deps: []*debug.Module{wazeroAt("v1.12.0")}}), v12, true},
		{"no build information", compilerTagOf(nil), compilerTagOf(build()), true},
	} {
		if (c.got == c.want) != c.same {
			t.Errorf("%s: tag %x against %x, want same = %v", c.name, c.got, c.want, c.same)
		}
	}
}

// TestRewriteCacheByCompiler: binaries of two compilers sharing a cache dir keep an
// entry each, and a put removes the entry an earlier format kept beside the compilers'
// directories.
func TestRewriteCacheByCompiler(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash := Hash([]byte("a module"))
	v12 := rewriteCache{dir: dir, compiler: compilerTagOf(&debug.BuildInfo{Deps: []*debug.Module{{Path: "github.com/tetratelabs/wazero", Version: "v1.12.0"}}})}
	v13 := rewriteCache{dir: dir, compiler: compilerTagOf(&debug.BuildInfo{Deps: []*debug.Module{{Path: "github.com/tetratelabs/wazero", Version: "v1.13.0"}}})}
	if err := os.WriteFile(v12.legacyPath(hash), []byte("an entry of format 6"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cache rewriteCache
		body  string
	}{{v12, "rewritten for 1.12"}, {v13, "rewritten for 1.13"}} {
		if err := c.cache.put(hash, []byte(c.body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		cache rewriteCache
		want  string
	}{{v12, "rewritten for 1.12"}, {v13, "rewritten for 1.13"}} {
		if got, ok := c.cache.get(hash); !ok || string(got) != c.want {
			t.Errorf("get = %q, %v; want %q", got, ok, c.want)
		}
	}
	if _, err := os.Stat(v12.legacyPath(hash)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the entry of format 6 is still there (%v)", err)
	}
}

// TestRewriteCache loads a module in a runtime with a persistent cache, then in fresh
// runtimes over the same directory: the second skips validation and rewrite; an entry
// of another format, of another compiler or a damaged one is ignored and replaced, and
// the module still runs.
func TestRewriteCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wasm := wasmFile(t, "echo")
	entry := rewriteCache{dir: rewriteDir(dir), compiler: compilerTag()}.path(Hash(wasm))
	loadOnce := func(t *testing.T) int64 {
		t.Helper()
		rt := setup(t, Config{CacheDir: dir})
		m, err := rt.Load(context.Background(), wasm, "echo.wasm")
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		resp, err := m.Execute(context.Background(), req(`{"a":1}`))
		if err != nil || string(resp.Output) != `{"a":1}` {
			t.Fatalf("Execute = %v, %v", resp, err)
		}
		_ = rt.Close(context.Background())
		return rt.rewritten.Load()
	}
	if n := loadOnce(t); n != 1 {
		t.Fatalf("cold cache: %d rewrites, want 1", n)
	}
	good, err := os.ReadFile(entry)
	if err != nil {
		t.Fatalf("no cache entry: %v", err)
	}
	if n := loadOnce(t); n != 0 {
		t.Fatalf("warm cache: %d rewrites, want 0", n)
	}
	for _, tt := range []struct {
		name  string
		entry []byte
	}{
		{"another format", append(append([]byte(rewriteMagic), 0x63, 0, 0, 0), good[len(rewriteMagic)+4:]...)},
		// Written by a host of another wazero: compiled from the entry, the module would
		// skip the compile worker (rewritecache.go).
		{"another compiler", func() []byte {
			e := slices.Clone(good)
			e[len(rewriteMagic)+4] ^= 0xff
			return e
		}()},
		{"truncated", good[:len(good)-1]},
		{"damaged", append(slices.Clone(good[:len(good)-1]), good[len(good)-1]^0xff)},
		{"garbage", []byte("not a cache entry")},
	} {
		if err := os.WriteFile(entry, tt.entry, 0o644); err != nil {
			t.Fatal(err)
		}
		if n := loadOnce(t); n != 1 {
			t.Fatalf("%s: %d rewrites, want 1", tt.name, n)
		}
		if got, _ := os.ReadFile(entry); !bytes.Equal(got, good) {
			t.Fatalf("%s: the entry was not replaced", tt.name)
		}
	}
}
