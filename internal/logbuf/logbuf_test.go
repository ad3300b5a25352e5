package logbuf

import (
	"fmt"
	"sync"
	"testing"
)

func TestBufferConcurrentWritesAndLines(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				fmt.Fprintf(&b, "g%d line %d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if n := len(b.Lines("line")); n != 800 {
		t.Fatalf("Lines(line) = %d lines, want 800", n)
	}
	if n := len(b.Lines("g3 ")); n != 100 {
		t.Fatalf("Lines(g3) = %d lines, want 100", n)
	}
}
