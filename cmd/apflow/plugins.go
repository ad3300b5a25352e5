package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/registry"
)

// pluginView is what plugins list/inspect print about one executor or hook.
type pluginView struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"`
	Version      string          `json:"version,omitempty"`
	Description  string          `json:"description,omitempty"`
	Hash         string          `json:"hash,omitempty"`
	File         string          `json:"file,omitempty"`
	Hooks        []string        `json:"hooks,omitempty"`
	Capabilities []string        `json:"capabilities,omitempty"`
	Grants       any             `json:"grants,omitempty"`
	Limits       any             `json:"limits,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
}

func viewOf(info *executor.Info) pluginView {
	return pluginView{
		ID: info.ID, Kind: info.Kind, Version: info.Version, Description: info.Description,
		Hash: info.Hash, Capabilities: info.Capabilities,
		InputSchema: info.InputSchema, OutputSchema: info.OutputSchema,
	}
}

func newPluginsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List, inspect, add and remove WASM plugins and show their pool counters (local plugins dir, or --server)",
	}
	var jsonOut bool
	cmd.PersistentFlags().BoolVar(&jsonOut, "json", false, "print JSON")

	list := &cobra.Command{
		Use: "list", Short: "List executors (built-in and plugins), hooks, and files that failed to load", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return g.listPlugins(c.Context(), jsonOut)
		},
	}
	inspect := &cobra.Command{
		Use: "inspect ID|FILE.wasm", Args: cobra.ExactArgs(1),
		Short: "Show a plugin's metadata, schemas, grants, limits and hash, or check a module file " +
			"against the plugin ABI before installing it (imports, exports, schemas, compiled size, each problem with its fix)",
		RunE: func(c *cobra.Command, args []string) error {
			if isModuleFile(args[0]) {
				return g.inspectFile(c.Context(), args[0], jsonOut)
			}
			views, _, err := g.pluginViews(c.Context())
			if err != nil {
				return err
			}
			for _, v := range views {
				if v.ID == args[0] {
					return writeJSON(g.stdout, v)
				}
			}
			return executor.NotFound(args[0])
		},
	}
	add := &cobra.Command{
		Use:   "add FILE.wasm",
		Short: "Validate a module and install it into the plugins dir (replacing the version with the same id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			info, err := g.addPlugin(c.Context(), filepath.Base(args[0]), wasm)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "added %s %s (sha256 %s)\n", info.ID, info.Version, info.Hash)
			return nil
		},
	}
	remove := &cobra.Command{
		Use: "remove ID", Short: "Remove a plugin from the plugins dir", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := g.removePlugin(c.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "removed %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, inspect, add, remove, newPluginsStatsCmd(g, &jsonOut))
	return cmd
}

// pluginViews describes every executor and hook, and the files that failed to load.
func (g *globals) pluginViews(ctx context.Context) ([]pluginView, map[string]string, error) {
	if g.server != "" {
		return g.remotePluginViews(ctx)
	}
	h, err := g.openPluginHost(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer h.shutdown()
	var views []pluginView
	for _, info := range h.catalog.List() {
		if info.Kind == "builtin" {
			views = append(views, viewOf(info))
		}
	}
	for _, p := range h.registry.Plugins() {
		v := viewOf(p.Info)
		v.File = filepath.Join(h.registry.Dir(), p.File)
		v.Hooks = p.Hooks
		if gr := h.cfg.Grants(p.Info.ID); !isZeroGrants(gr) {
			v.Grants = gr
		}
		if l := h.cfg.PluginLimits(p.Info.ID); l.TimeoutMS != 0 || l.MemoryPages != 0 || l.MaxResultBytes != 0 {
			v.Limits = l
		}
		views = append(views, v)
	}
	sort.Slice(views, func(i, j int) bool { return views[i].ID < views[j].ID })
	return views, h.registry.Problems(), nil
}

func isZeroGrants(g interface{}) bool {
	b, _ := json.Marshal(g)
	return strings.TrimSpace(string(b)) == "{}"
}

func (g *globals) addPlugin(ctx context.Context, name string, wasm []byte) (*executor.Info, error) {
	if g.server != "" {
		return g.remoteAddPlugin(ctx, name, wasm)
	}
	h, err := g.openPluginHost(ctx)
	if err != nil {
		return nil, err
	}
	defer h.shutdown()
	return h.plugins.Add(ctx, name, wasm)
}

func (g *globals) removePlugin(ctx context.Context, id string) error {
	if g.server != "" {
		return g.remoteRemovePlugin(ctx, id)
	}
	h, err := g.openPluginHost(ctx)
	if err != nil {
		return err
	}
	defer h.shutdown()
	return h.plugins.Remove(ctx, id)
}

// kindLabel is the KIND column of plugins list: the plugin's kind, marked "+hook" when an
// executor also exports hooks (a hook module's kind already says "hook").
func kindLabel(v pluginView) string {
	if len(v.Hooks) > 0 && v.Kind != "hook" {
		return v.Kind + "+hook"
	}
	return v.Kind
}

// problemText says which plugin file failed to load, why, and what to do about it.
func problemText(dir, file, why string) string {
	if dir != "" {
		file = filepath.Join(dir, file)
	}
	return fmt.Sprintf("%s: %s; to fix, replace or delete the file", file, why)
}

// warnProblems prints one warning per plugin file of reg that failed to load.
func (g *globals) warnProblems(reg *registry.Registry) {
	problems := reg.Problems()
	for _, f := range sortedKeys(problems) {
		fmt.Fprintf(g.stderr, "warning: plugin not loaded: %s\n", problemText(reg.Dir(), f, problems[f]))
	}
}

// problemsDir is the directory plugin problems refer to: the local plugins directory, or
// "" for a server's (its path means nothing here).
func (g *globals) problemsDir() string {
	if g.server != "" {
		return ""
	}
	if abs, err := filepath.Abs(g.pluginsPath()); err == nil {
		return abs
	}
	return g.pluginsPath()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// listPlugins prints the executors and hooks, then the plugin files that failed to load
// (only there: openHost does not warn about them as well).
func (g *globals) listPlugins(ctx context.Context, jsonOut bool) error {
	g.listsProblems = true
	views, problems, err := g.pluginViews(ctx)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(g.stdout, map[string]any{"plugins": views, "problems": problems})
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	// A server's plugin files are its own: their paths mean nothing here, so the list
	// of a server has no FILE column.
	withFile := g.server == ""
	header := "ID\tKIND\tVERSION\tSHA256"
	if withFile {
		header += "\tFILE"
	}
	fmt.Fprintln(tw, header)
	for _, v := range views {
		row := fmt.Sprintf("%s\t%s\t%s\t%s", v.ID, kindLabel(v), v.Version, cut(v.Hash, 13))
		if withFile {
			row += "\t" + v.File
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range sortedKeys(problems) {
		fmt.Fprintf(g.stdout, "not loaded: %s\n", problemText(g.problemsDir(), f, problems[f]))
	}
	return nil
}
