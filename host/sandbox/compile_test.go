package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"
)

// manyFunctions is a valid module of n functions (i32) -> i32, each adding 1 to its
// parameter m times: large enough that compiling it takes a while.
func manyFunctions(n, m int) []byte {
	section := func(out []byte, id byte, body []byte) []byte {
		return append(appendU32(append(out, id), uint32(len(body))), body...)
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = section(out, 1, []byte{1, 0x60, 1, 0x7f, 1, 0x7f}) // one type: (i32) -> i32
	funcs := appendU32(nil, uint32(n))
	for range n {
		funcs = append(funcs, 0)
	}
	out = section(out, 3, funcs)
	code := appendU32(nil, uint32(n))
	for range n {
		body := []byte{0} // no locals beyond the parameter
		for range m {
			body = append(body, 0x20, 0, 0x41, 1, 0x6a, 0x21, 0) // local.set 0 (local.get 0 + 1)
		}
		body = append(body, 0x20, 0, 0x0b)
		code = append(appendU32(code, uint32(len(body))), body...)
	}
	return section(out, 10, code)
}

// TestCloseWaitsForACompile closes the runtime while a module compiles outside any call
// (as Module.Ready does): Close waits for the compile, which ends with the module, and
// nothing panics (wazero's runtimes closed under a compile panicked).
func TestCloseWaitsForACompile(t *testing.T) {
	t.Parallel()
	wasm := manyFunctions(500, 100)
	for _, delay := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{CacheDir: t.TempDir()})
			type outcome struct {
				compiled bool
				err      error
			}
			done := make(chan outcome, 1)
			go func() {
				cm, err := rt.compile(context.Background(), Hash(wasm), wasm)
				if cm != nil {
					rt.release(Hash(wasm))
				}
				done <- outcome{cm != nil, err}
			}()
			for rt.compiles.Load() == 0 { // the compile has entered: Close must wait for it
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(delay)
			if err := rt.Close(context.Background()); err != nil {
				t.Fatalf("Close = %v", err)
			}
			if o := <-done; !o.compiled || o.err != nil {
				t.Fatalf("compile = %+v, want the module: it began before Close", o)
			}
		})
	}
}

// TestCompilePanicRefusesTheModule makes a compile panic: the module is refused with the
// panic's message, a caller waiting for the same compile is woken with it, the module
// stays refused in this runtime (wazero may keep a half-made entry), and another module
// still loads.
func TestCompilePanicRefusesTheModule(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	entered, release := make(chan struct{}), make(chan struct{})
	rt.testBeforeCompile = func(context.Context) {
		close(entered)
		<-release
		panic("a defect")
	}
	wasm := wasmFile(t, "echo")
	first := make(chan error, 1)
	go func() {
		_, err := rt.Load(context.Background(), wasm, "echo.wasm")
		first <- err
	}()
	<-entered
	second := make(chan error, 1)
	go func() {
		_, err := rt.Load(context.Background(), wasm, "echo.wasm")
		second <- err
	}()
	for { // the second Load waits on the first's compile
		rt.mu.Lock()
		refs := rt.compiled[Hash(wasm)].refs
		rt.mu.Unlock()
		if refs == 2 {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	close(release)
	for i, ch := range []chan error{first, second} {
		if err := <-ch; KindOf(err) != KindInvalid || !strings.Contains(err.Error(), "a defect") {
			t.Fatalf("load %d = %v, want KindInvalid naming the panic", i+1, err)
		}
	}
	rt.testBeforeCompile = nil
	if _, err := rt.Load(context.Background(), wasm, "echo.wasm"); err == nil || !strings.Contains(err.Error(), "a defect") {
		t.Fatalf("a later load = %v, want the panic's refusal again", err)
	}
	if m, err := rt.Load(context.Background(), wasmFile(t, "noop"), "noop.wasm"); err != nil {
		t.Fatalf("another module: %v", err)
	} else {
		_ = m.Close(context.Background())
	}
}

// TestRefusalIsTheValidators checks that a module invalid as written is refused with the
// validator's error (or checkBounds', which reads it first), also when its rewrite would
// fail on its own: the verdict on the module as written comes first.
func TestRefusalIsTheValidators(t *testing.T) {
	t.Parallel()
	header := "\x00asm\x01\x00\x00\x00"
	for _, tt := range []struct {
		name, wasm, want string
	}{
		{"truncated section", header + "\x01\x05\x01", "malformed module: type section at byte 8"},
		{"a type index out of range", header + "\x01\x01\x00" + "\x03\x02\x01\x05" + "\x0a\x04\x01\x02\x00\x0b", "type section index 5 out of range"},
		{"not a module", "junk", "invalid magic number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := limitStack([]byte(tt.wasm)); err == nil {
				t.Fatalf("limitStack accepted %q: the case does not test what it means to", tt.wasm)
			}
			rt := setup(t, Config{})
			_, err := rt.Load(context.Background(), []byte(tt.wasm), "bad.wasm")
			if KindOf(err) != KindInvalid {
				t.Fatalf("err = %v, want KindInvalid", err)
			}
			mustContain(t, "error", err.Error(), tt.want)
			if strings.Contains(err.Error(), "cannot meter") {
				t.Fatalf("err = %v: the rewrite's error, not the validator's", err)
			}
		})
	}
}

// TestInspectAfterClose checks that Inspect, which compiles with the validator, counts
// as a call: after Close it fails as the runtime's closed error instead of reporting
// the module as not compiling, and Close waits for one in flight.
func TestInspectAfterClose(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	wasm := manyFunctions(500, 100)
	done := make(chan error, 1)
	go func() {
		_, err := rt.Inspect(context.Background(), wasm, "many.wasm")
		done <- err
	}()
	time.Sleep(2 * time.Millisecond)
	if err := rt.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := <-done; err != nil && KindOf(err) != KindClosed {
		t.Fatalf("Inspect during Close = %v, want a result or KindClosed", err)
	}
	in, err := rt.Inspect(context.Background(), wasmFile(t, "echo"), "echo.wasm")
	if KindOf(err) != KindClosed {
		t.Fatalf("Inspect after Close = %+v, %v; want KindClosed", in, err)
	}
}
