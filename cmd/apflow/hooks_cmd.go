package main

import "github.com/spf13/cobra"

// newHooksCmd is completed in hooks.go once host/hooks lands.
func newHooksCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "hooks", Short: "List the configured hooks"}
}
