package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/apflow-wasm/apflow/host/store"
)

// FuzzParseHTTPRequest feeds guest-controlled request documents to the parser: it must
// never panic, and an accepted request always has an http(s) URL with a host and an
// upper-case method.
func FuzzParseHTTPRequest(f *testing.F) {
	for _, seed := range []string{
		`{"method":"GET","url":"https://api.example.com/x","headers":{"A":"b"},"body":"t","timeout_ms":5}`,
		`{"url":"file:///etc/passwd"}`, `{"url":"http://[::1]:80/"}`, `{"method":"g e t","url":"http://a"}`,
		`{"url":"http://:80"}`, `{"timeout_ms":-1,"url":"http://a"}`, `null`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		req, u, err := parseHTTPRequest(doc)
		if err != nil {
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			t.Fatalf("accepted url %q", req.URL)
		}
		if req.Method == "" || strings.ToUpper(req.Method) != req.Method || req.TimeoutMS < 0 {
			t.Fatalf("accepted request %+v", req)
		}
	})
}

// FuzzHTTPAllowed checks grant matching on arbitrary hosts and patterns: no panic, an
// exact match is always allowed, and nothing is allowed without patterns.
func FuzzHTTPAllowed(f *testing.F) {
	f.Add("api.example.com", "*.example.com")
	f.Add("a.b", "[")
	f.Add("", "*")
	f.Fuzz(func(t *testing.T, host, pattern string) {
		if ok, _ := (&Grants{}).httpAllowed(host); ok {
			t.Fatal("allowed without grants")
		}
		g := Grants{HTTP: []string{pattern}}
		allowed, exact := g.httpAllowed(host)
		if exact && !allowed {
			t.Fatal("exact but not allowed")
		}
		if host != "" && !strings.HasSuffix(host, ".") && strings.EqualFold(host, pattern) && !strings.HasSuffix(pattern, ".") && strings.TrimSpace(pattern) == pattern && !exact {
			t.Fatalf("httpAllowed(%q) with the same pattern is not exact", host)
		}
	})
}

// addModuleSeeds seeds a fuzz target of module bytes with every test module, whole and
// cut in half.
func addModuleSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
}

// FuzzLimitStack feeds module bytes to the rewrite (stack budget and interrupt checks):
// it must never panic, a module that compiles still compiles once rewritten (wazero
// validates it), a module that does not compile is not loadable either, rewritten or
// not, and a module without imports behaves the same rewritten (sameBehaviour). A module
// checkBounds refuses is not given to wazero as it is (it could end the process: see
// bounds.go); Load must refuse it.
func FuzzLimitStack(f *testing.F) {
	addModuleSeeds(f)
	ctx := context.Background()
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(coreFeatures).WithCloseOnContextDone(true))
	f.Cleanup(func() { _ = wz.Close(ctx) })
	rt := setup(f, Config{})
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if checkBounds(wasm) != nil {
			if m, err := rt.Load(ctx, wasm, "fuzz.wasm"); KindOf(err) != KindInvalid {
				if m != nil {
					_ = m.Close(ctx)
				}
				t.Fatalf("checkBounds refuses the module, but Load returned %v", err)
			}
			return
		}
		out, rewriteErr := rewrite(wasm)
		orig, err := wz.CompileModule(ctx, wasm)
		if err != nil {
			if m, err := rt.Load(ctx, wasm, "fuzz.wasm"); KindOf(err) != KindInvalid {
				if m != nil {
					_ = m.Close(ctx)
				}
				t.Fatalf("the module does not compile, but Load returned %v", err)
			}
			return
		}
		_ = orig.Close(ctx)
		if rewriteErr != nil { // a reserved export name: refused on purpose
			return
		}
		rewritten, err := wz.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the module compiles, but not once rewritten: %v", err)
		}
		_ = rewritten.Close(ctx)
		sameBehaviour(t, wz, wasm, out)
	})
}

// FuzzRewriteParses feeds any bytes to the parsers of a module from outside that come
// before wazero's (checkBounds, then the rewrite: capTables and limitStack): they must
// never panic, and must give the same answer twice. Without a compile or a call per input it runs thousands of inputs a second,
// where FuzzLimitStack runs tens.
func FuzzRewriteParses(f *testing.F) {
	addModuleSeeds(f)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		if err, again := checkBounds(wasm), checkBounds(wasm); (err == nil) != (again == nil) {
			t.Fatalf("two checks of the same bytes differ: %v, %v", err, again)
		}
		capped, err := capTables(wasm)
		if err != nil {
			return
		}
		out, err := limitStack(capped)
		again, againErr := limitStack(capped)
		if (err == nil) != (againErr == nil) || !bytes.Equal(out, again) {
			t.Fatalf("two rewrites of the same bytes differ: %v, %v", err, againErr)
		}
		if merged, again := mergeData(wasm), mergeData(wasm); !bytes.Equal(merged, again) {
			t.Fatalf("two merges of the same bytes differ")
		}
	})
}

// FuzzMergeData reads each three bytes of its input as a data segment (a step from the
// last one's offset, from 64 bytes back to 191 on, its length and its byte) of a module
// with one page of memory: the module and its merge (mergeData) instantiate to the same
// memory, or both fail (a segment out of bounds). Overlapping segments, which the merge
// leaves, and gaps it fills and does not fill all come up.
func FuzzMergeData(f *testing.F) {
	for _, seed := range []string{"\x40\x02\x01\x52\x01\x02", "\x00\x10\x01\x48\x10\x02\x10\x00\x03", "\xff\xff\xff",
		strings.Repeat("\xff\x1f\x01", 23)} { // the last one past the page
		f.Add([]byte(seed))
	}
	ctx := context.Background()
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(coreFeatures))
	f.Cleanup(func() { _ = wz.Close(ctx) })
	f.Fuzz(func(t *testing.T, layout []byte) {
		var segs []segment
		at := int64(65_536 - 4_096)
		for i := 0; i+2 < len(layout); i += 3 {
			at = max(0, at+int64(layout[i])-64)
			segs = append(segs, segment{offset: uint32(at), init: bytes.Repeat(layout[i+2:i+3], int(layout[i+1])%32)})
		}
		orig := dataModule(1, segs, false)
		want, werr := memoryOf(t, wz, orig)
		got, gerr := memoryOf(t, wz, mergeData(orig))
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("the module instantiates to %d bytes (%v), its merge to %d (%v), or they differ", len(want), werr, len(got), gerr)
		}
	})
}

// sameBehaviour instantiates a module without imports as written and rewritten, and calls
// each exported function without parameters on both (100 ms each, in a runtime that
// closes on context done): the results are the same, or both calls fail. A call that
// times out, and one the stack budget trapped (where wazero's own stack was deeper),
// are not compared.
func sameBehaviour(t *testing.T, wz wazero.Runtime, orig, rewritten []byte) {
	ctx := context.Background()
	ictx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	a, err := wz.InstantiateWithConfig(ictx, orig, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		return // imports, or a start function that traps or never returns
	}
	defer a.Close(ctx)
	b, err := wz.InstantiateWithConfig(ictx, rewritten, wazero.NewModuleConfig().WithName("").WithStartFunctions(startExport))
	if err != nil && ictx.Err() == nil {
		t.Fatalf("instantiates as written, not rewritten: %v", err)
	} else if err != nil {
		return
	}
	defer b.Close(ctx)
	meter := newStackMeter(b)
	for name, def := range a.ExportedFunctionDefinitions() {
		if len(def.ParamTypes()) != 0 {
			continue
		}
		call := func(m api.Module) ([]uint64, error) {
			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			res, err := m.ExportedFunction(name).Call(cctx)
			if err != nil && cctx.Err() != nil {
				return nil, context.DeadlineExceeded
			}
			return res, err
		}
		meter.reset()
		want, werr := call(a)
		got, gerr := call(b)
		switch {
		case errors.Is(werr, context.DeadlineExceeded), errors.Is(gerr, context.DeadlineExceeded), meter.exhausted():
			return // not comparable; the instances may be closed
		case (werr == nil) != (gerr == nil):
			t.Fatalf("%s: as written %v, %v; rewritten %v, %v", name, want, werr, got, gerr)
		case werr == nil && !slices.Equal(want, got):
			t.Fatalf("%s returned %v as written, %v rewritten", name, want, got)
		}
	}
}

// FuzzDecodeKVRequest feeds guest-controlled request documents to the kv_* decoder: it
// must never panic, and an accepted request always satisfies what the store asks of it
// (a valid key, a compact JSON value, a TTL and a list limit in range).
func FuzzDecodeKVRequest(f *testing.F) {
	for _, seed := range []string{
		`{"key":"k"}`, `{"key":"k","value":{"a":[1,2]},"ttl_ms":1000,"if_absent":true}`,
		`{"prefix":"p/","after":"p/1","limit":10}`, `{"key":"a\u0000b"}`, `{"key":""}`,
		`{"key":"k","value":1} {}`, `{"limit":-1}`, `null`, `{`, `{"key":1}`, `{"key":"k","value":}`,
	} {
		for _, fn := range []string{"kv_get", "kv_set", "kv_delete", "kv_list"} {
			f.Add(fn, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, fn string, doc []byte) {
		req, err := decodeKVRequest(fn, doc)
		if err != nil {
			if _, ok := err.(*kvError); !ok {
				t.Fatalf("error %v is not a *kvError", err)
			}
			return
		}
		switch fn {
		case "kv_list":
			if req.Limit < 1 || req.Limit > store.MaxKVList {
				t.Fatalf("accepted limit %d", req.Limit)
			}
			for _, s := range []string{req.Prefix, req.After} {
				if s != "" && store.CheckKVKey(s) != nil {
					t.Fatalf("accepted prefix or after %q", s)
				}
			}
		case "kv_get", "kv_delete", "kv_set":
			if err := store.CheckKVKey(req.Key); err != nil {
				t.Fatalf("accepted key %q: %v", req.Key, err)
			}
		default:
			t.Fatalf("accepted function %q", fn)
		}
		if fn == "kv_set" {
			var compact bytes.Buffer
			if err := json.Compact(&compact, req.Value); err != nil || !bytes.Equal(compact.Bytes(), req.Value) {
				t.Fatalf("accepted value %q (not compact JSON: %v)", req.Value, err)
			}
			if req.TTLMS < 0 || req.TTLMS > MaxKVTTL.Milliseconds() {
				t.Fatalf("accepted ttl_ms %d", req.TTLMS)
			}
		}
	})
}
