package sandbox

import (
	"context"
	"strings"
	"testing"
)

// TestTrapsPointAtTheCode: a trap's error keeps the wasm stack trace, one frame per call
// of the module's own functions, with their names (or indices) as the module has them, and
// the message a kit printed or logged before trapping (a C assert, an AssemblyScript
// abort) is the error itself.
func TestTrapsPointAtTheCode(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	tests := []struct {
		file, input string
		kind        Kind
		want        []string // in this order
	}{
		{"aborts", `"A"`, KindPanic, []string{"abort: index out of range at assembly/index.ts:12:5 (trapped: unreachable)", "wasm stack trace:\n\t$8(i32)\n\t$9(i32,i32) i64"}},
		{"aborts", `"C"`, KindPanic, []string{"Assertion failed: n > 0 (main.c: run: 7) (trapped: unreachable)", "wasm stack trace:"}},
		{"aborts", `"L"`, KindTrap, []string{"): trapped: unreachable\nwasm stack trace:"}},
		{"aborts", `"X"`, KindTrap, []string{"trapped: unreachable\nwasm stack trace:\n\t$7()\n\t$8(i32)\n\t$9(i32,i32) i64"}},
		{"aborts_named", `"X"`, KindTrap, []string{"trapped: unreachable\nwasm stack trace:\n\tfail()\n\taborts::check(i32)\n\t$9(i32,i32) i64"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.input, func(t *testing.T) {
			t.Parallel()
			m := load(t, rt, tt.file)
			_, err := m.Execute(context.Background(), req(tt.input))
			if KindOf(err) != tt.kind {
				t.Fatalf("kind %q, want %q: %v", KindOf(err), tt.kind, err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Fatalf("error lacks %q:\n%s", w, msg)
				}
				msg = msg[i+len(w):]
			}
		})
	}
}

func TestTraceOf(t *testing.T) {
	t.Parallel()
	var deep strings.Builder
	deep.WriteString("wasm error: stack overflow\nwasm stack trace:\n")
	for range 100 {
		deep.WriteString("\tm.f(i32) i32\n")
	}
	tests := []struct {
		name, err, want string
	}{
		{"no trace", "wasm error: unreachable", ""},
		{"a module without a name: no leading dot", "wasm error: unreachable\nwasm stack trace:\n\t.g()\n\t.$3()\n", "\tg()\n\t$3()"},
		{"every frame kept", "wasm error: unreachable\nwasm stack trace:\n\tm.g()\n\tm.h()\n\tm.f(i32)\n", "\tm.g()\n\tm.h()\n\tm.f(i32)"},
		{"bounded", deep.String(), strings.Repeat("\tm.f(i32) i32\n", maxTraceFrames) + "\t… 76 more frames"},
		{"not the host's Go stack", "wasm error: x\nwasm stack trace:\n\tm.f()\n\nGo runtime stack trace:\ngoroutine 1 [running]:\nmain.go:1", "\tm.f()"},
		{"wazero's own bound", "wasm error: x\nwasm stack trace:\n\tm.f()\n\t... maybe followed by omitted frames\n", "\tm.f()\n\t… more frames (not recorded)"},
		{"a name with a newline and a huge name", "wasm error: x\nwasm stack trace:\n\tm.a\x07b()\n\tm." + strings.Repeat("n", 300) + "()\n",
			"\tm.a?b()\n\tm." + strings.Repeat("n", maxTraceLine-2) + "…"},
	}
	for _, tt := range tests {
		if got := traceOf(tt.err); got != tt.want {
			t.Errorf("%s: traceOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}
