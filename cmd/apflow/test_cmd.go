package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/pluginrun"
)

func newTestCmd(g *globals) *cobra.Command {
	var update bool
	cmd := &cobra.Command{
		Use:   "test MODULE.wasm|ID CASES.json|DIR",
		Short: "Run a plugin's cases (input, grants, http fixtures, expected result, error or logs)",
		Long: `Test loads a plugin as apflow call does and runs each case of a cases file (or of every
*.json file of a directory but *.http.json fixtures): a JSON array of
{"name", "input", "hook", "config", "grants", "limits", "http", "expect"}, where expect
gives the result (exact, "result"; contained, "result_subset"; or a JSON Schema,
"result_schema"), an "error" the call's error must contain, or "logs" that must appear
in order. It prints PASS or FAIL per case, with the differences and what the call gave.

--update rewrites the expectations of the failed cases with what they gave (results
checked by result_subset or result_schema and expected logs are left alone); the exit
status then counts only the failed cases it could not update.

Exit status: 0 when every case passed, 1 when any failed, 2 for invalid usage, cases
files or a module that does not load.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.test(cmd.Context(), args[0], args[1], update)
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "write what the failed cases gave into their files as their expectations")
	return cmd
}

// test runs apflow test.
func (g *globals) test(ctx context.Context, ref, casesPath string, update bool) error {
	files, err := pluginrun.ReadCases(casesPath)
	if err != nil {
		return invalidf("test: %v", err)
	}
	r, err := g.pluginRunner(ctx)
	if err != nil {
		return err
	}
	defer r.Close(context.WithoutCancel(ctx))
	t, err := g.openPlugin(ctx, r, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	total, failed, updated := 0, 0, 0
	for _, f := range files {
		results, err := r.RunCases(ctx, t, f)
		if err != nil {
			return err
		}
		pluginrun.WriteReport(g.stdout, f.Path, results)
		for _, res := range results {
			total++
			if !res.Passed() {
				failed++
			}
		}
		if update {
			n := pluginrun.Update(f, results)
			updated += n
			if n > 0 {
				if err := f.WriteFile(); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "updated %d %s in %s\n", n, plural(n, "case", "cases"), f.Path)
			}
		}
	}
	fmt.Fprintf(g.stdout, "%d %s, %d failed\n", total, plural(total, "case", "cases"), failed)
	if failed > updated {
		return &exitError{code: exitFailed}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
