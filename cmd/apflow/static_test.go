package main

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestBinaryIsStatic: the host builds without cgo (make build, apflowbin.Build) into a static
// binary, which starts without a dynamic loader and needs no libc: no program header names
// an interpreter and no shared library is imported. make build builds as apflowbin.Build does.
func TestBinaryIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the binary as ELF")
	}
	t.Parallel()
	f, err := elf.Open(apflowbin.Build(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an interpreter (PT_INTERP): it was linked dynamically, with cgo")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("imported libraries %v (%v), want none", libs, err)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make: the Makefile's build recipe is not checked")
	}
	out, err := exec.Command("make", "-n", "-C", filepath.Join("..", ".."), "build").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CGO_ENABLED=0 ") {
		t.Errorf("make -n build printed %q (%v), want a build with CGO_ENABLED=0", out, err)
	}
}
