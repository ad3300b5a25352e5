// Command apflow runs task trees whose executors are sandboxed WebAssembly plugins.
//
//	apflow run tree.json             validate, store and run a tree with live progress
//	apflow resume                    continue runs a crash or Ctrl-C interrupted
//	apflow serve                     the apflow JSON-RPC API over HTTP
//	apflow tasks list|get|tree|...   inspect and act on stored tasks
//	apflow plugins list|inspect|...  manage the plugins directory
//	apflow hooks list                the configured hooks
//
// Exit status: 0 when every task completed, 1 when a task failed, was cancelled or is
// blocked (or a command failed), 2 for an invalid submission or usage, 130 when
// interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitInvalid     = 2
	exitInterrupted = 130
)

// exitError ends the process with a status after its message (if any) was printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// defaultMemoryLimit is the soft memory limit of the process when GOMEMLIMIT is not set:
// the store's memtables live on the Go heap, and without a limit the collector's headroom
// doubles them (docs/decisions.md §5, "Task store").
const defaultMemoryLimit = 160 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// execute runs the command line and returns the exit status.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "apflow",
		Short:         "Run task trees whose executors are sandboxed WebAssembly plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.register(root)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(
		newRunCmd(g),
		newResumeCmd(g),
		newTasksCmd(g),
		newPluginsCmd(g),
		newHooksCmd(g),
		newServeCmd(g),
		newTokenCmd(g),
	)
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "error:", withReason(err))
	if e := apferr.As(err); e != nil {
		if e.Code == apferr.InvalidParams || e.Code == apferr.TreeValidation {
			return exitInvalid
		}
	}
	return exitFailed
}

// refuseUnknownSubcommands makes a command group (a command with subcommands and no action
// of its own) fail on an unknown subcommand instead of printing its help and exiting 0, as
// cobra does for groups below the root. Without arguments it still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	if c.Runnable() || !c.HasSubCommands() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return fmt.Errorf("%s (see %s --help)", msg, c.CommandPath())
	}
}

// withReason is err's text followed by the reason an apflow error carries in its data
// (e.g. why a token was refused), when the text does not already say it.
func withReason(err error) string {
	msg := err.Error()
	e := apferr.As(err)
	if e == nil {
		return msg
	}
	var reason string
	switch d := e.Data.(type) {
	case string:
		reason = d
	case map[string]any:
		reason, _ = d["reason"].(string)
	}
	if reason == "" || strings.Contains(msg, reason) {
		return msg
	}
	return msg + ": " + reason
}
