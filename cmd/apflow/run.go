package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/apflow-wasm/apflow/cmd/apflow/internal/progress"
	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/idempotency"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

// shutdownGrace is how long running tasks get to finish after Ctrl-C before they are put
// back to pending.
const shutdownGrace = 5 * time.Second

func newRunCmd(g *globals) *cobra.Command {
	var jsonOut, quiet bool
	var key keyFlags
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Validate, store and run a task tree file with live progress",
		Long: `Run validates the tree file (a JSON array of tasks, or {"tasks": [...]}; a regular
file, or "-" to read stdin), stores it, runs it and prints a summary. Progress is a live tree on a terminal and
one line per status change otherwise. With --json, stdout holds only the final tree
({"task": ..., "children": [...]}) and progress goes to stderr.

The ids a file gives are names local to the run: every run stores new ids (results are
still injected under the file's ids), so a file can be run again; --keep-ids stores the
file's ids instead. --ephemeral runs in memory without touching the data dir.

With --idempotency-key, running the same file again with the same key (within
--idempotency-ttl) submits nothing: it shows the tree the first run stored, running it
only if its run never started; the same key with another tree is refused (exit status 2).

Exit status: 0 when every task completed, 1 when any failed, was cancelled or is blocked,
2 when the file is not a valid tree (or not a regular file), or the command line or
the config file is not one apflow takes (as for every command), 130 when interrupted
(continue with apflow resume; with --server, also when the server shuts down first).
Ctrl-C ends the command at any point; a second Ctrl-C ends it at once, without the
grace period for running tasks.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.maxTreeBytes < 1 {
				return invalidf("run: --max-tree-bytes %d: want a positive size", g.maxTreeBytes)
			}
			if g.ephemeral && key.key != "" {
				return invalidf("run: --idempotency-key keeps its key in the store, and --ephemeral stores nothing: drop one or the other")
			}
			g.logger().Debug("reading the task tree", "file", args[0])
			data, err := readTreeFile(cmd.Context(), cmd.InOrStdin(), args[0], g.maxTreeBytes)
			if errors.Is(err, context.Canceled) {
				return err // interrupted: exit status 130 (see execute)
			}
			if err != nil {
				return &exitError{code: exitInvalid, msg: err.Error()}
			}
			out := g.textOut(jsonOut)
			if err := key.check(cmd); err != nil {
				return err
			}
			if g.server != "" {
				return g.runRemote(cmd.Context(), args[0], data, out, jsonOut, quiet, key.key)
			}
			return g.runLocal(cmd.Context(), args[0], data, out, jsonOut, quiet, key)
		},
	}
	cmd.Flags().IntVar(&g.maxTreeBytes, "max-tree-bytes", submit.DefaultMaxBytes, "largest tree file (about 90 bytes per small task; a 1,000,000-task tree needs about 100 MB)")
	cmd.Flags().BoolVar(&g.keepIDs, "keep-ids", false, "store the tasks under the ids the file gives (a second run of the file is then refused); by default they are names local to this run and every run stores new ids")
	cmd.Flags().BoolVar(&g.ephemeral, "ephemeral", false, "run in memory: nothing is stored, the data dir is neither created nor read (the plugins dir and config are read)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the final tree as JSON on stdout; progress and summary go to stderr")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no live progress, only the summary")
	cmd.Flags().StringVar(&key.key, "idempotency-key", "", "submit the tree at most once per key: a repeat with the same key and tree shows the first one instead of storing another")
	cmd.Flags().DurationVar(&key.ttl, "idempotency-ttl", idempotency.DefaultTTL, "with --idempotency-key and a local store: how long the key holds (with --server, the server's setting applies)")
	return cmd
}

// keyFlags are apflow run's idempotency flags.
type keyFlags struct {
	key string
	ttl time.Duration
}

// check refuses an empty --idempotency-key (given but empty) and a non-positive TTL.
func (k keyFlags) check(cmd *cobra.Command) error {
	if f := cmd.Flags().Lookup("idempotency-key"); f.Changed && k.key == "" {
		return &exitError{code: exitInvalid, msg: "run: --idempotency-key must not be empty"}
	}
	if k.ttl <= 0 {
		return &exitError{code: exitInvalid, msg: fmt.Sprintf("run: --idempotency-ttl must be positive, not %s", k.ttl)}
	}
	return nil
}

// readTreeFile reads a tree file, or stdin for "-". Anything but a regular file is
// refused at once (a named pipe would block until a writer comes, a device such as
// /dev/zero never ends), and so is a file larger than the submission limit, before it is
// read. Reading stdin gives up when ctx is done (Ctrl-C), with ctx's error.
func readTreeFile(ctx context.Context, stdin io.Reader, path string, max int) ([]byte, error) {
	if path == "-" {
		return readStdin(ctx, stdin, max)
	}
	f, err := openTreeFile(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path, max)
}

// openTreeFile opens path for reading if it is a regular file of at most the submission
// limit.
func openTreeFile(path string, max int) (*os.File, error) {
	// O_NONBLOCK: opening a named pipe that has no writer would block.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read tree file: %w", err)
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("read tree file: %w", err)
	case !st.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file (%s): give a tree file, or - to read stdin", path, fileType(st.Mode()))
	case st.Size() > int64(max):
		err = fmt.Errorf("%s: %d bytes is more than the %d bytes a tree file may have (--max-tree-bytes)", path, st.Size(), max)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// fileType names the type of a file that is not a regular one.
func fileType(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m.IsDir():
		return "a directory"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

// readStdin reads the tree from stdin, giving up when ctx is done. The read itself
// cannot be interrupted: it is left to end with the process.
func readStdin(ctx context.Context, stdin io.Reader, max int) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readLimited(stdin, "stdin", max)
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("reading the task tree from stdin: %w", ctx.Err())
	}
}

// readLimited reads r whole, failing when it holds more than max bytes.
func readLimited(r io.Reader, name string, max int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read tree file: %w", err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("%s: more than the %d bytes a tree file may have (--max-tree-bytes)", name, max)
	}
	return data, nil
}

// invalidSubmission turns a validation error into exit status 2 with every problem listed.
func invalidSubmission(name string, err error) error {
	if e := apferr.As(err); e != nil {
		return &exitError{code: exitInvalid, msg: fmt.Sprintf("%s: invalid task tree (code %d, %s):\n%s", name, e.Code, e.Code, e.Message)}
	}
	return err
}

func (g *globals) runLocal(ctx context.Context, name string, data []byte, out io.Writer, jsonOut, quiet bool, key keyFlags) error {
	g.treeBytes = compactSize(data)
	// The file is decoded while the host opens: decoding needs nothing of the host
	// (docs/performance.md, nineteenth pass).
	decoded := decodeAsync(data, decodeOptions(g))
	// A return before the tree is read (the host does not open, the key is refused)
	// still waits for the decoding, once the host is closed: a panic in it is raised.
	defer func() { _, _ = decoded() }()
	h, err := g.openHost(ctx, roleWorker)
	if err != nil {
		return err
	}
	defer h.shutdown()
	opts := prepareOptions(g, h)
	if key.key != "" {
		return g.runLocalKeyed(ctx, h, name, decoded, opts, out, jsonOut, quiet, key)
	}
	sub, err := decoded()
	if err != nil {
		return invalidSubmission(name, err)
	}
	// The tree builds its tasks as they are read: the store, the run's graph and the live
	// view each read them in turn, and none holds them all (submit.Tree).
	tree, err := submit.ValidateTree(ctx, sub, opts)
	if err != nil {
		return invalidSubmission(name, err)
	}
	// Stored with its run's marker: a process killed before the run's first commit leaves
	// a tree that apflow resume runs.
	rootID := tree.RootID()
	stored, release, err := h.engine.ToRun(ctx, tree, tree.TreeID(), rootID)
	if err != nil {
		return err
	}
	defer release()
	if err := store.CreateBatch(ctx, h.store, stored); err != nil {
		return invalidSubmission(name, err)
	}
	h.engine.TreeCreated(ctx, rootID)
	return g.follow(ctx, h, name, out, jsonOut, quiet, tree, func() ([]string, error) {
		// The run builds its graph from the tasks just stored instead of reading them back.
		if _, err := h.engine.Start(ctx, rootID, engine.RunOptions{Created: stored}); err != nil {
			return nil, err
		}
		return []string{rootID}, nil
	})
}

// decodeAsync decodes data (submit.Decode) on a goroutine of its own; the function it
// returns waits for the outcome.
func decodeAsync(data []byte, opts submit.Options) func() (*submit.Submission, error) {
	return async(func() (*submit.Submission, error) { return submit.Decode(data, opts) })
}

// async runs fn on a goroutine of its own; the function it returns waits for fn's
// outcome. A panic of fn is raised again on the goroutine that waits, its value fn's
// panic and stack as text: a panic on fn's own goroutine would end the process without
// running the waiting goroutine's deferred calls, the store's close among them. The
// function may be called again: it then returns fn's error, or raises its panic, again,
// but the zero value (the first caller holds the value; a deferred call keeps nothing
// alive). The goroutine ends even when nobody waits; a caller that may return without
// waiting defers a call, so that a panic is raised, not lost.
func async[T any](fn func() (T, error)) func() (T, error) {
	type outcome struct {
		v     T
		err   error
		panic any
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				o = outcome{panic: fmt.Sprintf("%v\n\n%s", r, debug.Stack())}
			}
			done <- o
		}()
		o.v, o.err = fn()
	}()
	var once sync.Once
	var o outcome
	return func() (T, error) {
		once.Do(func() { o = <-done })
		if o.panic != nil {
			panic(o.panic)
		}
		v := o.v
		var zero T
		o.v = zero // the caller holds it now: a deferred wait does not keep it alive
		return v, o.err
	}
}

// decodeOptions are the options of submit.Decode for a tree apflow run submits: those
// that need no host.
func decodeOptions(g *globals) submit.Options {
	return submit.Options{LocalIDs: !g.keepIDs, MaxBytes: g.maxTreeBytes}
}

// prepareOptions are the options of submit.ValidateTree for a tree apflow run submits.
func prepareOptions(g *globals, h *host) submit.Options {
	o := decodeOptions(g)
	o.Catalog, o.Exists, o.TreeExists, o.TaskSchemas = h.catalog, submit.ExistsIn(h.store), submit.TreeExistsIn(h.store), h.taskSchemas
	return o
}

// runLocalKeyed is runLocal with --idempotency-key: the tree is stored with the key
// (idempotency.Submitter), streaming as runLocal stores it; a repeat stores nothing and
// shows the first run's tree, starting its run only if it never started
// (engine.RunOptions.OnlyUnstarted). Keys are those of tasks.execute without
// authentication (scope "", kind execute), so a repeat of an API call answers too.
// Expired keys are purged first.
func (g *globals) runLocalKeyed(ctx context.Context, h *host, name string, decoded func() (*submit.Submission, error),
	opts submit.Options, out io.Writer, jsonOut, quiet bool, key keyFlags) error {
	// The key is checked before the tree, as tasks.execute checks it.
	if err := idempotency.CheckKey(key.key); err != nil {
		return invalidSubmission(name, err)
	}
	sub, err := decoded()
	if err != nil {
		return invalidSubmission(name, err)
	}
	k, err := idempotency.KeyOf("", key.key, idempotency.KindExecute, sub)
	if err != nil {
		return invalidSubmission(name, err)
	}
	prepare := func(ctx context.Context) (*submit.Tree, error) {
		return submit.ValidateTree(ctx, sub, opts)
	}
	if _, err := h.keys.PurgeKeys(ctx, time.Now()); err != nil {
		h.log.Warn("purging expired idempotency keys failed", "error", err)
	}
	tree, rec, err := idempotency.Submitter{Keys: h.keys, TTL: key.ttl}.Submit(ctx, k, prepare)
	if err != nil {
		return invalidSubmission(name, err)
	}
	var rootID string
	if rec == nil {
		rootID = tree.RootID()
		h.engine.TreeCreated(ctx, rootID)
	} else {
		if _, err := h.store.Get(ctx, rec.RootID); apferr.CodeOf(err) == apferr.TaskNotFound {
			return invalidSubmission(name, idempotency.Deleted(*rec))
		}
		rootID = rec.RootID
		fmt.Fprint(out, repeatNotice(key.key, rootID, rec.CreatedAt))
	}
	// A repeat shows the tree as stored now, read back; a first submission, as just
	// stored, and its run builds its graph from it (engine.RunOptions.Created).
	var stored store.Batch
	if tree != nil {
		stored = tree
	}
	return g.follow(ctx, h, name, out, jsonOut, quiet, stored, func() ([]string, error) {
		// Only a run that never started starts: a repeat never runs the tree twice.
		_, err := h.engine.Start(ctx, rootID, engine.RunOptions{OnlyUnstarted: true, Created: stored})
		if err != nil && !errors.Is(err, engine.ErrStarted) && apferr.CodeOf(err) != apferr.AlreadyExecuting {
			return nil, err
		}
		if err != nil { // run by another process (a cluster node) or ended: wait for its end
			if err := waitRunEnd(ctx, h.engine, rootID); err != nil {
				return nil, err
			}
		}
		return []string{rootID}, nil
	})
}

// repeatNotice is what apflow run prints when its idempotency key names a tree
// submitted at at (locally, or through --server): it shows that tree and submits
// nothing.
func repeatNotice(key, rootID string, at time.Time) string {
	return fmt.Sprintf("idempotency key %q: tree %s was submitted with it at %s; not submitting it again\n",
		key, rootID, at.Local().Format(time.DateTime))
}

// runEndPoll is how often waitRunEnd asks whether a run goes on.
const runEndPoll = 200 * time.Millisecond

// waitRunEnd waits until the run of the tree rooted at rootID is no longer in progress
// anywhere (engine.Engine.RunActive; in a cluster, on any node), or ctx ends.
func waitRunEnd(ctx context.Context, eng *engine.Engine, rootID string) error {
	for {
		active, err := eng.RunActive(ctx, rootID)
		if err != nil {
			return fmt.Errorf("wait for the run of %s: %w", rootID, err)
		}
		if !active {
			return nil
		}
		select {
		case <-time.After(runEndPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// follow starts runs with start (which returns their root ids), shows their progress
// until every one has ended, then prints the summary and returns the exit status as an
// error. stored, when not nil, are the tasks of the runs as the caller just stored them:
// the live view starts from them instead of reading them back (with quiet, nothing is
// shown and nothing is read before the end).
func (g *globals) follow(ctx context.Context, h *host, name string, out io.Writer, jsonOut, quiet bool,
	stored store.Batch, start func() ([]string, error)) error {
	// Subscribe before starting so that no run_end is missed; the live view shows
	// status changes and progress, a quiet run waits for the end alone.
	types := []string{engine.EventRunEnd}
	if !quiet {
		types = append(types, engine.EventTaskStatus, engine.EventTaskProgress)
	}
	events, unsubscribe := h.engine.Subscribe("", types...)
	defer unsubscribe()
	began := time.Now()
	rootIDs, err := start()
	if err != nil {
		return err
	}
	if len(rootIDs) == 0 {
		fmt.Fprintln(g.textOut(jsonOut), "nothing to run")
		if jsonOut {
			fmt.Fprintln(g.stdout, "[]") // no trees
		}
		return nil
	}
	var view progress.View = nopView{}
	if !quiet {
		if stored == nil || stored.Len() == 0 {
			initial, err := loadTrees(ctx, h.store, rootIDs)
			if err != nil {
				return err
			}
			stored = store.Tasks(flatten(initial))
		}
		view = newView(out, name, stored)
	}
	running := map[string]bool{}
	for _, ri := range h.engine.Running() {
		running[ri.RootID] = true
	}
	waiting := map[string]bool{}
	for _, id := range rootIDs {
		if running[id] {
			waiting[id] = true
		}
	}
	interrupted := false
	ended := map[string]*engine.RunResult{}
	for len(waiting) > 0 && !interrupted {
		select {
		case <-ctx.Done():
			interrupted = true
		case ev := <-events:
			switch ev.Type {
			case engine.EventRunEnd:
				delete(waiting, ev.RootID)
				ended[ev.RootID] = ev.Result
			default:
				if ev.Task != nil {
					view.Apply(progress.Update{TaskID: ev.TaskID, Status: ev.Status, Progress: ev.Progress, Error: ev.Error, Retry: ev.Task.Retry})
				}
			}
		}
	}
	if interrupted {
		// Running tasks get a grace period, then go back to pending durably.
		cctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		_ = h.engine.Close(cctx)
		cancel()
	}
	view.Close()
	if roots, total, ok := completedRuns(rootIDs, ended); ok && !jsonOut && !interrupted {
		// Every task completed: the engine's reports say all the summary shows, so the
		// trees are not read back.
		printCompleted(g.stdout, roots, total, executedIn(ended), time.Since(began), g.again)
		return nil
	}
	final, err := loadTrees(context.Background(), h.store, rootIDs)
	if err != nil {
		return err
	}
	return g.finish(final, began, len(ended) > 0, jsonOut, interrupted, localLogTail(h))
}

// runSpan is the time from the first start of a task of tasks to the last completion
// (or other end) as stored; ok is false when none started or none ended.
func runSpan(tasks []*task.Task) (span time.Duration, ok bool) {
	var first, last time.Time
	for _, t := range tasks {
		if !t.StartedAt.IsZero() && (first.IsZero() || t.StartedAt.Before(first)) {
			first = t.StartedAt
		}
		if !t.CompletedAt.IsZero() && t.CompletedAt.After(last) {
			last = t.CompletedAt
		}
	}
	if first.IsZero() || last.IsZero() || last.Before(first) {
		return 0, false
	}
	return last.Sub(first), true
}

// newView picks the progress display: a live tree on a terminal, lines otherwise.
func newView(out io.Writer, title string, tasks store.Batch) progress.View {
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		w, h, err := term.GetSize(int(f.Fd()))
		if err != nil {
			w, h = 100, 40
		}
		return progress.NewTTY(out, tasks, progress.TTYOptions{Title: title, Width: w, Height: h})
	}
	return progress.NewPlain(out, tasks)
}

type nopView struct{}

func (nopView) Apply(progress.Update) {}
func (nopView) Close()                {}

// maxResultLines bounds how much of a root's result the summary shows.
const maxResultLines = 40

// completedRuns returns the roots of runs whose whole trees completed, as the engine
// reported their ends (run_end), in the order of rootIDs, and how many tasks the trees
// hold; ok is false when any run did
// not end that way (a failure, an interruption, a store error) or its report is missing
// (a run ended elsewhere): the summary must then read the trees. A report's counts cover
// the run's whole tree, a re-run of one task included, as the trees read back do.
func completedRuns(rootIDs []string, ended map[string]*engine.RunResult) (roots []*task.Task, total int, ok bool) {
	for _, id := range rootIDs {
		res := ended[id]
		if res == nil || res.Err != nil || res.Interrupted || res.Root == nil || !res.Root.IsRoot() ||
			res.Blocked > 0 || len(res.Counts) != 1 || res.Counts[task.Completed] == 0 {
			return nil, 0, false
		}
		roots = append(roots, res.Root)
		total += res.Counts[task.Completed]
	}
	return roots, total, len(roots) > 0
}

// executedIn returns how many tasks the runs of ended executed.
func executedIn(ended map[string]*engine.RunResult) int64 {
	var n int64
	for _, res := range ended {
		n += res.Executed
	}
	return n
}

// printCompleted is printSummary for runs whose total tasks all completed
// (completedRuns), executed of them in these runs: the counts line, or that nothing ran
// when none was executed (a re-run of a completed tree), and each root's result.
func printCompleted(w io.Writer, roots []*task.Task, total int, executed int64, elapsed time.Duration, again func(cmd string) string) {
	if executed == 0 {
		fmt.Fprintf(w, "nothing to run: all %d tasks had completed (tasks rerun --full runs them again)\n", total)
	} else {
		fmt.Fprintf(w, "%s in %s\n", progress.SummaryOfCounts(map[task.Status]int{task.Completed: total}, 0), elapsed.Round(time.Millisecond))
	}
	for _, r := range roots {
		printRootResult(w, r, again)
	}
}

// printRootResult writes a completed root's result, at most maxResultLines of it, and
// the command that shows the rest when again (globals.again) gives one.
func printRootResult(w io.Writer, t *task.Task, again func(cmd string) string) {
	if t.Status != task.Completed || t.Result == nil {
		return
	}
	b, err := json.MarshalIndent(t.Result, "  ", "  ")
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > maxResultLines {
		more := fmt.Sprintf("  … %d more lines", len(lines)-maxResultLines)
		if line := again("tasks get " + t.ID); line != "" {
			more += " (" + line + ")"
		}
		lines = append(lines[:maxResultLines], more)
	}
	fmt.Fprintf(w, "result of %s:\n  %s\n", t.Name, strings.Join(lines, "\n"))
}

// printSummary writes the outcome: counts, every task that did not complete (a failed
// one with its last log lines, read with tail), and (with showResult) the result of each
// completed root. The commands it suggests come from again (globals.again).
func printSummary(w io.Writer, tasks []*task.Task, elapsed time.Duration, showResult bool, tail logTail, again func(cmd string) string) {
	fmt.Fprintf(w, "%s in %s\n", progress.Summary(tasks), elapsed.Round(time.Millisecond))
	for _, t := range tasks {
		if showResult && t.IsRoot() {
			printRootResult(w, t, again)
		}
	}
	var bad []*task.Task
	for _, t := range tasks {
		if t.Status != task.Completed {
			bad = append(bad, t)
		}
	}
	sort.SliceStable(bad, func(i, j int) bool { return bad[i].Seq < bad[j].Seq })
	const maxListed = 20
	for i, t := range bad {
		if i == maxListed {
			fmt.Fprintf(w, "  … and %d more\n", len(bad)-maxListed)
			break
		}
		state := string(t.Status)
		if t.Blocked() {
			state = "blocked"
		}
		line := fmt.Sprintf("  %s %s (%s) %s", progress.Symbol(t), t.Name, t.ID, state)
		var detail string // a trap's stack trace, under the line
		if t.Error != "" && !t.Blocked() {
			first, rest, _ := strings.Cut(t.Error, "\n")
			line += ": " + oneLine(first)
			for l := range strings.Lines(strings.TrimSpace(rest)) {
				detail += "      " + strings.Replace(l, "\t", "  ", 1)
			}
			if detail != "" && !strings.HasSuffix(detail, "\n") {
				detail += "\n"
			}
		} else if t.Blocked() {
			line += ": " + strings.TrimPrefix(t.Error, task.BlockedPrefix)
		}
		fmt.Fprintln(w, line)
		fmt.Fprint(w, detail)
		printLogTail(w, t, tail, again)
	}
}

// printable is s for a terminal: control characters other than line feeds and tabs
// (with which a plugin's text could drive the terminal) are shown as \uXXXX.
func printable(s string) string {
	if strings.IndexFunc(s, isDriving) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isDriving(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isDriving reports whether r is a control character other than a line feed or a tab (a
// carriage return could overwrite what a line showed).
func isDriving(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }

// oneLine is s for one line of a terminal: line breaks and tabs become spaces, other
// control characters (with which a plugin's text could drive the terminal) are shown as
// \uXXXX, and what passes 300 bytes is cut, ending in "...".
func oneLine(s string) string {
	out := printable(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s))
	if len(out) <= 300 {
		return out
	}
	cut := 297
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + "..."
}

// loadTrees reads the whole trees of the given roots.
func loadTrees(ctx context.Context, st store.Store, rootIDs []string) ([]*task.TreeNode, error) {
	var out []*task.TreeNode
	for _, id := range rootIDs {
		root, err := st.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		treeID := root.TaskTreeID
		if treeID == "" {
			treeID = root.ID
		}
		tasks, err := st.Tree(ctx, treeID)
		if err != nil {
			return nil, err
		}
		node := task.BuildTree(tasks, id)
		if node == nil {
			return nil, errors.New("tree of " + id + " not found")
		}
		out = append(out, node)
	}
	return out, nil
}

// flatten lists the tasks of trees, each tree in depth-first order, the trees in their
// order; iteratively (trees may be deep).
func flatten(trees []*task.TreeNode) []*task.Task {
	var out []*task.Task
	stack := slices.Clone(trees)
	slices.Reverse(stack)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, n.Task)
		for i := len(n.Children) - 1; i >= 0; i-- {
			stack = append(stack, n.Children[i])
		}
	}
	return out
}

func newResumeCmd(g *globals) *cobra.Command {
	var jsonOut, quiet bool
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Continue the runs a crash, kill or Ctrl-C interrupted",
		Long: `Resume puts tasks left in_progress back to pending and continues every interrupted run
of the data dir until it ends: nothing completed runs again, failed and cancelled tasks
are not retried (use apflow tasks rerun for that). Exit status as for apflow run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := g.openHost(ctx, roleWorker)
			if err != nil {
				return err
			}
			defer h.shutdown()
			out := g.textOut(jsonOut)
			return g.follow(ctx, h, "resume", out, jsonOut, quiet, nil, func() ([]string, error) {
				if err := h.engine.Recover(ctx); err != nil {
					return nil, err
				}
				var rootIDs []string
				for _, ri := range h.engine.Running() {
					// In a cluster, Running lists every node's runs: follow this node's.
					if h.node == nil || ri.NodeID == h.node.NodeID() {
						rootIDs = append(rootIDs, ri.RootID)
					}
				}
				return rootIDs, nil
			})
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the final trees as JSON on stdout: one tree as its node ({\"task\", \"children\"}), several as an array of them, none as []; progress and summary go to stderr")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no live progress, only the summary")
	return cmd
}
