package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"time"
)

// plugin is one echo executor, as one build of apflow runs it: its method, a directory
// holding only its module, and the build's own compilation cache of it.
type plugin struct {
	lang   string // wat, go, rust, c
	method string
	dir    string
	// build names the apflow binary bin among those compared (-against): "" when one
	// build is measured, else "new" (-bin) or "base" (-against).
	build, bin string
	cache      string // a compilation cache (--cache-dir) of bin, warmed by one run
	// warm is a tasks.execute of a 2-task tree: the warm mode's first request.
	warm string
	// base is the largest live heap of a 2-task tree, per mode: the fixed part (the
	// store's buffers, the runtime, the modules) the heap per task is counted over.
	base map[string]int64
}

// result is one child's figures.
type result struct {
	mode, lang string
	build      string // plugin.build
	tasks      int
	wall       time.Duration // run: the process from start to exit; serve: request to answer
	run        time.Duration // run: the run as apflow's summary reports it (start to final report)
	rss, heap  int64
	anon       int64 // the largest anonymous memory sampled (child.peakAnon)
	base       int64 // the plugin's base heap in this mode
	err        error
}

// summaryTime finds the duration of apflow run's summary line ("N tasks: … in 1.234s").
var summaryTime = regexp.MustCompile(`(?m)^\d+ tasks?: .* in (\S+)$`)

// args are the flags every child of p gets: its own data dir, p's warm compilation
// cache and its plugins dir.
func (p plugin) args(dataDir string) []string {
	return []string{"--data-dir", dataDir, "--cache-dir", p.cache, "--plugins", p.dir}
}

// maxTree is the tree size limit the children get (--max-tree-bytes, --max-body-bytes):
// a 1,000,000-task tree is about 100 MB.
const maxTree = "1073741824"

// measureRun runs `apflow run -q tree` once, in a fresh data dir.
func measureRun(ctx context.Context, o options, p plugin, tree string, tasks int) result {
	return measureRunAfter(ctx, o, p, tree, tasks, "run", 0, 1)
}

// The rerun mode's runs of one tree in one data dir: rerunFill untimed, then rerunTimed
// timed. Its figures are the timed runs' means (peak RSS and heap: their largest), since
// one run in a few does the compactions the runs before it left.
const (
	rerunFill  = 10
	rerunTimed = 10
)

// measureRunAfter runs `apflow run -q tree` fill times in a fresh data dir, untimed, then
// timed times more: the figures of the runs a user makes once the data dir holds their
// earlier ones.
func measureRunAfter(ctx context.Context, o options, p plugin, tree string, tasks int, mode string, fill, timed int) result {
	res := result{mode: mode, lang: p.lang, build: p.build, tasks: tasks}
	dir, err := os.MkdirTemp(o.work, "data-")
	if err != nil {
		res.err = err
		return res
	}
	defer os.RemoveAll(dir)
	args := append([]string{"run", "-q", "--max-tree-bytes", maxTree, tree}, p.args(dir)...)
	for i := 0; i < fill+timed; i++ {
		c, wall, err := runChild(ctx, o, p.bin, args)
		if err != nil {
			res.rss, res.anon = c.peakRSS(), c.peakAnon()
			if res.err = err; fill+timed > 1 {
				res.err = fmt.Errorf("run %d of %d in one data dir: %w", i+1, fill+timed, err)
			}
			return res
		}
		if i < fill {
			continue
		}
		res.wall += wall / time.Duration(timed)
		res.rss, res.heap = max(res.rss, c.peakRSS()), max(res.heap, c.liveHeap())
		res.anon = max(res.anon, c.peakAnon())
		if m := summaryTime.FindStringSubmatch(c.stdoutText()); m != nil {
			d, _ := time.ParseDuration(m[1])
			res.run += d / time.Duration(timed)
		}
	}
	return res
}

// runChild runs the apflow child of args (binary bin) to its exit, within o.timeout, and
// times it.
func runChild(ctx context.Context, o options, bin string, args []string) (*child, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c := newChild(ctx, o.childEnv, bin, args...)
	start := time.Now()
	if err := c.start(); err != nil {
		return c, 0, err
	}
	if err := c.wait(); err != nil {
		return c, time.Since(start), c.failure(err)
	}
	return c, time.Since(start), nil
}

// measureServe starts `apflow serve`, sends the request in body (a tasks.execute of the
// tree) and times it to its answer, which must say the tree completed. In the warm mode
// the server first executes p.warm, untimed, so that the plugin is loaded and its first
// instance made when the timed request comes.
func measureServe(ctx context.Context, o options, mode string, p plugin, body string, tasks int) result {
	res := result{mode: mode, lang: p.lang, build: p.build, tasks: tasks}
	dir, err := os.MkdirTemp(o.work, "data-")
	if err != nil {
		res.err = err
		return res
	}
	defer os.RemoveAll(dir)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--scheduler=false", "--max-body-bytes", maxTree}, p.args(dir)...)
	c := newChild(sctx, o.childEnv, p.bin, append(args, o.serveArgs...)...)
	if err := c.start(); err != nil {
		res.err = err
		return res
	}
	addr, err := serverAddr(ctx, c)
	if err == nil && mode == "warm" {
		if _, err = execute(ctx, o.timeout, addr, p.warm); err != nil {
			err = fmt.Errorf("the untimed first request: %w", err)
		}
	}
	if err == nil {
		var d time.Duration
		d, err = execute(ctx, o.timeout, addr, body)
		res.wall = d
	}
	stop() // interrupt: the server closes its store and exits
	werr := c.wait()
	res.rss, res.anon, res.heap = c.peakRSS(), c.peakAnon(), c.liveHeap()
	if err != nil {
		res.err = c.failure(err)
	} else if werr != nil && !endedByInterrupt(werr) {
		res.err = c.failure(fmt.Errorf("serve ended: %w", werr))
	}
	return res
}

// endedByInterrupt tells whether a server's end is the one the interrupt asked for: a
// clean exit (reported by exec as the context's end) or exit status 130.
func endedByInterrupt(err error) bool {
	var ee *exec.ExitError
	return errors.Is(err, context.Canceled) || (errors.As(err, &ee) && ee.ExitCode() == 130)
}

var servingOn = regexp.MustCompile(`serving on http://(\S+)`)

// serverAddr waits for the server's "serving on" line.
func serverAddr(ctx context.Context, c *child) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := servingOn.FindStringSubmatch(c.stdoutText()); m != nil {
			return m[1], nil
		}
		if c.cmd.ProcessState != nil {
			break
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return "", errors.New("the server did not say where it serves within a minute")
}

// execute posts the JSON-RPC request in the file body to the server and returns how long
// the answer took; the answer must report the tree completed.
func execute(ctx context.Context, timeout time.Duration, addr, body string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	f, err := os.Open(body)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/tasks", f)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("tasks.execute: %w", err)
	}
	defer resp.Body.Close()
	var answer struct {
		Result *struct {
			Status string `json:"status"`
		} `json:"result"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	d := time.Since(start)
	switch {
	case err != nil:
		return d, fmt.Errorf("tasks.execute: HTTP %d, answer: %w", resp.StatusCode, err)
	case answer.Error != nil:
		return d, fmt.Errorf("tasks.execute: error %d: %s", answer.Error.Code, answer.Error.Message)
	case answer.Result == nil || answer.Result.Status != "completed":
		return d, fmt.Errorf("tasks.execute: the tree ended %+v", answer.Result)
	}
	return d, nil
}
