package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// huge is a LEB128 u32 of 0xffffffff: a count or a length no module of this size holds.
const huge = "\xff\xff\xff\xff\x0f"

// wasmModule is a module header followed by sections.
func wasmModule(sections ...string) []byte {
	return []byte("\x00asm\x01\x00\x00\x00" + strings.Join(sections, ""))
}

// sec is section id with body, its length prefixed.
func sec(id byte, body string) string {
	return string(appendSection(nil, id, []byte(body)))
}

// vec is a vector's count followed by its items as given.
func vec(count uint32, items string) string {
	return string(appendU32(nil, count)) + items
}

// nameSec is a custom "name" section of subsections, each an id and a body.
func nameSec(subs ...string) string {
	return sec(secCustom, "\x04name"+strings.Join(subs, ""))
}

// sub is a name subsection.
func sub(id byte, body string) string {
	return string(appendSection(nil, id, []byte(body)))
}

// TestCheckBoundsRefuses: a module declaring a count or a length beyond its bytes is
// refused before wazero decodes it (wazero would allocate that much first: the first
// case, found by FuzzLimitStack, ended the process), and so is a function declaring
// more than maxLocals locals. Load refuses each as an invalid module, naming the section.
func TestCheckBoundsRefuses(t *testing.T) {
	t.Parallel()
	const (
		i32Const0 = "\x41\x00\x0b" // i32.const 0, end
		funcType  = "\x01\x60\x00\x00"
	)
	fuzzFound, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzLimitStack", "774ffb5a52cdc083"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, section string
		wasm          []byte
	}{
		{"globals (found by the fuzzer)", "global", fuzzCorpusBytes(t, fuzzFound)},
		{"types", "type", wasmModule(sec(secType, huge))},
		{"a type's parameters", "type", wasmModule(sec(secType, "\x01\x60"+huge))},
		{"imports", "import", wasmModule(sec(secImport, huge))},
		{"an import's module name", "import", wasmModule(sec(secImport, "\x01"+huge+"m"))},
		{"functions", "function", wasmModule(sec(secType, funcType), sec(secFunction, huge))},
		{"tables", "table", wasmModule(sec(tableSectionID, huge))},
		{"memories", "memory", wasmModule(sec(secMemory, huge))},
		{"globals", "global", wasmModule(sec(secGlobal, huge+"\x7f\x00"+i32Const0))},
		{"exports", "export", wasmModule(sec(secExport, huge))},
		{"an export's name", "export", wasmModule(sec(secExport, "\x01"+huge+"e\x00\x00"))},
		{"element segments", "element", wasmModule(sec(secElement, huge))},
		{"a segment's functions", "element", wasmModule(sec(secElement, "\x01\x00"+i32Const0+huge))},
		{"a segment's expressions", "element", wasmModule(sec(secElement, "\x01\x05\x70"+huge))},
		{"code entries", "code", wasmModule(sec(secCode, huge))},
		{"a code entry's length", "code", wasmModule(sec(secCode, "\x01"+huge+"\x00\x0b"))},
		{"a function's locals", "more than 50000 locals",
			wasmModule(sec(secType, funcType), sec(secFunction, "\x01\x00"), sec(secCode, vec(1, "\x08\x01"+huge+"\x7f\x0b")))},
		{"locals declared twice", "more than 50000 locals",
			wasmModule(sec(secType, funcType), sec(secFunction, "\x01\x00"),
				sec(secCode, vec(1, "\x0a\x02\xb0\xea\x01\x7f\xb0\xea\x01\x7e\x0b")))}, // 30,000 i32 and 30,000 i64
		{"data segments", "data", wasmModule(sec(secData, huge))},
		{"a segment's bytes", "data", wasmModule(sec(secData, "\x01\x01"+huge+"d"))},
		{"a custom section's name", "custom", wasmModule(sec(secCustom, huge+"x"))},
		{"function names", "custom", wasmModule(nameSec(sub(nameFunctions, huge)))},
		{"a function's name", "custom", wasmModule(nameSec(sub(nameFunctions, "\x01\x00"+huge)))},
		{"local names", "custom", wasmModule(nameSec(sub(nameLocals, "\x01\x00"+huge)))},
		{"the module's name", "custom", wasmModule(nameSec(sub(nameModule, huge)))},
		// wazero reads a known subsection's contents past its declared length: an empty
		// function-names subsection followed by a count of 0xffffffff.
		{"a subsection shorter than its contents", "custom", wasmModule(nameSec(sub(nameFunctions, ""), huge))},
		// Bytes wazero reads in a grammar wider than WebAssembly 2.0: a typed reference
		// (0x63, 0x64) or a table with an initialiser (0x40) made it take a count from
		// bytes checkBounds had read as something else.
		{"an element's typed reference", "element", wasmModule(sec(secElement, "\x01\x05\x63\x00"+huge))},
		{"a typed reference over a count", "element", wasmModule(sec(secElement, "\x01\x05\x63\x01\xc4\xc4\xc4\xc4\x0f\x0b"))},
		{"an active segment's typed reference", "element", wasmModule(sec(secElement, "\x01\x06\x00\x41\x00\x0b\x64\x00"+huge))},
		{"an element kind other than funcref", "element", wasmModule(sec(secElement, "\x01\x01\x01\x00"))},
		{"a table import with an initialiser", "import",
			wasmModule(sec(secImport, "\x02"+"\x00\x00\x01\x40\x00\x70"+"\x00\x06\x0b"+huge+"\x00\x00"))},
		{"a table of typed references", "table", wasmModule(sec(tableSectionID, "\x01\x63\x70\x00\x01"))},
		{"shared memory limits", "memory", wasmModule(sec(secMemory, "\x01\x03\x01\x01"))},
		{"a type that is not a function's", "type", wasmModule(sec(secType, "\x01\x5f\x00\x00"))},
		{"an extended constant", "global", wasmModule(sec(secGlobal, "\x01\x7f\x00\x41\x01\x41\x01\x6a\x0b"))},
		{"a section longer than its entries", "function section", wasmModule(sec(secType, funcType), sec(secFunction, "\x01\x00\x00"))},
		// 8,000 functions of 50,000 locals each, 8 bytes a function: validating them took
		// 3 MiB a function, and the kernel ended the process.
		{"locals in all", "locals declared in all", wasmModule(sec(secType, funcType),
			sec(secFunction, vec(8000, strings.Repeat("\x00", 8000))),
			sec(secCode, vec(8000, strings.Repeat("\x06\x01\xd0\x86\x03\x7f\x0b", 8000))))},
		{"an unknown section", "unknown section id 14", wasmModule("\x0e\x00")},
		{"a section past the end", "global section at byte 8: its length", wasmModule("\x06" + huge)},
	}
	rt := setup(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkBounds(tt.wasm)
			if !errors.Is(err, errBounds) {
				t.Fatalf("checkBounds = %v, want a refusal", err)
			}
			mustContain(t, "error", err.Error(), tt.section)
			_, err = rt.Load(context.Background(), tt.wasm, "bomb.wasm")
			if KindOf(err) != KindInvalid {
				t.Fatalf("Load: %v, want %s", err, KindInvalid)
			}
			mustContain(t, "Load error", err.Error(), "malformed module")
			in, err := rt.Inspect(context.Background(), tt.wasm, "bomb.wasm")
			if err != nil || len(in.Problems) != 1 || !strings.Contains(in.Problems[0].Problem, "malformed module") {
				t.Fatalf("Inspect = %+v, %v", in, err)
			}
		})
	}
}

// TestCheckBoundsAccepts: the modules of the tests and the built plugins of every kit
// pass, and so does a function declaring exactly maxLocals locals.
func TestCheckBoundsAccepts(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	for _, dir := range []string{"../../build/plugins", "../../build/examples"} {
		more, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
		files = append(files, more...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d modules found", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkBounds(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	atLimit := wasmModule(sec(secType, "\x01\x60\x00\x00"), sec(secFunction, "\x01\x00"),
		sec(secCode, vec(1, "\x08\x02\xc8\x86\x03\x7f\x08\x7e\x0b"))) // 49,992 i32 and 8 i64
	if err := checkBounds(atLimit); err != nil {
		t.Fatalf("%d locals: %v", maxLocals, err)
	}
	if _, err := setup(t, Config{}).Load(context.Background(), atLimit, "locals.wasm"); KindOf(err) == KindInvalid &&
		strings.Contains(err.Error(), "malformed") {
		t.Fatalf("Load of %d locals: %v", maxLocals, err)
	}
}

// fuzzCorpusBytes decodes a "go test fuzz v1" file of one []byte.
func fuzzCorpusBytes(t *testing.T, file []byte) []byte {
	t.Helper()
	_, rest, ok := strings.Cut(string(file), "\n")
	lit, ok2 := strings.CutPrefix(strings.TrimSpace(rest), "[]byte(")
	if !ok || !ok2 {
		t.Fatalf("not a fuzz corpus file: %q", file)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// dwarfModule is a module of two custom sections, .debug_abbrev with n abbreviations and
// .debug_info with n compilation units, each naming the next abbreviation's offset: Go's
// debug/dwarf keeps a table a unit, n²/2 entries in all.
func dwarfModule(n int) []byte {
	var abbrev, info []byte
	for i := 1; i <= n; i++ {
		off := uint32(len(abbrev))
		abbrev = append(appendU32(abbrev, uint32(i)), 0x11, 0, 0, 0) // code, DW_TAG_compile_unit, no children, no attributes
		info = append(info, 7, 0, 0, 0, 4, 0)                        // unit length, DWARF version 4
		info = append(info, byte(off), byte(off>>8), byte(off>>16), byte(off>>24), 4)
	}
	abbrev = append(abbrev, 0)
	custom := func(name string, body []byte) string {
		return sec(secCustom, vec(uint32(len(name)), name)+string(body))
	}
	return wasmModule(custom(".debug_abbrev", abbrev), custom(".debug_info", info))
}

// TestDWARFIsNotParsed: a module's debug sections are not parsed at validation (wazero
// would parse them with debug/dwarf, in memory quadratic in their units: 4,000 units
// took 0.7 GB). Not parallel: it measures the process's allocations.
func TestDWARFIsNotParsed(t *testing.T) {
	rt := setup(t, Config{})
	w := dwarfModule(3000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := rt.validate(context.Background(), w); err != nil {
		t.Fatalf("validate: %v", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("validating a %d-byte module allocated %d MiB: its DWARF was parsed", len(w), grew>>20)
	}
}
