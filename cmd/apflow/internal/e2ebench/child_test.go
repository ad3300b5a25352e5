package main

import (
	"strings"
	"testing"
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
