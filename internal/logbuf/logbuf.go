// Package logbuf provides Buffer, a bytes buffer safe for concurrent writers. Tests hand
// it to loggers, processes and commands whose goroutines write while the test runs, and
// assert on what was written afterwards.
package logbuf

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects writes from any number of goroutines. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the lines written so far that contain substr, in order.
func (b *Buffer) Lines(substr string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}
