package sandbox

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Inspection is what [Runtime.Inspect] learned about a module file: what it imports and
// exports, whether it conforms to the plugin ABI (docs/abi.md) and, when it does, its
// description as Load derives it.
type Inspection struct {
	// Name is the file name given to Inspect.
	Name string `json:"file"`
	// Size is the module's size in bytes; Hash its sha256, hex.
	Size int    `json:"size_bytes"`
	Hash string `json:"sha256"`
	// Imports and Exports list the module's functions (and memories) in module order
	// (exports by name).
	Imports []Symbol `json:"imports"`
	Exports []Symbol `json:"exports"`
	// MemoryPages is the exported memory's declared minimum, in 64 KiB pages.
	MemoryPages uint32 `json:"memory_min_pages"`
	// Problems is every way the module breaks the ABI, each with its fix; empty when it
	// conforms.
	Problems []Problem `json:"problems,omitempty"`
	// Description is what Load derived (metadata, schemas, roles, hooks); nil when the
	// module does not conform.
	Description *Description `json:"description,omitempty"`
}

// Conforms reports whether the module can be installed as a plugin.
func (in *Inspection) Conforms() bool { return len(in.Problems) == 0 }

// Symbol is one import or export.
type Symbol struct {
	// Module is the import's module ("" for exports).
	Module string `json:"module,omitempty"`
	Name   string `json:"name"`
	// Kind is "func" or "memory".
	Kind string `json:"kind"`
	// Signature is a function's "(params) -> (results)".
	Signature string `json:"signature,omitempty"`
}

// Problem is one way a module breaks the ABI and how to fix it.
type Problem struct {
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// Inspect examines wasm, a module file named name, as Load would and reports every
// problem instead of the first. A module that conforms is then loaded (compiled and
// instantiated once, under the operator's maximum limits, to read its metadata) and
// released again: the runtime keeps nothing of it. The error is for failures of the
// inspection itself (the runtime closing); a module that does not validate is a
// Problem.
func (r *Runtime) Inspect(ctx context.Context, wasm []byte, name string) (*Inspection, error) {
	in := &Inspection{Name: name, Size: len(wasm), Hash: Hash(wasm)}
	if !r.enter() { // Close waits for the validator's compile (see compile)
		return nil, r.closedError(strings.TrimSuffix(name, ".wasm"), in.Hash, nil)
	}
	defer r.leave()
	compiled, err := validatorCompile(ctx, r.validator, wasm)
	if err != nil {
		in.Problems = []Problem{{Problem: "does not compile: " + err.Error(), Fix: fixInvalid}}
		return in, nil
	}
	defer compiled.Close(ctx)
	in.Imports, in.Exports = symbols(compiled)
	if mem, ok := compiled.ExportedMemories()["memory"]; ok {
		in.MemoryPages = mem.Min()
	}
	problems := importProblems(compiled, r.hostFuncs)
	_, errs := exportProblems(compiled)
	problems = append(problems, errs...)
	for _, err := range problems {
		p := Problem{Problem: err.Error(), Fix: "see docs/abi.md"}
		var abi *abiError
		if errors.As(err, &abi) {
			p.Fix = abi.fix
		}
		in.Problems = append(in.Problems, p)
	}
	if len(in.Problems) > 0 {
		return in, nil
	}
	m, err := r.Load(ctx, wasm, name)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Kind == KindInvalid {
			in.Problems = []Problem{{Problem: e.Msg, Fix: loadFix(e)}}
			return in, nil
		}
		return nil, err
	}
	in.Description = m.Describe()
	return in, m.Close(ctx)
}

// symbols lists the imports and exports of compiled.
func symbols(compiled wazero.CompiledModule) (imports, exports []Symbol) {
	for _, mem := range compiled.ImportedMemories() {
		mod, name, _ := mem.Import()
		imports = append(imports, Symbol{Module: mod, Name: name, Kind: "memory"})
	}
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		imports = append(imports, Symbol{Module: mod, Name: name, Kind: "func", Signature: signature(def)})
	}
	funcs := compiled.ExportedFunctions()
	for _, name := range slices.Sorted(maps.Keys(funcs)) {
		exports = append(exports, Symbol{Name: name, Kind: "func", Signature: signature(funcs[name])})
	}
	for _, name := range slices.Sorted(maps.Keys(compiled.ExportedMemories())) {
		exports = append(exports, Symbol{Name: name, Kind: "memory"})
	}
	return imports, exports
}

// Fixes of the problems Inspect reports. They name the build flags of each language kit
// (docs/writing-plugins.md).
const (
	fixInvalid = "build for a WebAssembly 2.0 target without threads, exceptions or tail calls " +
		"(Go: GOOS=wasip1 GOARCH=wasm; Rust: --target wasm32-wasi; C: clang --target=wasm32-wasi; " +
		"AssemblyScript: asc with the kit's asconfig.json)"
	fixCommand = "the module was built as a command (it exports _start): build a reactor instead — " +
		"Go: go build -buildmode=c-shared; Rust: crate-type = [\"cdylib\"]; C: clang -mexec-model=reactor"
	fixAbort = "AssemblyScript was built without the kit's abort handler: add " +
		"--use abort=~lib/apflow-plugin-kit/assembly/host/abortHandler to asc"
	fixKit = "build with the language's kit, which exports alloc, dealloc and the ABI functions " +
		"(docs/writing-plugins.md), or export them as docs/abi.md describes"
	fixImport = "remove the import: a plugin may import only the functions the host provides " +
		"(docs/abi.md lists them); rebuild with the current kit if it came from an older one"
	fixSignature = "rebuild with the current kit: the module was built against another version of the ABI (docs/abi.md)"
	fixMemory    = "export the module's own memory as \"memory\" (the kits do; C: link with the default " +
		"--export-memory, do not use --import-memory)"
	fixRoles = "export execute and get_input_schema for an executor, or a hook function " +
		"(pre_hook, post_hook, on_tree_*) for a hook (docs/abi.md)"
	fixLoad = "the module's own metadata or schemas were refused: see docs/abi.md#exports-of-every-plugin and " +
		"call get_metadata / get_input_schema natively in the kit's tests"
	fixFailed = "the module failed as it was loaded (in _initialize, get_metadata or a schema function): " +
		"fix what it says (a Go module that registers nothing says so); its stderr, logged with this " +
		"report, shows where, and the kit's tests can call get_metadata / get_input_schema natively"
)

// loadFix is the fix of a load that refused the module: what it returned (fixLoad), or
// its failure as it was loaded: a panic, a trap, an exit, a timeout (fixFailed).
func loadFix(e *Error) string {
	var inner *Error
	if errors.As(e.Err, &inner) {
		switch inner.Kind {
		case KindPanic, KindTrap, KindExit, KindTimeout, KindOutOfMemory:
			return fixFailed
		}
	}
	return fixLoad
}

// fixMissing is the fix of a missing ABI export: a command module (it exports _start and
// not _initialize) was built with the wrong flags; anything else lacks the kit.
func fixMissing(funcs map[string]api.FunctionDefinition) string {
	_, command := funcs["_start"]
	_, reactor := funcs["_initialize"]
	if command && !reactor {
		return fixCommand
	}
	return fixKit
}
