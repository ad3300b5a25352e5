package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/sandbox"
)

// isModuleFile reports whether the argument of plugins inspect names a module file
// rather than a plugin id: it ends in .wasm or names an existing file.
func isModuleFile(arg string) bool {
	if strings.HasSuffix(arg, ".wasm") {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}

// moduleInspection is what plugins inspect FILE prints: the sandbox's inspection and
// the size of the module's compiled code.
type moduleInspection struct {
	*sandbox.Inspection
	// CompiledBytes is the size of the compiled code wazero caches for the module (0
	// when it does not conform: it is not compiled then).
	CompiledBytes int64 `json:"compiled_bytes"`
}

// inspectFile examines a module file without installing it: in a runtime of its own,
// with the operator's config, whose compilation cache is a temporary directory (so the
// compiled size can be measured and nothing of the module stays behind). A module that
// does not conform prints its problems and fails.
func (g *globals) inspectFile(ctx context.Context, path string, jsonOut bool) error {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	cache, err := os.MkdirTemp("", "apflow-inspect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	rt, err := sandbox.New(ctx, sandbox.Config{
		CacheDir: cache, CompileWorker: compileWorker(), CompileTimeout: g.compileTimeout,
		Defaults: cfg.Limits, Max: cfg.MaxLimits, Grants: cfg.Grants,
		Logger: g.logger().Named("sandbox"),
	})
	if err != nil {
		return sandboxConfigExit(err)
	}
	in, err := rt.Inspect(ctx, wasm, filepath.Base(path))
	if cerr := rt.Close(ctx); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	refuseReserved(in)
	out := moduleInspection{Inspection: in, CompiledBytes: dirSize(cache)}
	if jsonOut {
		err = writeJSON(g.stdout, out)
	} else {
		err = printInspection(g.stdout, path, out)
	}
	if err == nil && !in.Conforms() {
		err = fmt.Errorf("%s does not conform to the plugin ABI: %d problem(s)", path, len(in.Problems))
	}
	return err
}

// refuseReserved adds the problem the registry would find in a module whose id is a
// built-in executor's, which no plugin may take: it would not be installed.
func refuseReserved(in *sandbox.Inspection) {
	if in.Description == nil || in.Description.Info == nil {
		return
	}
	id := in.Description.Info.ID
	for _, b := range builtin.Catalog().List() {
		if b.ID == id {
			in.Problems = append(in.Problems, sandbox.Problem{
				Problem: fmt.Sprintf("plugin id %q is reserved for a built-in executor", id),
				Fix:     "give the module another id in get_metadata",
			})
			in.Description = nil // as for every module that does not conform
			return
		}
	}
}

// dirSize is the total size of the regular files under dir, but for the rewritten
// modules the sandbox caches beside the compiled code.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == sandbox.RewriteCacheDir {
			return filepath.SkipDir
		}
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// printInspection writes the human-readable form of plugins inspect FILE.
func printInspection(w io.Writer, path string, in moduleInspection) error {
	fmt.Fprintf(w, "file:      %s (%d bytes", path, in.Size)
	if in.CompiledBytes > 0 {
		fmt.Fprintf(w, ", %d bytes compiled", in.CompiledBytes)
	}
	fmt.Fprintf(w, ")\nsha256:    %s\n", in.Hash)
	if in.Conforms() {
		fmt.Fprintln(w, "verdict:   conforms to the plugin ABI")
	} else {
		fmt.Fprintf(w, "verdict:   does not conform to the plugin ABI (%d problem(s))\n", len(in.Problems))
	}
	for i, p := range in.Problems {
		// A problem of several lines (a wasm stack trace) stays under its number.
		fmt.Fprintf(w, "  %d. %s\n     fix: %s\n", i+1, strings.ReplaceAll(p.Problem, "\n", "\n     "), p.Fix)
	}
	if d := in.Description; d != nil {
		info := d.Info
		fmt.Fprintf(w, "id:        %s %s (%s)\n", info.ID, info.Version, info.Kind)
		if info.Description != "" {
			fmt.Fprintf(w, "about:     %s\n", info.Description)
		}
		if len(d.Hooks) > 0 {
			fmt.Fprintf(w, "hooks:     %s\n", strings.Join(d.Hooks, ", "))
		}
		if len(info.Capabilities) > 0 {
			fmt.Fprintf(w, "needs:     %s\n", strings.Join(info.Capabilities, ", "))
		}
	}
	fmt.Fprintf(w, "memory:    %d pages at start\n", in.MemoryPages)
	printSymbols(w, "imports", in.Imports)
	printSymbols(w, "exports", in.Exports)
	if d := in.Description; d != nil && d.Info.InputSchema != nil {
		fmt.Fprintf(w, "input schema:  %s\n", d.Info.InputSchema)
	}
	if d := in.Description; d != nil && d.Info.OutputSchema != nil {
		fmt.Fprintf(w, "output schema: %s\n", d.Info.OutputSchema)
	}
	return nil
}

func printSymbols(w io.Writer, title string, syms []sandbox.Symbol) {
	fmt.Fprintf(w, "%s (%d):\n", title, len(syms))
	for _, s := range syms {
		name := s.Name
		if s.Module != "" {
			name = s.Module + "." + s.Name
		}
		fmt.Fprintf(w, "  %-40s %s %s\n", name, s.Kind, s.Signature)
	}
}
