package main

import (
	"context"

	"github.com/apflow-wasm/apflow/host/pluginshare"
	"github.com/apflow-wasm/apflow/host/store/pgstore"
)

// sharePlugins makes the cluster's database the home of h's plugins (docs/cluster.md,
// "Plugins"): uploads and removals go through a pluginshare.Syncer, which stores them
// in the database for every node. A server or worker also loads the cluster's plugins
// now, before it joins and claims tasks; a failure to read them is logged, and the sync
// loop tries again.
func (h *host) sharePlugins(ctx context.Context, pg *pgstore.Store, nodeID string, role hostRole) error {
	s, err := pluginshare.New(pluginshare.Options{Local: h.registry, Shared: pg, NodeID: nodeID, Logger: h.log})
	if err != nil {
		return err
	}
	h.pluginSync, h.plugins = s, s
	if role == roleClient {
		return nil
	}
	if err := s.Sync(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.log.Warn("loading the cluster's shared plugins failed; trying again in the background", "error", err)
	}
	return nil
}

// runPluginSync runs the sync loop of h's Syncer, woken by the node's notices, until
// h closes.
func (h *host) runPluginSync() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.pluginSync.Run(ctx, h.node.PluginNotices())
	}()
	h.stopPluginSync = func() {
		cancel()
		<-done
	}
}
