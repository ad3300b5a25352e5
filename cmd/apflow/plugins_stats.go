package main

import (
	"bytes"
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/registry"
)

// statsView is one row of plugins stats: a plugin version's instance pool counters
// (sandbox.PoolStats, docs/performance.md "Warm instances").
type statsView struct {
	ID        string `json:"id"`
	Hash      string `json:"sha256"`
	Calls     int64  `json:"calls"`
	Created   int64  `json:"created"`
	Reused    int64  `json:"reused"`
	Recycled  int64  `json:"recycled"`
	Discarded int64  `json:"discarded"`
	Idle      int64  `json:"idle"`
}

func statsViewOf(p registry.PoolFigures) statsView {
	return statsView{ID: p.ID, Hash: p.Hash, Calls: p.Pool.Calls, Created: p.Pool.Created, Reused: p.Pool.Reused,
		Recycled: p.Pool.Recycled, Discarded: p.Pool.Discarded, Idle: p.Pool.Idle}
}

// localStatsNote is printed (on stderr) by plugins stats without --server.
const localStatsNote = "note: these are the counters of this process, which has run no task; for a running server's: apflow plugins stats --server URL"

func newPluginsStatsCmd(g *globals, jsonOut *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Show each plugin's instance pool counters: calls, instances created, reused, recycled, discarded, idle (--server: the server's)",
		Long: `Stats shows, for each loaded plugin version, what its pool of WebAssembly instances did:
CALLS asked the pool for an instance; CREATED instances were made for them (each ran the
module's _initialize); REUSED calls were served by a warm instance; RECYCLED healthy
instances were closed (age, memory or stack growth, changed grants, a smaller memory limit,
no room in the pool); DISCARDED instances were closed after a trap, timeout, interrupt,
limit hit or bad result; IDLE instances wait for a call now. A warm plugin has CREATED far
below CALLS. With --server the figures are the server's (from its /metrics); without, they
are those of this process, which has run nothing.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return g.pluginStats(c.Context(), *jsonOut)
		},
	}
}

// pluginStats prints the pool counters of every plugin, as a table or as JSON.
func (g *globals) pluginStats(ctx context.Context, jsonOut bool) error {
	pools, err := g.poolFigures(ctx)
	if err != nil {
		return err
	}
	views := make([]statsView, len(pools))
	for i, p := range pools {
		views[i] = statsViewOf(p)
	}
	if g.server == "" {
		fmt.Fprintln(g.stderr, localStatsNote)
	}
	if jsonOut {
		return writeJSON(g.stdout, views)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLUGIN\tSHA256\tCALLS\tCREATED\tREUSED\tRECYCLED\tDISCARDED\tIDLE")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", v.ID, cut(v.Hash, 13), v.Calls, v.Created, v.Reused, v.Recycled, v.Discarded, v.Idle)
	}
	return tw.Flush()
}

// poolFigures returns the pool counters of the server (--server, read from its
// /metrics) or of the plugins this process loads.
func (g *globals) poolFigures(ctx context.Context) ([]registry.PoolFigures, error) {
	if g.server != "" {
		doc, err := g.client().Metrics(ctx)
		if err != nil {
			return nil, fmt.Errorf("plugins stats: %w", err)
		}
		pools, err := registry.ReadMetrics(bytes.NewReader(doc))
		if err != nil {
			return nil, fmt.Errorf("plugins stats: the server's /metrics: %w", err)
		}
		return pools, nil
	}
	h, err := g.openPluginHost(ctx)
	if err != nil {
		return nil, err
	}
	defer h.shutdown()
	return h.registry.Pools(), nil
}
