package main

import "github.com/spf13/cobra"

// Annotations of the commands that say which global flags they honour, read by the
// checks of PersistentPreRunE (checkServerFlags, checkMemTableBytes): a global flag
// given to a command that would ignore it is refused, never silently dropped.
const (
	// annotRemote marks a command that talks to a running server when --server (or
	// $APFLOW_SERVER) names one. The others work on the local data dir, or on nothing
	// stored.
	annotRemote = "apflow/remote"
	// annotNoBadger marks a command that never opens the Badger store of --data-dir: it
	// opens no store, or only the cluster's PostgreSQL database.
	annotNoBadger = "apflow/no-badger"
)

// mark sets annotation key on each of cmds and returns them.
func mark(key string, cmds ...*cobra.Command) []*cobra.Command {
	for _, c := range cmds {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[key] = "true"
	}
	return cmds
}

// marked reports whether cmd or one of its parents carries annotation key.
func marked(cmd *cobra.Command, key string) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[key] != "" {
			return true
		}
	}
	return false
}
