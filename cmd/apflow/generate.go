package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/api"
	"github.com/apflow-wasm/apflow/host/generate"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/store"
)

// generateFlags are apflow generate's flags.
type generateFlags struct {
	mode      string
	maxRounds int
	save, run bool
	output    string
	quiet     bool
}

func newGenerateCmd(g *globals) *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   `generate "REQUIREMENT"`,
		Short: "Generate a task tree from a requirement in words with the operator's language model",
		Long: `Generate asks the language model of the operator config (its llm section) for a task
tree that does what the requirement says, using the registered executors, and checks it
with the validation of tasks.create: the tree written is one apflow run and tasks.create
accept. See docs/generate.md.

--mode single (default) asks once; --mode multi asks in four steps (analyse, design,
fill inputs, review) and sends the validator's problems back for up to --max-rounds
repair rounds. The tree goes to stdout, or to the file -o names. --save also stores it in
the data dir (its root id on stderr); --run stores it and runs it with live progress, as
apflow run does (the tree is then written only with -o). With --server the server
generates (tasks.generate), saves and runs it.

Exit status: 0 on success (with --run: every task completed), 1 when the model failed
(not configured, budget, timeout) or a task failed, 2 when no valid tree was obtained
(the last problems are listed).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := generate.Request{Requirement: args[0], Mode: generate.Mode(f.mode)}
			if cmd.Flags().Changed("max-rounds") {
				req.MaxRounds = generate.Rounds(f.maxRounds)
			}
			if g.server != "" {
				return g.generateRemote(cmd.Context(), req, f)
			}
			return g.generateLocal(cmd.Context(), req, f)
		},
	}
	cmd.Flags().StringVar(&f.mode, "mode", "single", "single (one answer) or multi (analyse, design, fill inputs, review with repair rounds)")
	cmd.Flags().IntVar(&f.maxRounds, "max-rounds", generate.DefaultMaxRounds, "repair rounds of --mode multi (0: none, at most 10)")
	cmd.Flags().BoolVar(&f.save, "save", false, "also store the tree in the data dir (or on --server)")
	cmd.Flags().BoolVar(&f.run, "run", false, "store the tree and run it with live progress, as apflow run")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write the tree to this file instead of stdout")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "with --run: no live progress, only the summary")
	return cmd
}

// generator returns the host's tree generator, validated by prepare (tasks.create's
// validation), or nil when no language model is configured.
func (h *host) generator(prepare api.PrepareFunc) *generate.Generator {
	if h.completer == nil {
		return nil
	}
	gen, err := generate.New(generate.Config{Completer: h.completer, Catalog: h.catalog,
		Validate: func(ctx context.Context, tree []byte) error {
			_, err := prepare(ctx, tree, api.Owner{})
			return err
		}})
	if err != nil { // every field is given: unreachable unless generate.New changes
		h.log.Error("tree generator", "error", err)
		return nil
	}
	return gen
}

// generateLocal generates with the local host's catalog and model, then writes, saves
// or runs the tree.
func (g *globals) generateLocal(ctx context.Context, req generate.Request, f generateFlags) error {
	h, err := g.openHost(ctx, roleWorker)
	if err != nil {
		return err
	}
	prepare := api.SubmitPrepare(h.catalog, h.store, nil, h.taskSchemas, 0)
	gen := h.generator(prepare)
	if gen == nil {
		h.shutdown()
		return fmt.Errorf("apflow generate: %w (give the operator config an llm section)", llm.ErrNotConfigured)
	}
	res, err := gen.Generate(ctx, req)
	if err != nil {
		h.shutdown()
		return generateFailed(err)
	}
	data, err := json.MarshalIndent(res.Tasks, "", "  ")
	if err != nil {
		h.shutdown()
		return err
	}
	fmt.Fprintf(g.stderr, "generated %d task(s) in %d round(s) (%d input, %d output tokens)\n",
		len(res.Tasks), res.Rounds, res.Usage.InputTokens, res.Usage.OutputTokens)
	if err := g.writeTree(data, f); err != nil {
		h.shutdown()
		return err
	}
	if f.run {
		// apflow run's path, on the tree just written: a host of its own, the same store.
		h.shutdown()
		return g.runLocal(ctx, "generated tree", data, g.stdout, false, f.quiet, keyFlags{})
	}
	defer h.shutdown()
	if !f.save {
		return nil
	}
	tree, err := prepare(ctx, data, api.Owner{})
	if err != nil {
		return invalidSubmission("generated tree", err)
	}
	if err := store.CreateBatch(ctx, h.store, tree); err != nil {
		return fmt.Errorf("store the generated tree: %w", err)
	}
	root := tree.RootID()
	h.engine.TreeCreated(ctx, root)
	fmt.Fprintf(g.stderr, "saved: root task %s\n", root)
	return nil
}

// generateRemote asks the server (tasks.generate), then writes the tree and, with --run,
// submits and follows it as apflow run --server does.
func (g *globals) generateRemote(ctx context.Context, req generate.Request, f generateFlags) error {
	mode := map[generate.Mode]string{generate.Single: "single_shot", generate.Multi: "multi_phase"}[req.Mode]
	if mode == "" {
		return &exitError{code: exitInvalid, msg: fmt.Sprintf("--mode %q: expected single or multi", req.Mode)}
	}
	params := map[string]any{"requirement": req.Requirement, "generation_mode": mode, "save": f.save && !f.run}
	if req.MaxRounds != nil {
		params["max_rounds"] = *req.MaxRounds
	}
	var res struct {
		Tasks      json.RawMessage `json:"tasks"`
		Count      int             `json:"count"`
		Rounds     int             `json:"rounds"`
		RootTaskID string          `json:"root_task_id"`
	}
	if err := g.client().Call(ctx, "tasks.generate", params, &res); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "generated %d task(s) in %d round(s)\n", res.Count, res.Rounds)
	if res.RootTaskID != "" {
		fmt.Fprintf(g.stderr, "saved: root task %s\n", res.RootTaskID)
	}
	var pretty any
	if err := json.Unmarshal(res.Tasks, &pretty); err != nil {
		return fmt.Errorf("tasks.generate answered a tree that is not JSON: %w", err)
	}
	data, err := json.MarshalIndent(pretty, "", "  ")
	if err != nil {
		return err
	}
	if err := g.writeTree(data, f); err != nil {
		return err
	}
	if f.run {
		return g.runRemote(ctx, "generated tree", data, g.stdout, false, f.quiet, "")
	}
	return nil
}

// writeTree writes the tree to -o, else to stdout unless --run shows progress there.
func (g *globals) writeTree(data []byte, f generateFlags) error {
	data = append(data, '\n')
	switch {
	case f.output != "":
		if err := os.WriteFile(f.output, data, 0o644); err != nil {
			return fmt.Errorf("write the tree: %w", err)
		}
		return nil
	case f.run:
		return nil
	}
	_, err := g.stdout.Write(data)
	return err
}

// generateFailed maps a generation's failure to the exit status: no valid tree (or a
// bad request) is 2, a model failure 1.
func generateFailed(err error) error {
	if errors.Is(err, generate.ErrNoValidTree) {
		return &exitError{code: exitInvalid, msg: err.Error()}
	}
	return err
}
