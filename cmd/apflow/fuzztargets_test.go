package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMakeFuzzRunsEveryTarget: make fuzz finds every fuzz target of the module, keeps
// going after one fails, and lists the failed ones with their packages and a non-zero
// exit. With GO=false every target "fails" at once, so the list is the targets it found.
func TestMakeFuzzRunsEveryTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	t.Parallel()
	root := filepath.Join("..", "..")
	want := fuzzTargets(t, root)
	if len(want) == 0 {
		t.Fatal("found no fuzz target in the module")
	}
	out, err := exec.Command("make", "-s", "-C", root, "fuzz", "GO=false").CombinedOutput()
	if err == nil {
		t.Fatalf("make fuzz GO=false succeeded, want it to fail:\n%s", out)
	}
	_, list, ok := strings.Cut(string(out), "fuzz: failed: ")
	if !ok {
		t.Fatalf("make fuzz GO=false listed no failed target:\n%s", out)
	}
	got := strings.Fields(strings.SplitN(list, "\n", 2)[0])
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("make fuzz ran %v,\nwant every fuzz target of the module %v", got, want)
	}
}

// fuzzTargets returns the module's fuzz targets under root as make fuzz names them,
// Name(./dir), sorted.
func fuzzTargets(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "build" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Fuzz") {
				rel, err := filepath.Rel(root, filepath.Dir(path))
				if err != nil {
					return err
				}
				dir := "."
				if rel != "." {
					dir = "./" + filepath.ToSlash(rel)
				}
				out = append(out, fn.Name.Name+"("+dir+")")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
