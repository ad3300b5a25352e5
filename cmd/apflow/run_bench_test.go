package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRunCommand is `apflow run -q` (and with --json, the final tree on stdout) of a
// wide tree of the WAT echo executor, in process: reading the file, validating, storing,
// the run, the final report and closing the host, each iteration in a new data
// directory. BenchmarkWideWASM in the same sitting is the run alone; the difference is
// what the product path adds (profile it with -cpuprofile and -memprofile).
func BenchmarkRunCommand(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, jsonOut := range []bool{false, true} {
			b.Run(fmt.Sprintf("tasks=%d/json=%t", n, jsonOut), func(b *testing.B) {
				plugins := b.TempDir()
				copyFile(b, "../../host/sandbox/testdata/echo.wasm", filepath.Join(plugins, "echo.wasm"))
				tree := filepath.Join(b.TempDir(), "tree.json")
				if err := os.WriteFile(tree, wideTree(n, "echo"), 0o644); err != nil {
					b.Fatal(err)
				}
				var total time.Duration
				for i := 0; i < b.N; i++ {
					args := []string{"run", "-q", "--log-level", "off", "--data-dir", b.TempDir(), "--plugins", plugins, tree}
					if jsonOut {
						args = append(args, "--json")
					}
					start := time.Now()
					code := execute(context.Background(), args, nil, io.Discard, io.Discard)
					total += time.Since(start)
					if code != 0 {
						b.Fatalf("apflow run: exit status %d", code)
					}
				}
				b.ReportMetric(float64(b.N*(n+1))/total.Seconds(), "tasks/s")
				b.ReportMetric(float64(total.Microseconds())/float64(b.N*(n+1)), "µs/task")
			})
		}
	}
}
