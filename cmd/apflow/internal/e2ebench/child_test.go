package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNewChildEnv: a child runs with gctrace on and the environment it is given over
// this process's, so that a base measured at baseGOGC collects back to back even where
// the harness itself runs with a GOGC of its own.
func TestNewChildEnv(t *testing.T) {
	t.Setenv("GOGC", "50")
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"inherited", nil, "50 gctrace=1"},
		{"base", []string{baseGOGC}, "1 gctrace=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := newChild(t.Context(), c.env, "/bin/sh", "-c", `echo "$GOGC $GODEBUG"`)
			if err := ch.start(); err != nil {
				t.Fatal(err)
			}
			if err := ch.wait(); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(ch.stdoutText()); got != c.want {
				t.Errorf("the child saw %q, want %q", got, c.want)
			}
		})
	}
}

// TestBaseCollectsBackToBack: warmPlugin measures the base of the heap per task with
// baseGOGC, whatever pace the harness runs at. The apflow here is a script that reports
// a collection whose live heap, in MB, is its GOGC.
func TestBaseCollectsBackToBack(t *testing.T) {
	t.Setenv("GOGC", "50")
	bin := filepath.Join(t.TempDir(), "apflow")
	script := "#!/bin/sh\necho \"gc 1 @0.001s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, 1->1->${GOGC:-100} MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\" >&2\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := options{work: t.TempDir(), modes: []string{"run"}, timeout: time.Minute}
	p := &plugin{lang: "wat", method: "echo", dir: t.TempDir(), bin: bin}
	if err := warmPlugin(t.Context(), o, p); err != nil {
		t.Fatal(err)
	}
	if got := p.base["run"]; got != 1<<20 {
		t.Fatalf("the base's live heap = %d bytes, want 1 MB: its collections at GOGC=1", got)
	}
}
