package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/ical"
	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/scheduler"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// scheduledSource is what apflow tasks scheduled needs, from the local store or a
// server (tasks.scheduled.*).
type scheduledSource interface {
	scheduledList(ctx context.Context, q store.ScheduleQuery) ([]*task.Task, error)
	// scheduledDue: before zero means now.
	scheduledDue(ctx context.Context, before time.Time, user string, limit int) ([]*task.Task, error)
	scheduledInit(ctx context.Context, id string, from time.Time) (*task.Task, error)
	scheduledComplete(ctx context.Context, id string, success bool, msg string, calculateNext bool) (*task.Task, error)
	exportICal(ctx context.Context, q store.ScheduleQuery, name, baseURL string) (string, int, error)
}

// newScheduledCmd is apflow tasks scheduled: with opens the task source of a command.
func newScheduledCmd(g *globals, with func(fn func(ctx context.Context, src taskSource, args []string) error) func(*cobra.Command, []string) error, jsonOut *bool) *cobra.Command {
	cmd := &cobra.Command{Use: "scheduled", Short: "Scheduled tasks: list, due, init, complete, export-ical (docs/schedules.md)"}
	sched := func(fn func(ctx context.Context, src scheduledSource, args []string) error) func(*cobra.Command, []string) error {
		return with(func(ctx context.Context, src taskSource, args []string) error {
			s, ok := src.(scheduledSource)
			if !ok {
				return fmt.Errorf("this task source cannot query schedules")
			}
			return fn(ctx, s, args)
		})
	}
	show := func(tasks []*task.Task, err error) error {
		if err != nil {
			return err
		}
		if *jsonOut {
			return writeJSON(g.stdout, tasks)
		}
		return scheduleTable(g.stdout, tasks)
	}
	showOne := func(t *task.Task, err error) error {
		if err != nil {
			return err
		}
		return writeJSON(g.stdout, t)
	}
	var q store.ScheduleQuery
	var all bool
	var status string
	list := &cobra.Command{
		Use: "list", Short: "Tasks with a schedule, next run first", Args: cobra.NoArgs,
		RunE: sched(func(ctx context.Context, src scheduledSource, _ []string) error {
			q.EnabledOnly, q.Status = !all, task.Status(status)
			if status != "" && !q.Status.Valid() {
				return &exitError{code: exitInvalid, msg: fmt.Sprintf("--status %q: want pending, in_progress, completed, failed or cancelled", status)}
			}
			if err := checkKind(q.Type); err != nil {
				return err
			}
			return show(src.scheduledList(ctx, q))
		}),
	}
	list.Flags().BoolVar(&all, "all", false, "disabled schedules too")
	list.Flags().StringVar(&q.UserID, "user", "", "only tasks of this user")
	list.Flags().StringVar(&q.Type, "type", "", "only this schedule_type")
	list.Flags().StringVar(&status, "status", "", "only tasks in this status")
	list.Flags().IntVar(&q.Limit, "limit", 100, "page size (max 1000)")
	list.Flags().IntVar(&q.Offset, "offset", 0, "tasks to skip")

	var before, dueUser string
	var dueLimit int
	due := &cobra.Command{
		Use: "due", Short: "Enabled schedules due now (or --before), not running, oldest first", Args: cobra.NoArgs,
		RunE: sched(func(ctx context.Context, src scheduledSource, _ []string) error {
			at, err := timeFlag("--before", before)
			if err != nil {
				return err
			}
			return show(src.scheduledDue(ctx, at, dueUser, dueLimit))
		}),
	}
	due.Flags().StringVar(&before, "before", "", "ISO 8601 time the schedules are due at (default now)")
	due.Flags().StringVar(&dueUser, "user", "", "only tasks of this user")
	due.Flags().IntVar(&dueLimit, "limit", 100, "at most this many (max 1000)")

	var from string
	initCmd := &cobra.Command{
		Use: "init ID", Short: "Compute and store a task's next_run_at from now (or --from)", Args: cobra.ExactArgs(1),
		RunE: sched(func(ctx context.Context, src scheduledSource, args []string) error {
			at, err := timeFlag("--from", from)
			if err != nil {
				return err
			}
			return showOne(src.scheduledInit(ctx, args[0], at))
		}),
	}
	initCmd.Flags().StringVar(&from, "from", "", "ISO 8601 time to compute the next run from (default now)")

	var failed, keepNext bool
	var msg string
	complete := &cobra.Command{
		Use: "complete ID", Short: "Record a run made by an external scheduler (last_run_at, run_count, next_run_at)", Args: cobra.ExactArgs(1),
		RunE: sched(func(ctx context.Context, src scheduledSource, args []string) error {
			if msg != "" && !failed {
				return &exitError{code: exitInvalid, msg: "--error needs --failed"}
			}
			return showOne(src.scheduledComplete(ctx, args[0], !failed, msg, !keepNext))
		}),
	}
	complete.Flags().BoolVar(&failed, "failed", false, "the run failed")
	complete.Flags().StringVar(&msg, "error", "", "what failed (with --failed)")
	complete.Flags().BoolVar(&keepNext, "keep-next", false, "keep next_run_at (calculate_next_run false)")

	var iq store.ScheduleQuery
	var iall bool
	var name, baseURL string
	export := &cobra.Command{
		Use: "export-ical", Short: "Print the scheduled tasks as an iCalendar (RFC 5545) document", Args: cobra.NoArgs,
		RunE: sched(func(ctx context.Context, src scheduledSource, _ []string) error {
			iq.EnabledOnly = !iall
			if err := checkKind(iq.Type); err != nil {
				return err
			}
			content, _, err := src.exportICal(ctx, iq, name, baseURL)
			if err != nil {
				return err
			}
			_, err = io.WriteString(g.stdout, content)
			return err
		}),
	}
	export.Flags().BoolVar(&iall, "all", false, "disabled schedules too (those without a next run have no event)")
	export.Flags().StringVar(&iq.UserID, "user", "", "only tasks of this user")
	export.Flags().StringVar(&iq.Type, "type", "", "only this schedule_type")
	export.Flags().IntVar(&iq.Limit, "limit", 100, "at most this many tasks (max 1000)")
	export.Flags().StringVar(&name, "name", ical.DefaultCalendarName, "the calendar's name")
	export.Flags().StringVar(&baseURL, "base-url", "", "the server's URL, for the events' URL and UID domain")
	cmd.AddCommand(list, due, initCmd, complete, export)
	return cmd
}

func checkKind(kind string) error {
	if kind == "" {
		return nil
	}
	for _, k := range schedule.Kinds {
		if k == kind {
			return nil
		}
	}
	return &exitError{code: exitInvalid, msg: fmt.Sprintf("--type %q: want one of %s", kind, strings.Join(schedule.Kinds, ", "))}
}

// timeFlag reads an optional ISO 8601 flag; "" is the zero time (now).
func timeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := task.ParseTime(v)
	if err != nil {
		return time.Time{}, &exitError{code: exitInvalid, msg: fmt.Sprintf("%s %q: want an ISO 8601 date or date-time", name, v)}
	}
	return t, nil
}

// scheduleTable prints scheduled tasks: id, schedule, next and last run, runs.
func scheduleTable(w io.Writer, tasks []*task.Task) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCHEDULE\tENABLED\tNEXT RUN\tLAST RUN\tRUNS\tSTATUS")
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, t := range tasks {
		runs := fmt.Sprint(t.RunCount)
		if t.MaxRuns > 0 {
			runs += fmt.Sprintf("/%d", t.MaxRuns)
		}
		spec := t.ScheduleType + " " + t.ScheduleExpression
		if t.ScheduleTimezone != "" {
			spec += " " + t.ScheduleTimezone
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\n", t.ID, cut(t.Name, 30), spec, t.ScheduleEnabled,
			at(t.NextRunAt), at(t.LastRunAt), runs, t.Status)
	}
	return tw.Flush()
}

// Local: the store of the data dir.

func (l *localSource) schedules() (store.Schedules, error) {
	s, ok := l.h.store.(store.Schedules)
	if !ok {
		return nil, fmt.Errorf("the task store %T cannot query schedules", l.h.store)
	}
	return s, nil
}

func (l *localSource) scheduledList(ctx context.Context, q store.ScheduleQuery) ([]*task.Task, error) {
	s, err := l.schedules()
	if err != nil {
		return nil, err
	}
	tasks, _, err := s.Scheduled(ctx, q)
	return tasks, err
}

func (l *localSource) scheduledDue(ctx context.Context, before time.Time, user string, limit int) ([]*task.Task, error) {
	s, err := l.schedules()
	if err != nil {
		return nil, err
	}
	if before.IsZero() {
		before = time.Now()
	}
	return scheduler.DueIdle(ctx, s, before, user, limit)
}

func (l *localSource) scheduledInit(ctx context.Context, id string, from time.Time) (*task.Task, error) {
	if from.IsZero() {
		from = time.Now()
	}
	return scheduler.Init(ctx, l.h.store, id, from)
}

func (l *localSource) scheduledComplete(ctx context.Context, id string, success bool, msg string, calculateNext bool) (*task.Task, error) {
	t, err := scheduler.Complete(ctx, l.h.store, id, time.Now().UTC().Truncate(time.Microsecond), calculateNext)
	if err == nil && !success {
		l.h.log.Warn("external scheduled run recorded as failed", "task_id", id, "error", msg)
	}
	return t, err
}

func (l *localSource) exportICal(ctx context.Context, q store.ScheduleQuery, name, baseURL string) (string, int, error) {
	tasks, err := l.scheduledList(ctx, q)
	if err != nil {
		return "", 0, err
	}
	content, n := ical.Export(tasks, ical.Options{Name: name, BaseURL: baseURL, Now: time.Now()})
	return content, n, nil
}

// Remote: the tasks.scheduled.* methods.

func (r *remoteSource) scheduledList(ctx context.Context, q store.ScheduleQuery) ([]*task.Task, error) {
	p := map[string]any{"enabled_only": q.EnabledOnly, "limit": q.Limit, "offset": q.Offset}
	for k, v := range map[string]string{"user_id": q.UserID, "schedule_type": q.Type, "status": string(q.Status)} {
		if v != "" {
			p[k] = v
		}
	}
	var out []*task.Task
	return out, r.c.Call(ctx, "tasks.scheduled.list", p, &out)
}

func (r *remoteSource) scheduledDue(ctx context.Context, before time.Time, user string, limit int) ([]*task.Task, error) {
	p := map[string]any{"limit": limit}
	if !before.IsZero() {
		p["before"] = before.UTC().Format(time.RFC3339Nano)
	}
	if user != "" {
		p["user_id"] = user
	}
	var out []*task.Task
	return out, r.c.Call(ctx, "tasks.scheduled.due", p, &out)
}

func (r *remoteSource) scheduledInit(ctx context.Context, id string, from time.Time) (*task.Task, error) {
	p := map[string]any{"task_id": id}
	if !from.IsZero() {
		p["from_time"] = from.UTC().Format(time.RFC3339Nano)
	}
	var t task.Task
	if err := r.c.Call(ctx, "tasks.scheduled.init", p, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func (r *remoteSource) scheduledComplete(ctx context.Context, id string, success bool, msg string, calculateNext bool) (*task.Task, error) {
	p := map[string]any{"task_id": id, "success": success, "calculate_next_run": calculateNext}
	if msg != "" {
		p["error"] = msg
	}
	var t task.Task
	if err := r.c.Call(ctx, "tasks.scheduled.complete", p, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func (r *remoteSource) exportICal(ctx context.Context, q store.ScheduleQuery, name, baseURL string) (string, int, error) {
	p := map[string]any{"enabled_only": q.EnabledOnly, "limit": q.Limit, "calendar_name": name}
	for k, v := range map[string]string{"user_id": q.UserID, "schedule_type": q.Type, "base_url": baseURL} {
		if v != "" {
			p[k] = v
		}
	}
	var out struct {
		Content string `json:"ical_content"`
		Count   int    `json:"task_count"`
	}
	err := r.c.Call(ctx, "tasks.scheduled.export-ical", p, &out)
	return out.Content, out.Count, err
}
