package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newHooksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hooks",
		Short: "Show the hooks of the operator config and whether they are loaded",
	}
	var jsonOut bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the configured hooks in the order they run",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			h, err := g.openHost(c.Context(), roleClient)
			if err != nil {
				return err
			}
			defer h.shutdown()
			if h.hooks == nil {
				fmt.Fprintln(g.stdout, `no hooks configured (list hook plugin ids under "hooks" in the config file)`)
				return nil
			}
			infos := h.hooks.List()
			if jsonOut {
				return writeJSON(g.stdout, infos)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ORDER\tID\tLOADED\tEXPORTS\tEXECUTORS\tSHA256")
			for _, hi := range infos {
				loaded := "yes"
				if !hi.Loaded {
					loaded = "no: " + hi.Error
				}
				executors := "all"
				if len(hi.Executors) > 0 {
					executors = strings.Join(hi.Executors, ",")
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", hi.Order, hi.ID, loaded, strings.Join(hi.Exports, ","), executors, cut(hi.Hash, 13))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.AddCommand(list)
	return cmd
}
