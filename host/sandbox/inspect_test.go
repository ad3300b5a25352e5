package sandbox

import (
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	t.Cleanup(func() { // after the parallel subtests
		if n := rt.Stats(); n.Loads != 1 {
			t.Errorf("Loads = %d, want 1: only the conforming module is loaded", n.Loads)
		}
	})
	tests := []struct {
		name string
		wasm []byte
		// problems and fixes are substrings of each problem and its fix, in order;
		// none means the module conforms.
		problems, fixes []string
		imports         int
	}{
		{name: "echo.wasm", wasm: wasmFile(t, "echo"), imports: 2},
		{name: "command.wasm", wasm: wasmFile(t, "command"),
			problems: []string{"is a WASI command", "does not export alloc", "does not export dealloc", "is neither an executor"},
			fixes:    []string{"-buildmode=c-shared", "-mexec-model=reactor", "cdylib"}},
		{name: "asabort.wasm", wasm: wasmFile(t, "asabort"), imports: 2,
			problems: []string{"imports memory env.memory", "imports env.abort", "does not export its memory"},
			fixes:    []string{"export the module's own memory", "--use abort=", "export the module's own memory"}},
		{name: "badimport_sig.wasm", wasm: wasmFile(t, "badimport_sig"), imports: 1,
			problems: []string{"with signature"}, fixes: []string{"rebuild with the current kit"}},
		// A module refused by what it says of itself, and one that fails as it is loaded.
		{name: "badschema.wasm", wasm: wasmFile(t, "badschema"), imports: 0,
			problems: []string{"input schema does not compile"}, fixes: []string{"metadata or schemas were refused"}},
		{name: "metatrap.wasm", wasm: wasmFile(t, "metatrap"),
			problems: []string{"rejected at load: in get_metadata: trapped"}, fixes: []string{"failed as it was loaded"}},
		{name: "initloop.wasm", wasm: wasmFile(t, "initloop"),
			problems: []string{"rejected at load: instantiation failed: timed out"}, fixes: []string{"failed as it was loaded"}},
		{name: "garbage.wasm", wasm: []byte("not wasm"),
			problems: []string{"does not compile"}, fixes: []string{"wasm32-wasi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := rt.Inspect(t.Context(), tt.wasm, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if in.Hash != Hash(tt.wasm) || in.Size != len(tt.wasm) || in.Name != tt.name {
				t.Errorf("file facts = %q %d %q", in.Hash, in.Size, in.Name)
			}
			if len(in.Imports) != tt.imports {
				t.Errorf("imports = %+v, want %d", in.Imports, tt.imports)
			}
			if in.Conforms() != (len(tt.problems) == 0) {
				t.Fatalf("Conforms = %v, problems %+v", in.Conforms(), in.Problems)
			}
			if len(in.Problems) < len(tt.problems) {
				t.Fatalf("problems = %+v, want at least %q", in.Problems, tt.problems)
			}
			for i, want := range tt.problems {
				if !strings.Contains(in.Problems[i].Problem, want) {
					t.Errorf("problem %d = %q, want %q", i, in.Problems[i].Problem, want)
				}
			}
			for _, want := range tt.fixes {
				found := false
				for _, p := range in.Problems {
					found = found || strings.Contains(p.Fix, want)
				}
				if !found {
					t.Errorf("no fix mentions %q: %+v", want, in.Problems)
				}
			}
			if tt.problems == nil {
				if in.Description == nil || in.Description.Info.ID != "echo" || in.MemoryPages == 0 {
					t.Errorf("description = %+v, memory %d", in.Description, in.MemoryPages)
				}
			} else if in.Description != nil {
				t.Errorf("a module that does not conform has a description: %+v", in.Description)
			}
		})
	}
}
