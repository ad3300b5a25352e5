package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/api/client"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// logsPage is one page of a task's stored log lines, as tasks.logs answers it.
type logsPage struct {
	TaskID string          `json:"task_id"`
	Status task.Status     `json:"status"`
	Lines  []store.LogLine `json:"lines"`
	Next   int64           `json:"next_after"`
	More   bool            `json:"more"`
}

// logFollowEvery is how often --follow asks for new lines.
const logFollowEvery = 500 * time.Millisecond

// summaryLogLines is how many of a failed task's last log lines the run summary shows.
const summaryLogLines = 10

// newTasksLogsCmd is "apflow tasks logs ID [--follow]".
func newTasksLogsCmd(g *globals, with func(fn func(ctx context.Context, src taskSource, args []string) error) func(*cobra.Command, []string) error, jsonOut *bool) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Show the log lines a task's plugin and hooks logged (its newest, within the configured bounds)",
		Long: `Logs prints the lines a task's executor plugin and its pre- and post-hooks logged, oldest
first: time, attempt, source, level and message (--json: one JSON object per line). A task
keeps its newest lines within the operator's task_logs bounds (default 1,000 lines, 1 MiB),
across attempts and re-runs. --follow prints new lines as they are stored until the task
has ended (a running task's lines are stored within a fraction of a second), or at once
when no run can change it: its tree has no run in progress, or the data dir is this
command's alone (a local Badger store: follow a server's task with --server).`,
		Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, src taskSource, args []string) error {
			return printLogs(ctx, src, args[0], g.stdout, g.stderr, *jsonOut, follow)
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the task has ended")
	return cmd
}

// printLogs prints the lines of task id, and with follow the new ones until the task
// has ended and its last lines are printed, or no run can change it any more (said on
// stderr).
func printLogs(ctx context.Context, src taskSource, id string, w, stderr io.Writer, jsonOut, follow bool) error {
	after := int64(0)
	why := "" // set once no run can change the task: the lines still stored are read, then the command ends
	for {
		p, err := src.logs(ctx, id, after, store.MaxLogRead)
		if err != nil {
			return err
		}
		for _, l := range p.Lines {
			if err := writeLogLine(w, l, jsonOut); err != nil {
				return err
			}
		}
		after = p.Next
		switch {
		case p.More:
			continue
		case !follow || p.Status.Terminal():
			return nil
		case why != "":
			fmt.Fprintf(stderr, "not following task %s (%s): %s\n", p.TaskID, p.Status, why)
			return nil
		}
		runs, reason, err := src.runs(ctx, id)
		if err != nil {
			return err
		}
		if !runs {
			why = reason
			continue // the lines stored since the last read, and the status as it ended
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logFollowEvery):
		}
	}
}

func writeLogLine(w io.Writer, l store.LogLine, jsonOut bool) error {
	if jsonOut {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(w, "%s  #%d  %-5s  %s  %s\n", l.Time.Local().Format("15:04:05.000"), l.Attempt, l.Level, l.Source, printable(l.Message))
	return err
}

func (l *localSource) logs(ctx context.Context, id string, after int64, limit int) (logsPage, error) {
	return storeLogs(ctx, l.h.store, id, after, limit)
}

// storeLogs reads a page of id's log lines from a local store.
func storeLogs(ctx context.Context, st store.Store, id string, after int64, limit int) (logsPage, error) {
	t, err := st.Get(ctx, id)
	if err != nil {
		return logsPage{}, err
	}
	tl, ok := st.(store.TaskLogs)
	if !ok {
		return logsPage{}, fmt.Errorf("task %s: this store keeps no task logs", id)
	}
	lines, more, err := tl.Logs(ctx, t.ID, after, limit)
	if err != nil {
		return logsPage{}, err
	}
	p := logsPage{TaskID: t.ID, Status: t.Status, Lines: lines, Next: after, More: more}
	if n := len(lines); n > 0 {
		p.Next = lines[n-1].Seq
	}
	return p, nil
}

// runs implements taskSource: only a run of the task's tree, in this process, can
// change it while this command holds the data dir (a local Badger store); in a cluster,
// any node's.
func (l *localSource) runs(ctx context.Context, id string) (bool, string, error) {
	if l.g.storeDSN() == "" {
		return false, "this command holds the data dir, so nothing runs its tree meanwhile (follow a server's task with --server)", nil
	}
	t, err := l.h.store.Get(ctx, id)
	if err != nil {
		return false, "", err
	}
	for _, ri := range l.h.engine.Running() {
		if ri.TreeID == t.TreeID() {
			return true, "", nil
		}
	}
	return false, noRunOfTree, nil
}

// noRunOfTree is why a task whose tree has no run in progress is not followed.
const noRunOfTree = "no run of its tree is in progress"

// runs implements taskSource with tasks.running.status.
func (r *remoteSource) runs(ctx context.Context, id string) (bool, string, error) {
	var st []struct {
		Running bool `json:"is_running"`
	}
	if err := r.c.Call(ctx, "tasks.running.status", map[string]any{"task_ids": []string{id}}, &st); err != nil {
		return false, "", err
	}
	if len(st) == 1 && st[0].Running {
		return true, "", nil
	}
	return false, noRunOfTree, nil
}

func (r *remoteSource) logs(ctx context.Context, id string, after int64, limit int) (logsPage, error) {
	return remoteLogs(ctx, r.c, id, after, limit)
}

func remoteLogs(ctx context.Context, c *client.Client, id string, after int64, limit int) (logsPage, error) {
	var p logsPage
	err := c.Call(ctx, "tasks.logs", map[string]any{"task_id": id, "after": after, "limit": limit}, &p)
	return p, err
}

// logTail returns the last lines of a task's log for the run summary; nil when there
// are none or they cannot be read (the summary goes on without them).
type logTail func(taskID string) []store.LogLine

// tailOf returns a logTail reading pages with read.
func tailOf(read func(ctx context.Context, id string, after int64, limit int) (logsPage, error)) logTail {
	return func(id string) []store.LogLine {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var last []store.LogLine
		for after := int64(0); ; {
			p, err := read(ctx, id, after, store.MaxLogRead)
			if err != nil {
				return nil
			}
			last = append(last, p.Lines...)
			last = last[max(0, len(last)-summaryLogLines):]
			if !p.More {
				return last
			}
			after = p.Next
		}
	}
}

// localLogTail reads the log tails from the local store (nil when it keeps none).
func localLogTail(h *host) logTail {
	return tailOf(func(ctx context.Context, id string, after int64, limit int) (logsPage, error) {
		return storeLogs(ctx, h.store, id, after, limit)
	})
}

// remoteLogTail reads the log tails from a server.
func remoteLogTail(c *client.Client) logTail {
	return tailOf(func(ctx context.Context, id string, after int64, limit int) (logsPage, error) {
		return remoteLogs(ctx, c, id, after, limit)
	})
}

// printLogTail writes, under a failed task's line of the run summary, its last log lines,
// and the command that shows them all when again (globals.again) gives one.
func printLogTail(w io.Writer, t *task.Task, tail logTail, again func(cmd string) string) {
	if tail == nil || t.Status != task.Failed {
		return
	}
	lines := tail(t.ID)
	if len(lines) == 0 {
		return
	}
	if line := again("tasks logs " + t.ID); line != "" {
		fmt.Fprintf(w, "    last log lines (%s):\n", line)
	} else {
		fmt.Fprintln(w, "    last log lines:")
	}
	for _, l := range lines {
		fmt.Fprintf(w, "      #%d %-5s %s: %s\n", l.Attempt, l.Level, l.Source, oneLine(l.Message))
	}
}
