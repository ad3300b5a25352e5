package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/apflow-wasm/apflow/cmd/apflow/internal/progress"
	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/client"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/spf13/cobra"
)

// The commands below talk to a running `apflow serve` (--server URL) through the API
// client instead of opening the local data dir.

// checkServerFlags settles --server for cmd. A command that does not talk to a server
// (annotRemote) refuses --server given on its command line and leaves $APFLOW_SERVER,
// which is for the commands that do, unused: g.server is cleared. A command that talks
// to one refuses the flags that choose a local store together with it: the server's
// store is the one used, so they would be ignored.
func (g *globals) checkServerFlags(cmd *cobra.Command) error {
	if g.server == "" {
		return nil
	}
	if !marked(cmd, annotRemote) {
		if cmd.Flags().Changed("server") {
			return invalidf("--server: %s does not talk to a server, it works on the local data dir or on nothing stored: drop --server", cmd.CommandPath())
		}
		g.server = ""
		return nil
	}
	for _, name := range []string{"store", "data-dir"} {
		if cmd.Flags().Changed(name) {
			return &exitError{code: exitInvalid, msg: fmt.Sprintf("--%s chooses a local store; with --server the server's store is used: give one or the other", name)}
		}
	}
	return nil
}

// lostServer returns the error of a run whose server went away while the run was
// followed (it crashed, or the network failed; a server that shuts down says so first):
// the run goes on, and how to follow it. It returns nil when err is no such loss: no
// error, a run not known yet, an answer of the server, or this process stopping.
func (g *globals) lostServer(ctx context.Context, rootID string, err error) error {
	if err == nil || rootID == "" || apferr.As(err) != nil || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("lost the connection to %s while following the run of %s (%v): the run goes on there "+
		"(or on another node of its cluster, or when the server starts again); follow it with: apflow tasks tree %s --server %s",
		g.server, rootID, err, rootID, g.server)
}

func (g *globals) client() *client.Client {
	return client.New(g.server, g.token, &http.Client{})
}

// runRemote submits and runs a tree (read from name) on the server, following its
// progress over SSE. The tree's structure is checked here first, as a local run checks
// it (submit.PrepareTree without the executors, which the server checks): the ids the
// file gives are rewritten into names for the server (localizeIDs), and a tree that a
// local run refuses (duplicate ids, an id that is not a string, a cycle) must not reach
// the server rewritten into one it accepts.
func (g *globals) runRemote(ctx context.Context, name string, data []byte, out io.Writer, jsonOut, quiet bool, key string) error {
	var tasks json.RawMessage = data
	var wrapped struct {
		Tasks json.RawMessage `json:"tasks"`
	}
	if json.Unmarshal(data, &wrapped) == nil && len(wrapped.Tasks) > 0 {
		tasks = wrapped.Tasks
	}
	if _, err := submit.PrepareTree(ctx, tasks, decodeOptions(g)); err != nil {
		return invalidSubmission(name, err)
	}
	if !g.keepIDs {
		var err error
		if tasks, err = localizeIDs(tasks); err != nil {
			return &exitError{code: exitInvalid, msg: "invalid task tree: " + err.Error()}
		}
	}
	c := g.client()
	began := time.Now()
	var rootID string
	watched := false // a task's status came while the call streamed
	var view progress.View = nopView{}
	params := map[string]any{"tasks": tasks, "use_streaming": true}
	if key != "" {
		params["idempotency_key"] = key
	}
	noticed := false   // the server said the key's tree was submitted before
	var stopped string // the server's message when it shut down before the run ended
	err := c.ExecuteStream(ctx, params, func(f client.Frame) error {
		if msg, ok := shutdownOf(f); ok {
			stopped = msg
		}
		if root, at, ok := replayOf(f); ok && !noticed {
			noticed = true
			fmt.Fprint(out, repeatNotice(key, root, at))
		}
		if rootID == "" {
			if id, ok := f["root_task_id"].(string); ok && id != "" {
				rootID = id
				if !quiet {
					if tree, err := remoteTree(ctx, c, rootID); err == nil {
						view = progress.NewPlain(out, store.Tasks(flatten([]*task.TreeNode{tree})))
					}
				}
			}
		}
		if id, ok := f["task_id"].(string); ok && f.Type() != "final" {
			st, _ := f["status"].(string)
			p, _ := f["progress"].(float64)
			msg, _ := f["error"].(string)
			if st != "" {
				watched = true
				view.Apply(progress.Update{TaskID: id, Status: task.Status(st), Progress: p, Error: msg})
			}
		}
		return nil
	})
	view.Close()
	if lost := g.lostServer(ctx, rootID, err); lost != nil {
		return lost
	}
	if err != nil {
		return invalidSubmission(name, err)
	}
	if rootID == "" {
		return fmt.Errorf("server answered no root_task_id")
	}
	if stopped != "" {
		return interruptedBy(rootID, stopped)
	}
	tree, err := remoteTree(ctx, c, rootID)
	if err != nil {
		return err
	}
	return g.finish([]*task.TreeNode{tree}, began, watched, jsonOut, false, remoteLogTail(c))
}

// shutdownOf returns the message of a stream's error frame: the server shut down before
// the run ended (api's shutdownMessage).
func shutdownOf(f client.Frame) (string, bool) {
	if f.Type() != "error" {
		return "", false
	}
	msg, _ := f["message"].(string)
	return msg, true
}

// interruptedBy is the exit of a command following the run of rootID on a server that
// shut down before the run ended, saying so with the server's message.
func interruptedBy(rootID, msg string) error {
	return &exitError{code: exitInterrupted, msg: fmt.Sprintf("run of %s interrupted: %s", rootID, msg)}
}

// replayOf reports whether a frame of a keyed tasks.execute is the call's answer (the
// JSON-RPC response that opens the stream) saying that the call repeated a submission
// (idempotent_replay), with the root of the tree that submission stored and when it was
// made.
func replayOf(f client.Frame) (rootID string, at time.Time, ok bool) {
	ans, isAnswer := f["result"].(map[string]any)
	if f["jsonrpc"] == nil || !isAnswer {
		return "", time.Time{}, false
	}
	if replay, _ := ans["idempotent_replay"].(bool); !replay {
		return "", time.Time{}, false
	}
	rootID, _ = ans["root_task_id"].(string)
	submitted, _ := ans["submitted_at"].(string)
	at, err := time.Parse(time.RFC3339Nano, submitted)
	return rootID, at, err == nil
}

// finish prints the summary (and the JSON tree) and turns the outcome into the exit
// status. The summary's time is the command's since began when it watched the run
// (watched), else the stored run's (runSpan): a keyed repeat of a tree that ran before
// watched nothing, and how long it looked says nothing of the run.
func (g *globals) finish(trees []*task.TreeNode, began time.Time, watched, jsonOut, interrupted bool, tail logTail) error {
	summaryOut := g.textOut(jsonOut)
	all := flatten(trees)
	elapsed := time.Since(began)
	if span, ok := runSpan(all); ok && !watched && !interrupted {
		elapsed = span
	}
	printSummary(summaryOut, all, elapsed, !jsonOut, tail, g.again)
	if jsonOut {
		if err := writeTreesJSON(g.stdout, trees); err != nil {
			return err
		}
	}
	if interrupted {
		line := g.resumeLine()
		if line != "" && g.storeDSN() != "" && g.server == "" && len(trees) > 0 {
			// This process left the cluster: a live node takes the run over at once.
			return &exitError{code: exitInterrupted, msg: fmt.Sprintf("interrupted: the cluster's live nodes take the run over "+
				"and finish it (follow it with apflow tasks tree %s --store …); with no node running, continue it with: %s", trees[0].Task.ID, line)}
		}
		if line != "" {
			return &exitError{code: exitInterrupted, msg: "interrupted: unfinished tasks are pending; continue with: " + line}
		}
		return &exitError{code: exitInterrupted, msg: "interrupted: nothing was stored (--ephemeral)"}
	}
	if !allCompleted(all) {
		return &exitError{code: exitFailed}
	}
	return nil
}

// allCompleted reports whether every task of tasks is completed.
func allCompleted(tasks []*task.Task) bool {
	for _, t := range tasks {
		if t.Status != task.Completed {
			return false
		}
	}
	return true
}

func remoteTree(ctx context.Context, c *client.Client, id string) (*task.TreeNode, error) {
	var n task.TreeNode
	if err := c.Call(ctx, "tasks.tree", map[string]any{"task_id": id}, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

func (g *globals) remoteSource() (taskSource, error) {
	return &remoteSource{g: g, c: g.client()}, nil
}

// remoteSource serves the tasks commands from a server.
type remoteSource struct {
	g *globals
	c *client.Client
}

func (r *remoteSource) close() {}

func (r *remoteSource) list(ctx context.Context, f store.Filter) ([]*task.Task, error) {
	params := map[string]any{"root_only": f.RootOnly, "limit": f.Limit, "offset": f.Offset}
	if f.Status != "" {
		params["status"] = f.Status
	}
	if f.UserID != "" {
		params["user_id"] = f.UserID
	}
	var out []*task.Task
	err := r.c.Call(ctx, "tasks.list", params, &out)
	return out, err
}

func (r *remoteSource) get(ctx context.Context, id string) (*task.Task, error) {
	var t task.Task
	if err := r.c.Call(ctx, "tasks.get", map[string]any{"task_id": id}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func (r *remoteSource) tree(ctx context.Context, id string) (*task.TreeNode, error) {
	return remoteTree(ctx, r.c, id)
}

func (r *remoteSource) children(ctx context.Context, id string) ([]*task.Task, error) {
	var out []*task.Task
	err := r.c.Call(ctx, "tasks.children", map[string]any{"parent_id": id}, &out)
	return out, err
}

func (r *remoteSource) cancel(ctx context.Context, id, msg string) ([]*task.Task, error) {
	params := map[string]any{"task_ids": []string{id}}
	if msg != "" {
		params["error_message"] = msg
	}
	var answers []struct {
		TaskID    string   `json:"task_id"`
		Status    string   `json:"status"`
		Message   string   `json:"message"`
		Cancelled []string `json:"cancelled_task_ids"`
	}
	if err := r.c.Call(ctx, "tasks.cancel", params, &answers); err != nil {
		return nil, err
	}
	var out []*task.Task
	for _, a := range answers {
		if a.Status == "error" || a.Status == "not_found" {
			return nil, fmt.Errorf("cancel %s: %s", a.TaskID, a.Message)
		}
		tasks, err := r.cancelled(ctx, a.TaskID, a.Cancelled)
		if err != nil {
			return nil, err
		}
		out = append(out, tasks...)
	}
	return out, nil
}

// cancelled returns the tasks a cancel of id changed, as stored now: id alone unless id
// is a root, whose cancel reaches every task of its tree not ended (ids), read with one
// call of its tree.
func (r *remoteSource) cancelled(ctx context.Context, id string, ids []string) ([]*task.Task, error) {
	t, err := r.get(ctx, id)
	if err != nil || !t.IsRoot() || len(ids) == 0 {
		return []*task.Task{t}, err
	}
	tree, err := remoteTree(ctx, r.c, t.ID)
	if err != nil {
		return nil, err
	}
	byID := map[string]*task.Task{}
	for _, x := range flatten([]*task.TreeNode{tree}) {
		byID[x.ID] = x
	}
	out := make([]*task.Task, 0, len(ids))
	for _, cid := range ids {
		if x, ok := byID[cid]; ok {
			out = append(out, x)
		}
	}
	return out, nil
}

func (r *remoteSource) clone(ctx context.Context, id string) ([]*task.Task, error) {
	var raw json.RawMessage
	if err := r.c.Call(ctx, "tasks.clone", map[string]any{"task_id": id}, &raw); err != nil {
		return nil, err
	}
	var many []*task.Task
	if json.Unmarshal(raw, &many) == nil {
		return many, nil
	}
	var one task.Task
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, fmt.Errorf("tasks.clone answer: %w", err)
	}
	return []*task.Task{&one}, nil
}

func (r *remoteSource) rerun(ctx context.Context, id string, full, jsonOut, quiet bool) error {
	out := r.g.textOut(jsonOut)
	began := time.Now()
	var rootID string
	changes := 0 // frames of a task's status: none when the re-run found nothing to do
	var stopped string
	err := r.c.ExecuteStream(ctx, map[string]any{"task_id": id, "full": full, "use_streaming": true}, func(f client.Frame) error {
		if rootID == "" {
			rootID, _ = f["root_task_id"].(string)
		}
		if msg, ok := shutdownOf(f); ok {
			stopped = msg
			return nil
		}
		if tid, ok := f["task_id"].(string); ok && f.Type() != "final" && f.Type() != "" && f.Type() != "task_log" {
			changes++
			if !quiet {
				fmt.Fprintf(out, "%s %s %v\n", time.Now().Format("15:04:05"), tid, f["status"])
			}
		}
		return nil
	})
	if lost := r.g.lostServer(ctx, rootID, err); lost != nil {
		return lost
	}
	if err != nil {
		return err
	}
	if rootID == "" {
		rootID = id
	}
	if stopped != "" {
		return interruptedBy(rootID, stopped)
	}
	tree, err := remoteTree(ctx, r.c, rootID)
	if err != nil {
		return err
	}
	if all := flatten([]*task.TreeNode{tree}); changes == 0 && !jsonOut && allCompleted(all) {
		printCompleted(r.g.stdout, []*task.Task{tree.Task}, len(all), 0, time.Since(began), r.g.again)
		return nil
	}
	return r.g.finish([]*task.TreeNode{tree}, began, true, jsonOut, false, remoteLogTail(r.c))
}

func (g *globals) remotePluginViews(ctx context.Context) ([]pluginView, map[string]string, error) {
	var answer struct {
		Executors []*executor.Info `json:"executors"`
	}
	if err := g.client().Call(ctx, "system.executors", map[string]any{}, &answer); err != nil {
		return nil, nil, err
	}
	views := make([]pluginView, 0, len(answer.Executors))
	for _, info := range answer.Executors {
		views = append(views, viewOf(info))
	}
	problems, err := g.client().PluginProblems(ctx)
	if apferr.CodeOf(err) == apferr.MethodNotFound {
		return views, nil, nil // the server manages no plugins directory
	}
	return views, problems, err
}

func (g *globals) remoteAddPlugin(ctx context.Context, name string, wasm []byte) (*executor.Info, error) {
	return g.client().UploadPlugin(ctx, name, wasm)
}

func (g *globals) remoteRemovePlugin(ctx context.Context, id string) error {
	return g.client().RemovePlugin(ctx, id)
}
