package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/cmd/apflow/internal/progress"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// taskSource is what the tasks commands need, from the local store or a server.
type taskSource interface {
	list(ctx context.Context, f store.Filter) ([]*task.Task, error)
	get(ctx context.Context, id string) (*task.Task, error)
	tree(ctx context.Context, id string) (*task.TreeNode, error)
	children(ctx context.Context, id string) ([]*task.Task, error)
	cancel(ctx context.Context, id, msg string) ([]*task.Task, error)
	clone(ctx context.Context, id string) ([]*task.Task, error)
	// rerun re-executes the tree of id (or the part needed for id) and waits for it,
	// showing its progress unless quiet, and the final tree as JSON on stdout when
	// jsonOut (progress and summary then go to stderr), as apflow run does.
	rerun(ctx context.Context, id string, full, jsonOut, quiet bool) error
	// logs returns a page of id's stored log lines after the cursor after.
	logs(ctx context.Context, id string, after int64, limit int) (logsPage, error)
	// runs reports whether a run in progress may still change task id, or, when none
	// can, why not.
	runs(ctx context.Context, id string) (ok bool, why string, err error)
	close()
}

func newTasksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "Inspect and act on stored tasks (local data dir, or --server)",
	}
	var jsonOut bool
	cmd.PersistentFlags().BoolVar(&jsonOut, "json", false, "print JSON instead of a table")

	// with opens the task source for one command and closes it afterwards.
	with := func(fn func(ctx context.Context, src taskSource, args []string) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			src, err := g.openSource(c.Context())
			if err != nil {
				return err
			}
			defer src.close()
			return fn(c.Context(), src, args)
		}
	}
	// printTasks shows the tasks a command got, as JSON or as a table.
	printTasks := func(tasks []*task.Task, err error) error {
		if err != nil {
			return err
		}
		if jsonOut {
			return writeJSON(g.stdout, tasks)
		}
		return taskTable(g.stdout, tasks)
	}

	var f store.Filter
	var status string
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tasks, newest first (roots only unless --all)",
		Args:  cobra.NoArgs,
		RunE: with(func(ctx context.Context, src taskSource, _ []string) error {
			f.Status = task.Status(status)
			if status == "blocked" {
				return invalidf("--status blocked: a blocked task is pending, its error saying which dependency blocks it; list them with --status pending")
			}
			if status != "" && !f.Status.Valid() {
				return &exitError{code: exitInvalid, msg: fmt.Sprintf("--status %q: want pending, in_progress, completed, failed or cancelled", status)}
			}
			if f.Limit < 1 || f.Limit > store.MaxLimit {
				return invalidf("--limit %d: want 1 to %d", f.Limit, store.MaxLimit)
			}
			if f.Offset < 0 {
				return invalidf("--offset %d: want 0 or more", f.Offset)
			}
			f.RootOnly = !all
			return printTasks(src.list(ctx, f))
		}),
	}
	list.Flags().StringVar(&status, "status", "", "only tasks in this status")
	list.Flags().StringVar(&f.UserID, "user", "", "only tasks of this user")
	list.Flags().BoolVar(&all, "all", false, "all tasks, not only roots")
	list.Flags().IntVar(&f.Limit, "limit", 100, "page size (max 1000)")
	list.Flags().IntVar(&f.Offset, "offset", 0, "tasks to skip")

	get := &cobra.Command{
		Use: "get ID", Short: "Show one task as JSON", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, src taskSource, args []string) error {
			t, err := src.get(ctx, args[0])
			if err != nil {
				return err
			}
			return writeJSON(g.stdout, t)
		}),
	}
	tree := &cobra.Command{
		Use: "tree ID", Short: "Show the tree under a task", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, src taskSource, args []string) error {
			n, err := src.tree(ctx, args[0])
			if err != nil {
				return err
			}
			if jsonOut {
				return writeTreesJSON(g.stdout, []*task.TreeNode{n})
			}
			printTree(g.stdout, n)
			return nil
		}),
	}
	children := &cobra.Command{
		Use: "children ID", Short: "List the direct children of a task", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, src taskSource, args []string) error {
			return printTasks(src.children(ctx, args[0]))
		}),
	}
	var msg string
	cancel := &cobra.Command{
		Use: "cancel ID", Short: "Cancel a task (the root cancels its whole tree)", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, src taskSource, args []string) error {
			return printTasks(src.cancel(ctx, args[0], msg))
		}),
	}
	cancel.Flags().StringVar(&msg, "message", "", "the cancelled tasks' error (default \"Cancelled by user\")")
	var full, quiet bool
	rerun := &cobra.Command{
		Use:   "rerun ID",
		Short: "Re-run failed, cancelled and blocked tasks of a tree (and what depends on them)",
		Long: `Rerun resets failed, cancelled and blocked tasks of the tree, and everything downstream of
them, to pending and runs them; completed tasks keep their results unless --full. Given a
task that is not a root, only the part of the tree that task needs is re-run.`,
		Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, src taskSource, args []string) error {
			return src.rerun(ctx, args[0], full, jsonOut, quiet)
		}),
	}
	rerun.Flags().BoolVar(&full, "full", false, "re-run completed tasks too")
	rerun.Flags().BoolVarP(&quiet, "quiet", "q", false, "no live progress, only the summary")
	clone := &cobra.Command{
		Use: "clone ID", Short: "Copy a task and its subtree as new pending tasks", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, src taskSource, args []string) error {
			return printTasks(src.clone(ctx, args[0]))
		}),
	}
	cmd.AddCommand(list, get, tree, children, cancel, rerun, clone, newScheduledCmd(g, with, &jsonOut),
		newTasksLogsCmd(g, with, &jsonOut))
	return cmd
}

// openSource returns the local store (through a local host) or the server's API.
func (g *globals) openSource(ctx context.Context) (taskSource, error) {
	if g.server != "" {
		return g.remoteSource()
	}
	h, err := g.openHost(ctx, roleClient)
	if err != nil {
		return nil, err
	}
	return &localSource{g: g, h: h}, nil
}

// localSource serves the tasks commands from the local data dir.
type localSource struct {
	g *globals
	h *host
}

func (l *localSource) close() { l.h.shutdown() }

func (l *localSource) list(ctx context.Context, f store.Filter) ([]*task.Task, error) {
	tasks, _, err := l.h.store.List(ctx, f)
	return tasks, err
}

func (l *localSource) get(ctx context.Context, id string) (*task.Task, error) {
	return l.h.store.Get(ctx, id)
}

func (l *localSource) tree(ctx context.Context, id string) (*task.TreeNode, error) {
	t, err := l.h.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	trees, err := loadTrees(ctx, l.h.store, []string{t.ID})
	if err != nil {
		return nil, err
	}
	return trees[0], nil
}

func (l *localSource) children(ctx context.Context, id string) ([]*task.Task, error) {
	if _, err := l.h.store.Get(ctx, id); err != nil {
		return nil, err
	}
	return l.h.store.Children(ctx, id)
}

func (l *localSource) cancel(ctx context.Context, id, msg string) ([]*task.Task, error) {
	return l.h.engine.Cancel(ctx, id, msg)
}

func (l *localSource) clone(ctx context.Context, id string) ([]*task.Task, error) {
	return l.h.engine.Clone(ctx, id, engine.CloneOptions{})
}

func (l *localSource) rerun(ctx context.Context, id string, full, jsonOut, quiet bool) error {
	t, err := l.h.store.Get(ctx, id)
	if err != nil {
		return err
	}
	opts := engine.RunOptions{Full: full}
	rootID := id
	if !t.IsRoot() {
		opts.TaskID = id
		root, err := l.rootOf(ctx, t)
		if err != nil {
			return err
		}
		rootID = root
	}
	out := l.g.textOut(jsonOut)
	return l.g.follow(ctx, l.h, "rerun "+id, out, jsonOut, quiet, nil, func() ([]string, error) {
		if _, err := l.h.engine.Start(ctx, id, opts); err != nil {
			return nil, err
		}
		return []string{rootID}, nil
	})
}

// rootOf walks parent links up to the root of t's tree.
func (l *localSource) rootOf(ctx context.Context, t *task.Task) (string, error) {
	tasks, err := l.h.store.Tree(ctx, t.TaskTreeID)
	if err != nil {
		return "", err
	}
	for _, x := range tasks {
		if x.IsRoot() {
			return x.ID, nil
		}
	}
	return "", fmt.Errorf("tree %s of task %s has no root", t.TaskTreeID, t.ID)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// taskTable prints tasks as aligned columns.
func taskTable(w io.Writer, tasks []*task.Task) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tPRI\tEXECUTOR\tUPDATED\tERROR")
	for _, t := range tasks {
		status := string(t.Status)
		if t.Blocked() {
			status = "blocked"
		}
		updated := ""
		if !t.UpdatedAt.IsZero() {
			updated = t.UpdatedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.ID, t.Name, status, t.Priority, t.Method(), updated, cut(oneLine(t.Error), 60))
	}
	return tw.Flush()
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// printTree draws a tree with its statuses, iteratively.
func printTree(w io.Writer, root *task.TreeNode) {
	type frame struct {
		n     *task.TreeNode
		depth int
	}
	stack := []frame{{root, 0}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		t := f.n.Task
		line := fmt.Sprintf("%s%s %s (%s) %s", strings.Repeat("  ", f.depth), progress.Symbol(t), t.Name, t.ID, t.Status)
		if t.Error != "" {
			line += ": " + cut(oneLine(t.Error), 100)
		}
		fmt.Fprintln(w, line)
		for i := len(f.n.Children) - 1; i >= 0; i-- {
			stack = append(stack, frame{f.n.Children[i], f.depth + 1})
		}
	}
}
