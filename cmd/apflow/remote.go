package main

// TEMPORARY until host/api/client lands (replaced in the same session).

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/executor"
)

var errRemote = errors.New("--server: not wired yet")

func (g *globals) runRemote(ctx context.Context, data []byte, out io.Writer, jsonOut, quiet bool) error {
	return errRemote
}
func (g *globals) remoteSource() (taskSource, error) { return nil, errRemote }
func (g *globals) remotePluginViews(ctx context.Context) ([]pluginView, map[string]string, error) {
	return nil, nil, errRemote
}
func (g *globals) remoteAddPlugin(ctx context.Context, name string, wasm []byte) (*executor.Info, error) {
	return nil, errRemote
}
func (g *globals) remoteRemovePlugin(ctx context.Context, id string) error { return errRemote }
func newServeCmd(g *globals) *cobra.Command                              { return &cobra.Command{Use: "serve"} }
func newTokenCmd(g *globals) *cobra.Command                              { return &cobra.Command{Use: "token"} }
func newHooksCmd(g *globals) *cobra.Command                              { return &cobra.Command{Use: "hooks"} }
