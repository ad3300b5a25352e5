package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// workload is one tree shape. write writes its tasks, as JSON array elements separated
// by commas, every task running method (the root of an aggregating shape runs the
// builtin aggregator, as apflow trees that collect results do).
type workload struct {
	name  string // as in host/engine BenchmarkFloor
	about string
	tasks int
	scale bool // make bench-scale only
	// hop: each task waits for the previous one's end, so a task's time is a dependency
	// hop, which the tables also compare with one fsync.
	hop   bool
	write func(w *taskWriter, method string)
}

var workloads = []workload{
	{name: "wide-1k", about: "root + 1,000 independent children", tasks: 1_001, write: wide(1_000)},
	{name: "aggregate-1k", about: "aggregator root depending on 1,000 children", tasks: 1_001, write: aggregate(1_000)},
	{name: "chain-200", about: "a 200-task chain under a root depending on its end", tasks: 201, hop: true, write: chain(200)},
	{name: "diamond-100", about: "diamond 1 → 100 → 1 (the root is the sink)", tasks: 102, write: diamond(100)},
	{name: "wide-10k", about: "root + 10,000 independent children", tasks: 10_001, write: wide(10_000)},
	{name: "wide-100k", about: "root + 100,000 independent children", tasks: 100_001, write: wide(100_000)},
	{name: "wide-1m", about: "root + 1,000,000 independent children", tasks: 1_000_001, scale: true, write: wide(1_000_000)},
	{name: "layered-1m", about: "root ← 1,000 groups ← 999 children each", tasks: 1_000_001, scale: true, write: layered(1_000, 999)},
}

// taskWriter writes tasks as JSON objects into an array.
type taskWriter struct {
	w     *bufio.Writer
	count int
}

// task writes one task. deps and inputs may be empty.
func (tw *taskWriter) task(name, parent, method string, deps []string, input int) {
	if tw.count > 0 {
		tw.w.WriteByte(',')
	}
	tw.count++
	fmt.Fprintf(tw.w, `{"name":%q,"schemas":{"method":%q}`, name, method)
	if parent != "" {
		fmt.Fprintf(tw.w, `,"parent_id":%q`, parent)
	}
	if input >= 0 {
		fmt.Fprintf(tw.w, `,"inputs":{"i":%d}`, input)
	}
	if len(deps) > 0 {
		tw.w.WriteString(`,"dependencies":[`)
		for i, d := range deps {
			if i > 0 {
				tw.w.WriteByte(',')
			}
			fmt.Fprintf(tw.w, "%q", d)
		}
		tw.w.WriteByte(']')
	}
	tw.w.WriteByte('}')
}

// writeTree writes the workload's tree for method to path, wrapped in prefix and suffix
// (a bare array for apflow run, a JSON-RPC request for serve). It returns the task count.
func writeTree(path string, wl workload, method, prefix, suffix string) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tw := &taskWriter{w: bufio.NewWriterSize(f, 1<<20)}
	io.WriteString(tw.w, prefix+"[")
	wl.write(tw, method)
	io.WriteString(tw.w, "]"+suffix)
	if err := tw.w.Flush(); err != nil {
		return 0, err
	}
	if tw.count != wl.tasks {
		return 0, fmt.Errorf("workload %s wrote %d tasks, not %d", wl.name, tw.count, wl.tasks)
	}
	return tw.count, f.Close()
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func wide(n int) func(*taskWriter, string) {
	return func(tw *taskWriter, m string) {
		tw.task("root", "", m, nil, 0)
		for i := 0; i < n; i++ {
			tw.task(fmt.Sprintf("c%d", i), "root", m, nil, i)
		}
	}
}

func aggregate(n int) func(*taskWriter, string) {
	return func(tw *taskWriter, m string) {
		kids := names("c", n)
		tw.task("root", "", "aggregate_results_executor", kids, -1)
		for i, k := range kids {
			tw.task(k, "root", m, nil, i)
		}
	}
}

func chain(n int) func(*taskWriter, string) {
	return func(tw *taskWriter, m string) {
		tw.task("root", "", m, []string{fmt.Sprintf("c%d", n-1)}, 0)
		for i := 0; i < n; i++ {
			var deps []string
			if i > 0 {
				deps = []string{fmt.Sprintf("c%d", i-1)}
			}
			tw.task(fmt.Sprintf("c%d", i), "root", m, deps, i)
		}
	}
}

func diamond(n int) func(*taskWriter, string) {
	return func(tw *taskWriter, m string) {
		mids := names("m", n)
		tw.task("root", "", m, mids, 0)
		tw.task("src", "root", m, nil, 0)
		for i, id := range mids {
			tw.task(id, "root", m, []string{"src"}, i)
		}
	}
}

func layered(groups, per int) func(*taskWriter, string) {
	return func(tw *taskWriter, m string) {
		gids := names("g", groups)
		tw.task("root", "", m, gids, 0)
		for g, gid := range gids {
			kids := names(gid+"c", per)
			tw.task(gid, "root", m, kids, g)
			for i, k := range kids {
				tw.task(k, gid, m, nil, i)
			}
		}
	}
}
