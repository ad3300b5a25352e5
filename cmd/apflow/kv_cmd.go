package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/api"
	"github.com/apflow-wasm/apflow/host/api/client"
	"github.com/apflow-wasm/apflow/host/store"
)

func newKVCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "List and drop plugins' key-value spaces (local data dir, --store, or --server)",
		Long: `A plugin granted kv keeps its entries in a space of its own, one per user of the tasks
it runs for (docs/kv.md). kv spaces lists the spaces that hold entries; kv drop deletes
every entry of one: that of a plugin whose id was renamed, or a cache to start afresh.
With --server both need the admin role when the server authenticates.`,
	}
	var jsonOut bool
	cmd.PersistentFlags().BoolVar(&jsonOut, "json", false, "print JSON")

	var plugin string
	spaces := &cobra.Command{
		Use:   "spaces",
		Short: "List the key-value spaces that hold entries: plugin, user, keys, bytes (expired entries not yet purged included)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return g.withKVSpaces(c.Context(), func(kv api.KVSpaces) error {
				list, err := spacesOf(c.Context(), kv, plugin)
				if err != nil {
					return err
				}
				return g.printKVSpaces(list, jsonOut)
			})
		},
	}
	spaces.Flags().StringVar(&plugin, "plugin", "", "only the spaces of this plugin id")

	var user string
	var allUsers bool
	drop := &cobra.Command{
		Use:   "drop PLUGIN",
		Short: "Delete every entry of a plugin's key-value space: the space of tasks run without a user, --user U's, or --all-users",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if allUsers && c.Flags().Changed("user") {
				return invalidf("kv drop: --user names one space and --all-users every space of %s: give one or the other", args[0])
			}
			return g.withKVSpaces(c.Context(), func(kv api.KVSpaces) error {
				dropped, err := dropSpaces(c.Context(), kv, args[0], user, allUsers)
				if err != nil {
					return err
				}
				return g.printKVSpaces(dropped, jsonOut)
			})
		},
	}
	drop.Flags().StringVar(&user, "user", "", "the space of this user (the user_id of the tasks the plugin ran for)")
	drop.Flags().BoolVar(&allUsers, "all-users", false, "every space of the plugin, whoever's")
	cmd.AddCommand(spaces, drop)
	return cmd
}

// withKVSpaces calls fn with the spaces of the server (--server), or of the local
// store, which it opens alone (no plugin is loaded) and closes after.
func (g *globals) withKVSpaces(ctx context.Context, fn func(api.KVSpaces) error) error {
	if g.server != "" {
		return fn(remoteKVSpaces{g.client()})
	}
	if g.storeDSN() == "" {
		// A data dir without a store holds no space: nothing is created to say so.
		if _, err := os.Stat(filepath.Join(g.dataDir, "db")); errors.Is(err, fs.ErrNotExist) {
			return fn(noKVSpaces{})
		}
	}
	st, err := g.openStore(ctx, g.logger().Named("store"))
	if err != nil {
		return err
	}
	err = fn(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

// noKVSpaces are the spaces of a data dir that has no store yet: none.
type noKVSpaces struct{}

func (noKVSpaces) KVSpaces(context.Context) ([]store.KVSpaceUsage, error) { return nil, nil }

func (noKVSpaces) KVDropSpace(context.Context, store.KVSpace) (store.KVUsage, error) {
	return store.KVUsage{}, nil
}

// remoteKVSpaces is a server's spaces through its API.
type remoteKVSpaces struct{ c *client.Client }

func (r remoteKVSpaces) KVSpaces(ctx context.Context) ([]store.KVSpaceUsage, error) {
	return r.c.KVSpaces(ctx, "")
}

func (r remoteKVSpaces) KVDropSpace(ctx context.Context, sp store.KVSpace) (store.KVUsage, error) {
	return r.c.DropKVSpace(ctx, sp)
}

// spacesOf returns kv's spaces that hold entries, those of plugin alone when it is not "".
func spacesOf(ctx context.Context, kv api.KVSpaces, plugin string) ([]store.KVSpaceUsage, error) {
	all, err := kv.KVSpaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("list kv spaces: %w", err)
	}
	return store.KVSpacesOf(all, plugin), nil
}

// dropSpaces drops plugin's space of user, or every space of plugin, and returns what
// each held.
func dropSpaces(ctx context.Context, kv api.KVSpaces, plugin, user string, allUsers bool) ([]store.KVSpaceUsage, error) {
	targets := []store.KVSpace{{Plugin: plugin, Scope: user}}
	if allUsers {
		listed, err := spacesOf(ctx, kv, plugin)
		if err != nil {
			return nil, err
		}
		targets = targets[:0]
		for _, su := range listed {
			targets = append(targets, su.Space)
		}
	}
	var dropped []store.KVSpaceUsage
	for _, sp := range targets {
		u, err := kv.KVDropSpace(ctx, sp)
		if err != nil {
			return dropped, fmt.Errorf("drop the kv space of %s: %w", sp, err)
		}
		dropped = append(dropped, store.KVSpaceUsage{Space: sp, Usage: u})
	}
	return dropped, nil
}

// printKVSpaces prints spaces as a table (USER "-" for none) or as JSON.
func (g *globals) printKVSpaces(spaces []store.KVSpaceUsage, jsonOut bool) error {
	if jsonOut {
		if spaces == nil {
			spaces = []store.KVSpaceUsage{}
		}
		return writeJSON(g.stdout, spaces)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLUGIN\tUSER\tKEYS\tBYTES")
	for _, su := range spaces {
		user := su.Space.Scope
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", su.Space.Plugin, user, su.Usage.Keys, su.Usage.Bytes)
	}
	return tw.Flush()
}
