package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// options are the command's flags.
type options struct {
	bin, against, wat, plugins, goBin, work string
	scale, noFloors                         bool
	rounds                                  int
	only                                    *regexp.Regexp
	modes, langs                            []string
	timeout                                 time.Duration
	// childEnv is added to every measured child's environment (baseGOGC for the bases).
	childEnv []string
	// serveArgs are added to the command line of every apflow serve child (-serve-args).
	serveArgs []string
}

// baseGOGC is the collector's pace in the 2-task runs whose live heap is the base of the
// heap per task: collections back to back, so that the largest live heap is seen. At
// apflow's own pace an apflow run of two tasks collects nothing (its heap stays under the
// collector's 16 MiB floor), and the base read 0 MB.
const baseGOGC = "GOGC=1"

func main() {
	var o options
	var only, modes, langs, serveArgs string
	flag.StringVar(&o.bin, "bin", "bin/apflow", "the apflow binary")
	flag.StringVar(&o.against, "against", "", "another apflow binary (an earlier build) to measure alternately with -bin, child by child, each with its own compilation cache; the tables compare the two")
	flag.StringVar(&o.wat, "wat", "host/sandbox/testdata/echo.wasm", "the WAT echo module (executor id echo)")
	flag.StringVar(&o.plugins, "plugins", "build/plugins", "the directory holding echo_go.wasm, echo_rust.wasm and echo_c.wasm (make kits)")
	flag.StringVar(&o.goBin, "go", "go", "the go command, for the floor benchmarks")
	flag.BoolVar(&o.scale, "scale", false, "run the 1,000,000-task workloads (make bench-scale) instead of the others")
	flag.BoolVar(&o.noFloors, "no-floors", false, "skip the floor benchmarks")
	flag.IntVar(&o.rounds, "rounds", 1, "measure each workload this many times, each round its engine floor then its children, and print the medians of the rounds")
	flag.StringVar(&only, "only", "", "run only the workloads whose name matches this regular expression")
	flag.StringVar(&modes, "modes", "run,serve", "comma-separated modes: run (apflow run -q), serve (tasks.execute over HTTP), warm (the same, on a server that executed a 2-task tree of the plugin first), rerun (the mean of 10 apflow run -q in a data dir holding 10 earlier runs of the tree)")
	flag.StringVar(&langs, "langs", "wat,go,rust", "comma-separated echo executors to run: wat, go, rust, c")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "the longest one child may take")
	flag.StringVar(&serveArgs, "serve-args", "", "arguments added to every apflow serve child's command line, separated by spaces (e.g. \"--memtable-bytes 4194304\"); with -against, to both builds, so a base build that lacks one fails its serve rows")
	flag.Parse()
	o.modes, o.langs = strings.Split(modes, ","), strings.Split(langs, ",")
	o.serveArgs = strings.Fields(serveArgs)
	if o.rounds < 1 {
		fatal(fmt.Errorf("-rounds: %d is not a number of rounds", o.rounds))
	}
	for _, m := range o.modes {
		if !slices.Contains([]string{"run", "serve", "warm", "rerun"}, m) {
			fatal(fmt.Errorf("-modes: unknown mode %q (run, serve, warm, rerun)", m))
		}
	}
	var err error
	if o.only, err = regexp.Compile(only); err != nil {
		fatal(fmt.Errorf("-only: %w", err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "e2ebench:", err)
	os.Exit(1)
}

func run(ctx context.Context, o options) error {
	var err error
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("the apflow binary: %w (make build)", err)
	}
	if o.against != "" {
		if o.against, err = filepath.Abs(o.against); err != nil {
			return err
		}
		if _, err := os.Stat(o.against); err != nil {
			return fmt.Errorf("-against: %w", err)
		}
	}
	if o.work, err = os.MkdirTemp("", "e2ebench-"); err != nil {
		return err
	}
	defer os.RemoveAll(o.work)
	var wls []workload
	for _, wl := range workloads {
		if wl.scale == o.scale && o.only.MatchString(wl.name) {
			wls = append(wls, wl)
		}
	}
	if len(wls) == 0 {
		return errors.New("no workload selected")
	}
	plugins, err := preparePlugins(ctx, o)
	if err != nil {
		return err
	}
	fl := floors{}
	// Floor failures are reported, not fatal: the end-to-end figures stand without them.
	if !o.noFloors {
		if err := measureFloors(ctx, o.goBin, fixedFloors, fl); err != nil {
			fmt.Fprintln(os.Stderr, "e2ebench: floors:", err)
		}
	}
	failed := 0
	for _, wl := range wls {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var rounds []round
		for i := range o.rounds {
			r, err := measureRound(ctx, o, wl, plugins, fl, i)
			if err != nil {
				return err
			}
			if o.rounds > 1 {
				fmt.Printf("\nround %d of %d", i+1, o.rounds)
			}
			failed += printTable(os.Stdout, wl, r.floor, fl, r.results)
			rounds = append(rounds, r)
		}
		if o.rounds > 1 {
			printSummary(os.Stdout, wl, fl.fsync(), summarize(rounds))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d runs failed (see the tables)", failed)
	}
	return nil
}

// measureRound measures a workload once: its engine floor right before its children,
// since the machine's load drifts over a run and a ratio compares figures of one moment.
func measureRound(ctx context.Context, o options, wl workload, plugins []plugin, fl floors, index int) (round, error) {
	fl.forgetEngine(wl)
	if !o.noFloors {
		if err := measureFloors(ctx, o.goBin, [][]string{engineFloor(wl)}, fl); err != nil {
			fmt.Fprintln(os.Stderr, "e2ebench: floors:", err)
		}
	}
	results, err := runWorkload(ctx, o, wl, plugins, index)
	return round{floor: fl.engine(wl), results: results}, err
}

// preparePlugins puts each echo module alone in a plugins directory and, for each build
// measured, warms a compilation cache of it with one small run. A module that is missing
// is reported and left out. With -against each echo gives two plugins, the new build's
// then the base's.
func preparePlugins(ctx context.Context, o options) ([]plugin, error) {
	srcs := []struct{ lang, method, path string }{
		{"wat", "echo", o.wat},
		{"go", "echo_go", filepath.Join(o.plugins, "echo_go.wasm")},
		{"rust", "echo_rust", filepath.Join(o.plugins, "echo_rust.wasm")},
		{"c", "echo_c", filepath.Join(o.plugins, "echo_c.wasm")},
	}
	builds := [][2]string{{"", o.bin}}
	if o.against != "" {
		builds = [][2]string{{"new", o.bin}, {"base", o.against}}
	}
	var out []plugin
	for _, s := range srcs {
		if !slices.Contains(o.langs, s.lang) {
			continue
		}
		data, err := os.ReadFile(s.path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2ebench: %s echo left out: %v (make kits builds it)\n", s.lang, err)
			continue
		}
		dir := filepath.Join(o.work, "plugins-"+s.lang)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, s.method+".wasm"), data, 0o644); err != nil {
			return nil, err
		}
		for _, b := range builds {
			p := plugin{lang: s.lang, method: s.method, dir: dir, build: b[0], bin: b[1]}
			if err := warmPlugin(ctx, o, &p); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no echo module found")
	}
	return out, nil
}

// warmPlugin fills a compilation cache of p's own with one run, which every child of p
// then uses (--cache-dir), so that no figure includes compiling a module; then it runs
// the same tiny tree in each mode, warm: the base p's heap per task is counted over.
func warmPlugin(ctx context.Context, o options, p *plugin) error {
	warm := workload{name: "warm", tasks: 2, write: wide(1)}
	name := "warm-" + p.lang + p.build
	tree := filepath.Join(o.work, name+".json")
	if _, err := writeTree(tree, warm, p.method, "", ""); err != nil {
		return err
	}
	var err error
	if p.cache, err = os.MkdirTemp(o.work, "cache-"); err != nil {
		return err
	}
	warmDir, err := os.MkdirTemp(o.work, "warm-")
	if err != nil {
		return err
	}
	if err := newChild(ctx, nil, p.bin, "run", "-q", "--data-dir", warmDir, "--cache-dir", p.cache, "--plugins", p.dir, tree).cmd.Run(); err != nil {
		return fmt.Errorf("warming %s (%s): %w", p.lang, p.bin, err)
	}
	p.base = map[string]int64{}
	body := filepath.Join(o.work, name+".rpc.json")
	if _, err := writeTree(body, warm, p.method, rpcPrefix, rpcSuffix); err != nil {
		return err
	}
	p.warm = body
	bo := o
	bo.childEnv = []string{baseGOGC}
	for _, mode := range o.modes {
		res := measure(ctx, bo, mode, *p, tree, body, warm.tasks)
		if res.err != nil {
			return fmt.Errorf("%s of a 2-task tree with the %s echo (%s): %w", mode, p.lang, p.bin, res.err)
		}
		p.base[mode] = res.heap
	}
	return nil
}

// runWorkload measures wl with every plugin in every mode, in its round of index round
// (0 for the first). With two builds (-against), each child of one build is followed by
// the same child of the other, in the order of buildOrder, so that a drift of the
// machine's speed over a round favours neither.
func runWorkload(ctx context.Context, o options, wl workload, plugins []plugin, round int) ([]result, error) {
	var out []result
	for _, same := range byLang(plugins) {
		p := same[0]
		tree := filepath.Join(o.work, wl.name+"-"+p.lang+".json")
		body := filepath.Join(o.work, wl.name+"-"+p.lang+".rpc.json")
		if _, err := writeTree(tree, wl, p.method, "", ""); err != nil {
			return nil, err
		}
		if _, err := writeTree(body, wl, p.method, rpcPrefix, rpcSuffix); err != nil {
			return nil, err
		}
		for _, mode := range o.modes {
			res := make([]result, len(same))
			for _, k := range buildOrder(round, len(same)) {
				res[k] = measure(ctx, o, mode, same[k], tree, body, wl.tasks)
				res[k].base = same[k].base[mode]
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
			}
			out = append(out, res...)
		}
		os.Remove(tree)
		os.Remove(body)
	}
	return out, nil
}

// buildOrder is the order in which the n builds of one echo run in the round of index
// round: as given (the new build first) in the first round and every second one after
// it, reversed (the base first) in the others.
func buildOrder(round, n int) []int {
	out := make([]int, n)
	for k := range out {
		out[k] = k
		if round%2 == 1 {
			out[k] = n - 1 - k
		}
	}
	return out
}

// byLang groups plugins (in order) by their echo: the builds of one echo together.
func byLang(plugins []plugin) [][]plugin {
	var out [][]plugin
	for _, p := range plugins {
		if n := len(out); n > 0 && out[n-1][0].lang == p.lang {
			out[n-1] = append(out[n-1], p)
			continue
		}
		out = append(out, []plugin{p})
	}
	return out
}

// The JSON-RPC request around a tree, for serve.
const (
	rpcPrefix = `{"jsonrpc":"2.0","id":1,"method":"tasks.execute","params":{"tasks":`
	rpcSuffix = `}}`
)

// measure runs one child in mode: tree is the tree file (run), body the request (serve).
func measure(ctx context.Context, o options, mode string, p plugin, tree, body string, tasks int) result {
	switch mode {
	case "serve", "warm":
		return measureServe(ctx, o, mode, p, body, tasks)
	case "rerun":
		return measureRunAfter(ctx, o, p, tree, tasks, mode, rerunFill, rerunTimed)
	}
	return measureRun(ctx, o, p, tree, tasks)
}
