// Command apflow runs task trees whose executors are sandboxed WebAssembly plugins.
//
//	apflow run tree.json             validate, store and run a tree with live progress
//	apflow resume                    continue runs a crash or Ctrl-C interrupted
//	apflow serve                     the apflow JSON-RPC API over HTTP
//	apflow tasks list|get|tree|...   inspect and act on stored tasks
//	apflow plugins list|inspect|...  manage the plugins directory; inspect FILE.wasm checks a module
//	apflow call MODULE.wasm|ID       call a plugin once, outside any tree, nothing stored
//	apflow test MODULE.wasm CASES    run a plugin's test cases (language-neutral)
//	apflow hooks list                the configured hooks
//	apflow kv spaces|drop            plugins' key-value spaces: what each holds, drop one
//	apflow cluster status            the nodes, runs and queue of a PostgreSQL cluster
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
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	_ "time/tzdata" // schedule time zones on machines without a zone database

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

// memoryLimit is the Go runtime's soft memory limit, read back: a number of bytes, or
// "none". apflow sets none of its own: a limit below the working set makes the collector
// run continuously. GOMEMLIMIT, when set, is applied by the Go runtime as usual
// (docs/configuration.md, "Memory").
func memoryLimit() string {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return strconv.FormatInt(l, 10)
	}
	return "none"
}

func main() {
	if code, ok := serveAsCompileWorker(); ok {
		os.Exit(code)
	}
	memory := processMemory()
	paceGC(os.Getenv, memory) // for the life of the process
	// The first SIGINT or SIGTERM cancels ctx: the command stops what it is doing (running
	// tasks get a grace period, then go back to pending). A second one ends the process at
	// once, whatever it is waiting on; what was committed stays (apflow resume).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default action for the next signal
	}()
	g := &globals{stdout: os.Stdout, stderr: os.Stderr, newCompleter: newCompleter, memory: memory}
	os.Exit(executeWith(ctx, g, os.Args[1:], os.Stdin))
}

// execute runs the command line and returns the exit status.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return executeWith(ctx, &globals{stdout: stdout, stderr: stderr, newCompleter: newCompleter}, args, stdin)
}

// executeWith runs the command line with g (its stdout, stderr and language model set)
// and returns the exit status.
func executeWith(ctx context.Context, g *globals, args []string, stdin io.Reader) int {
	stdout, stderr := g.stdout, g.stderr
	root := &cobra.Command{
		Use:           "apflow",
		Short:         "Run task trees whose executors are sandboxed WebAssembly plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.register(root)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := g.checkServerFlags(cmd); err != nil {
			return err
		}
		if err := g.checkValues(); err != nil {
			return err
		}
		if err := g.checkClusterFlags(cmd); err != nil {
			return err
		}
		return g.checkMemTableBytes(cmd)
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(mark(annotRemote, newRunCmd(g), newGenerateCmd(g), newTasksCmd(g), newKVCmd(g))...)
	root.AddCommand(mark(annotRemote, mark(annotNoBadger, newPluginsCmd(g))...)...)
	root.AddCommand(newResumeCmd(g), newHooksCmd(g), newServeCmd(g))
	root.AddCommand(mark(annotNoBadger, newTokenCmd(g), newClusterCmd(g), newCallCmd(g), newTestCmd(g))...)
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
	}
	usageErrorsInvalid(root)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "interrupted:", err)
		return exitInterrupted
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "error:", withReason(err))
	if strings.HasPrefix(err.Error(), "unknown command ") {
		return exitInvalid // cobra's own, for the root: its commands are found before any Args runs
	}
	if e := apferr.As(err); e != nil {
		if e.Code == apferr.InvalidParams || e.Code == apferr.TreeValidation {
			return exitInvalid
		}
	}
	return exitFailed
}

// usageErrorsInvalid makes a command line that c or a command below it cannot take (its
// arguments, an unknown or malformed flag, an unknown subcommand) end with exit status
// 2, as an invalid tree does, so that a script tells it from a task that failed (1).
func usageErrorsInvalid(c *cobra.Command) {
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitInvalid, msg: fmt.Sprintf("error: %v (see %s --help)", err, c.CommandPath())}
	})
	if args := c.Args; args != nil {
		c.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return &exitError{code: exitInvalid, msg: fmt.Sprintf("error: %v (see %s --help)", err, c.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageErrorsInvalid(sub)
	}
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
		return &exitError{code: exitInvalid, msg: fmt.Sprintf("error: %s (see %s --help)", msg, c.CommandPath())}
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
