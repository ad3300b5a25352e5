package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// The call stack of a guest lives outside its linear memory: wazero's compiler keeps each
// call's WebAssembly stack in a Go byte slice that it doubles whenever a call needs more,
// up to a fixed ceiling of about 50 MB (so a slice of up to about 100 MB) that no option
// changes, and keeps it, grown, for the next call of the same export. A recursive guest
// could so make the host hold about 100 MB per call in flight, whatever its memory limit,
// and a pooled instance kept what it grew.
//
// So, before compiling, the host rewrites the module (after capTables) so that every
// function defined in the module charges its own frame against a stack budget:
//
//   - Each defined function gets one more i32 local, $mine, after its declared locals
//     (no existing local index changes), and a prologue: $mine = $depth + cost, $depth =
//     $mine, a trap (unreachable) when $mine exceeds maxStackBytes, and $peak = $mine
//     when it is above $peak. $depth and $peak are hidden globals; cost is the
//     function's frame cost (frameBaseCost plus localCost per parameter, result and
//     declared local). A trap leaves $depth above the budget, which is how the host tells "stack
//     exhausted" from the guest's own unreachable (every other trap finds $depth at or
//     below it).
//   - After every call and call_indirect, calls of imports included, the caller sets
//     $depth back to its $mine: whatever the callee charged, its own callees and a host
//     function's re-entrant alloc included, is released when the call returns. A
//     function never releases its own charge, so a return, a branch out of the body or
//     falling off its end needs nothing: the charge lasts until its caller's restore.
//   - No function moves: calls, exports, table elements, the start function, ref.func
//     and the name section keep their indices (names.go only demangles the names), and
//     a trace has one frame per guest call.
//   - The host zeroes $depth before each call it makes into an instance on its own
//     (instance.callTop: the start function, _initialize, the getters, and alloc and
//     the export of every call), because the function called leaves its charge behind,
//     with no caller to restore it; it zeroes $peak too when it hands an instance to a
//     call (pool.acquire). A host function calling back into the guest (give's alloc)
//     must not: the callee is charged on top of the guest frames of the call it
//     serves, which the guest's function restores once the host function returns.
//   - Both globals are appended after the module's own and exported under reserved
//     names for the host to read and reset (a module exporting a reserved name itself
//     is refused).
//   - Each body gets an interrupt check at the start of every loop body and at the end
//     of its prologue (interruptCheck; interrupt.go says why and how), over two more
//     hidden globals, the interrupt flag (exported as interruptGlobal) and a fuel
//     counter. Finding the loops and the calls needs a decoder of every instruction
//     (walk.go); a body with an instruction it does not know is refused.
//   - The start section is removed and its function exported as startExport: the host
//     calls it right after instantiation, before _initialize, once it can read the
//     globals, so that a start function exhausting the stack is reported as such.
//
// The rewrite makes names valid that were not: the local index of $mine (parameters
// plus declared locals) and a global.get/set of the hidden globals. A function setting
// its $mine low would have the restore after its next call lower $depth, one setting
// $depth would reset it directly, and either could recurse without end under the
// budget. So the original bytes must be validated before the rewrite
// (Runtime.compileChecked does): only a module that is valid as written cannot name
// what the rewrite added. A valid module the rewrite cannot parse is refused rather
// than run without a budget.
//
// The scheme relies on every call that starts either returning to the instruction after
// it, where the restore is, or ending the whole guest call with a trap (the host zeroes
// $depth before the next one, and discards the instance anyway). Tail calls and
// exceptions would break that, so they are not enabled in the runtime (coreFeatures),
// and walk.go refuses their instructions: a return_call would charge the callee on top
// of a frame that is gone (a tail-recursive loop would reach the budget), and an
// exception caught in a caller would skip the restores of the frames it unwound,
// leaving $depth at the thrower's level. Enabling either needs restores at those
// points first.
//
// The cost is an estimate of the frame wazero builds: a function's parameters, results
// and locals are what it can keep live across a call (wazero keeps a call's results in
// the frame: a recursion returning 1,000 values each was charged 144 bytes a call until
// results counted, and reached wazero's own ceiling, about 100 MB, before the budget),
// and $mine is live across every call. Known gap: values a function keeps on its
// operand stack across a call are not charged, so a function pushing many values before
// a recursive call uses several times its charge, up to wazero's ceiling before the
// budget traps, in a crafted case. Bounding that needs each function's maximum
// operand-stack height, i.e. a walk over its instructions. Host
// functions are not charged: they do not grow the guest's stack (re-entrant allocs are
// bounded by maxGiveDepth).
const (
	// maxStackBytes is the stack budget of one guest call: 8 MiB, a native thread's
	// usual stack. The recursion of a one-parameter function reaches about 58,000
	// calls.
	maxStackBytes = 8 << 20
	// frameBaseCost is the cost of one call: return address and frame pointer, saved
	// registers, the slot $mine is kept in across calls, spills. The real stack per call
	// (read off the length of wazero's stack slice as a recursion grows it) is about 56
	// bytes for a one-parameter function, charged 144, and 120 bytes for one with a
	// parameter and eight i64 locals live across the call, charged 272; with the wrappers
	// this rewrite replaced, two frames per call, it was 72 and 136. The cost was kept:
	// the depth a guest may reach is unchanged and the charge stays well above the real
	// stack for frames without big operand stacks.
	frameBaseCost = 128
	// localCost is the cost of one parameter or local (a v128 is 16 bytes).
	localCost = 16
	// poolStackBytes: an instance whose stack cost peaked above it during a call (its
	// stacks grew to hold that much) is recycled instead of pooled.
	poolStackBytes = 256 << 10

	// Names of the exported stack globals and of the interrupt flag (interrupt.go).
	stackGlobal     = "apflow:stack"
	stackPeakGlobal = "apflow:stack_peak"
	interruptGlobal = "apflow:interrupt"
	// startExport is the name the module's start function is exported under.
	startExport = "apflow:start"
)

// WebAssembly section ids and section order (custom sections aside).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionRank orders the known sections as the binary format requires.
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// errUnparsed reports a module limitStack cannot parse (it refuses it).
var errUnparsed = errors.New("module not parsed")

// errNoFunctions reports a module without functions of its own: it has no stack to meter
// and is compiled as it is.
var errNoFunctions = errors.New("no functions defined")

// section is one section of a module: its id and body.
type section struct {
	id   byte
	body []byte
	// at and end are where the section, its id byte to its body's end, lies in the
	// module splitSections split.
	at, end int
}

// limitStack returns wasm, a module already validated as written, with the stack budget
// and the interrupt checks instrumented (see above). It parses any bytes without
// panicking (FuzzRewriteParses). A module without functions of its own is returned
// unchanged. A module exporting a name the rewrite adds (reservedExports) is refused,
// and so is one the rewrite cannot parse: it would otherwise run without a stack
// budget.
func limitStack(wasm []byte) ([]byte, error) {
	out, err := instrumentStack(wasm)
	var reserved *reservedExportError
	switch {
	case errors.As(err, &reserved):
		return nil, err
	case errors.Is(err, errNoFunctions):
		return wasm, nil
	case err != nil:
		return nil, fmt.Errorf("the host cannot meter this module's call stack: %w", err)
	}
	return out, nil
}

// reservedExports are the export names the rewrite adds.
var reservedExports = []string{stackGlobal, stackPeakGlobal, interruptGlobal, startExport}

// reservedExportError reports a module exporting a reserved name.
type reservedExportError struct{ name string }

func (e *reservedExportError) Error() string {
	return fmt.Sprintf("exports %q, a name reserved for the host (%s)", e.name, strings.Join(reservedExports, ", "))
}

func instrumentStack(wasm []byte) ([]byte, error) {
	if !hasHeader(wasm) {
		return nil, errUnparsed
	}
	secs, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}
	m, err := parseForStack(secs)
	if err != nil {
		return nil, err
	}
	if len(m.funcTypes) == 0 {
		return nil, errNoFunctions
	}
	out := append([]byte(nil), wasm[:moduleHeaderLen]...)
	globalDone, exportDone := false, false
	var names []byte // the module's name section, demangled at the end (names.go)
	for _, s := range secs {
		if !globalDone && s.id != secCustom && sectionRank[s.id] > sectionRank[secGlobal] {
			out = appendSection(out, secGlobal, m.globalSection(nil))
			globalDone = true
		}
		if !exportDone && s.id != secCustom && sectionRank[s.id] > sectionRank[secExport] {
			out = appendSection(out, secExport, m.exportSection(nil))
			exportDone = true
		}
		switch s.id {
		case secCustom:
			if isDebugSection(s.body) {
				continue // DWARF addresses the old code layout
			}
			if isNameSection(s.body) {
				names = s.body
				continue
			}
			out = appendSection(out, s.id, s.body)
		case secGlobal:
			out = appendSection(out, s.id, m.globalSection(s.body))
			globalDone = true
		case secExport:
			out = appendSection(out, s.id, m.exportSection(s.body))
			exportDone = true
		case secStart:
			continue // exported as startExport instead
		case secCode:
			out = appendSection(out, s.id, m.codeSection())
		default:
			out = appendSection(out, s.id, s.body)
		}
	}
	// A module with defined functions has a code section, after the global and export
	// sections: both were added by now.
	if names != nil {
		out = appendSection(out, secCustom, nameSection(names))
	}
	return out, nil
}

// splitSections splits the sections of wasm, a module whose header hasHeader checked.
// A section whose length is cut short or runs past the module's end, or whose id is
// unknown, is a *sectionError, returned with the sections before it.
func splitSections(wasm []byte) ([]section, error) {
	var secs []section
	for pos := moduleHeaderLen; pos < len(wasm); {
		id := wasm[pos]
		size, n, ok := readU32(wasm[pos+1:])
		start := pos + 1 + n
		if !ok || uint64(size) > uint64(len(wasm)-start) {
			return secs, &sectionError{id: id, at: pos}
		}
		if _, known := sectionRank[id]; !known && id != secCustom {
			return secs, &sectionError{id: id, at: pos, unknown: true}
		}
		end := start + int(size)
		secs = append(secs, section{id: id, body: wasm[start:end], at: pos, end: end})
		pos = end
	}
	return secs, nil
}

// sectionError reports the section at byte at that splitSections could not split. It is
// errUnparsed for limitStack.
type sectionError struct {
	id      byte
	at      int
	unknown bool // its id; else its length
}

func (e *sectionError) Error() string {
	if e.unknown {
		return fmt.Sprintf("unknown section id %d at byte %d", e.id, e.at)
	}
	return fmt.Sprintf("%s section at byte %d: its length is cut short or exceeds the bytes left", sectionName(e.id), e.at)
}

func (e *sectionError) Unwrap() error { return errUnparsed }

// moduleHeaderLen is the length of a module's header: the magic and the version.
const moduleHeaderLen = 8

// hasHeader reports whether wasm starts as a WebAssembly module does.
func hasHeader(wasm []byte) bool {
	return len(wasm) >= moduleHeaderLen && string(wasm[:4]) == "\x00asm"
}

func appendSection(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(body)))
	return append(out, body...)
}

// isDebugSection reports whether a custom section body is named .debug_*.
func isDebugSection(body []byte) bool {
	n, k, ok := readU32(body)
	if !ok || k+int(n) > len(body) {
		return false
	}
	name := string(body[k : k+int(n)])
	return len(name) > 7 && name[:7] == ".debug_"
}

// stackModule is what the rewrite needs to know about a module.
type stackModule struct {
	typeParams  []uint32 // parameter count per type
	typeResults []uint32 // result count per type
	funcImports uint32
	hasMemory   bool     // imports or defines a memory (memory.grow is valid)
	globals     uint32   // imported plus defined
	funcTypes   []uint32 // type index per defined function
	start       uint32   // start function index, if hasStart
	hasStart    bool
	bodies      [][]byte // code entries (locals and expression), per defined function, instrumented
}

// reader reads a section body.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	v, n, ok := readU32(r.b[r.pos:])
	if !ok {
		r.err = errUnparsed
		return 0
	}
	r.pos += n
	return v
}

// count reads the length of a vector whose items take at least one byte each.
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.pos) {
		r.err = errUnparsed
		return 0
	}
	return n
}

func (r *reader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.err = errUnparsed
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint64(r.pos)+uint64(n) > uint64(len(r.b)) {
		r.err = errUnparsed
		return nil
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

func (r *reader) valType() {
	switch r.byte() {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		r.err = errUnparsed
	}
}

// limits reads limits of WebAssembly 2.0: a minimum, and a maximum when its flag is 1.
func (r *reader) limits() {
	switch r.byte() {
	case 0:
		r.u32()
	case 1:
		r.u32()
		r.u32()
	default:
		r.err = errUnparsed
	}
}

// funcType reads a function type and returns its numbers of parameters and results.
func (r *reader) funcType() (params, results uint32) {
	r.expect(0x60)
	params = r.count()
	for range params {
		r.valType()
	}
	results = r.count()
	for range results {
		r.valType()
	}
	return params, results
}

// Import kinds (importDesc).
const (
	importFunc   = 0
	importTable  = 1
	importMemory = 2
	importGlobal = 3
)

// importDesc reads an import's description and returns its kind: a function's type, a
// table, a memory or a global.
func (r *reader) importDesc() byte {
	kind := r.byte()
	switch kind {
	case importFunc:
		r.u32()
	case importTable:
		r.refType()
		r.limits()
	case importMemory:
		r.limits()
	case importGlobal:
		r.valType()
		r.byte()
	default:
		r.err = errUnparsed
	}
	return kind
}

// expect reads one byte, which must be b.
func (r *reader) expect(b byte) {
	if r.byte() != b {
		r.err = errUnparsed
	}
}

// refType reads a reference type: funcref or externref.
func (r *reader) refType() {
	if c := r.byte(); c != 0x70 && c != 0x6f {
		r.err = errUnparsed
	}
}

// parseForStack reads the type, import, function, global and code sections.
func parseForStack(secs []section) (*stackModule, error) {
	m := &stackModule{}
	for _, s := range secs {
		r := &reader{b: s.body}
		switch s.id {
		case secType:
			for range r.count() {
				params, results := r.funcType()
				m.typeParams = append(m.typeParams, params)
				m.typeResults = append(m.typeResults, results)
			}
		case secImport:
			for range r.count() {
				r.bytes(r.count())
				r.bytes(r.count())
				switch r.importDesc() {
				case importFunc:
					m.funcImports++
				case importMemory:
					m.hasMemory = true
				case importGlobal:
					m.globals++
				}
			}
		case secFunction:
			for range r.count() {
				m.funcTypes = append(m.funcTypes, r.u32())
			}
		case secMemory:
			m.hasMemory = m.hasMemory || r.u32() > 0
			r.pos = len(r.b)
		case secGlobal:
			m.globals += r.u32()
			r.pos = len(r.b)
		case secStart:
			m.start, m.hasStart = r.u32(), true
		case secExport:
			for range r.count() {
				name := string(r.bytes(r.u32()))
				r.byte()
				r.u32()
				if r.err == nil && slices.Contains(reservedExports, name) {
					return nil, &reservedExportError{name}
				}
			}
		case secCode:
			for range r.count() {
				m.bodies = append(m.bodies, r.bytes(r.u32()))
			}
		default:
			continue
		}
		if r.err != nil || r.pos != len(r.b) {
			return nil, errUnparsed
		}
	}
	if len(m.bodies) != len(m.funcTypes) {
		return nil, errUnparsed
	}
	for i, t := range m.funcTypes {
		if int(t) >= len(m.typeParams) {
			return nil, errUnparsed
		}
		var err error
		if m.bodies[i], err = m.instrumentBody(m.bodies[i], m.typeParams[t], m.typeResults[t]); err != nil {
			return nil, fmt.Errorf("function %d: %w", m.funcImports+uint32(i), err)
		}
	}
	return m, nil
}

// instrumentBody returns the code entry body of a function with params parameters and
// results results,
// instrumented (see above): the local $mine appended after the declared locals, the
// prologue before the expression, an interrupt check at the start of every loop body
// and the restore of the function's level after every call and call_indirect. Every
// insertion leaves the operand stack and the block structure as they were, so no
// branch depth, block type or existing local index changes.
func (m *stackModule) instrumentBody(body []byte, params, results uint32) ([]byte, error) {
	locals, exprAt, err := declaredLocals(body)
	if err != nil {
		return nil, err
	}
	if uint64(params)+locals >= math.MaxUint32 {
		return nil, errUnparsed // no room for $mine (and no such function compiles)
	}
	mine := params + uint32(locals)
	decls, n, _ := readU32(body) // read by declaredLocals
	check, restore := m.interruptCheck(nil), m.restoreLevel(nil, mine)
	out := make([]byte, 0, len(body)+64)
	out = appendU32(out, decls+1)
	out = append(out, body[n:exprAt]...)
	out = append(out, 1, typeI32) // $mine
	out = m.prologue(out, frameCost(uint64(params)+uint64(results)+locals), mine)
	expr, prev := body[exprAt:], 0
	err = walkBody(expr, func(op byte, after int) {
		out = append(out, expr[prev:after]...)
		if op == opLoop {
			out = append(out, check...)
		} else {
			out = append(out, restore...)
		}
		prev = after
	})
	if err != nil {
		return nil, err
	}
	return append(out, expr[prev:]...), nil
}

// declaredLocals sums the local declarations at the start of a code entry and returns
// where its expression starts.
func declaredLocals(body []byte) (sum uint64, exprAt int, err error) {
	r := &reader{b: body}
	for range r.count() {
		sum += uint64(r.u32())
		r.valType()
	}
	return sum, r.pos, r.err
}

// prologue appends the entry of a function whose frame costs cost, with $mine the local
// at index mine:
//
//	$mine = $depth + cost; $depth = $mine
//	if $mine > maxStackBytes { unreachable }   ;; $depth stays above the budget
//	if $mine > $peak { $peak = $mine }
//	interrupt check
func (m *stackModule) prologue(w []byte, cost int32, mine uint32) []byte {
	d, p := m.depthGlobal(), m.peakGlobal()
	w = appendIdx(w, opGlobalGet, d)
	w = appendS32(append(w, opI32Const), cost)
	w = append(w, opI32Add)
	w = appendIdx(w, opLocalTee, mine)
	w = appendIdx(w, opGlobalSet, d)
	w = appendIdx(w, opLocalGet, mine)
	w = appendS32(append(w, opI32Const), maxStackBytes)
	w = append(w, opI32GtU, opIf, blockEmpty, opUnreachable, opEnd)
	w = appendIdx(w, opLocalGet, mine)
	w = appendIdx(w, opGlobalGet, p)
	w = append(w, opI32GtU, opIf, blockEmpty)
	w = appendIdx(w, opLocalGet, mine)
	w = appendIdx(w, opGlobalSet, p)
	w = append(w, opEnd)
	return m.interruptCheck(w)
}

// restoreLevel appends what follows every call: $depth = $mine (the local at index
// mine), the calling function's own level, whatever the callee charged.
func (m *stackModule) restoreLevel(w []byte, mine uint32) []byte {
	w = appendIdx(w, opLocalGet, mine)
	return appendIdx(w, opGlobalSet, m.depthGlobal())
}

// interruptCheck appends the interrupt check to w (see interrupt.go): it counts down a
// hidden fuel global and, every yieldEvery checks, leaves native code (memory.grow 0, an
// exit to Go where the Go scheduler can stop the goroutine) and traps if the host raised
// the interrupt flag.
//
//	$fuel = $fuel - 1
//	if $fuel == 0 {
//	  $fuel = yieldEvery
//	  drop(memory.grow 0)    ;; only in a module with a memory
//	  if $interrupt { unreachable }
//	}
func (m *stackModule) interruptCheck(w []byte) []byte {
	f := m.fuelGlobal()
	w = appendIdx(w, opGlobalGet, f)
	w = append(w, opI32Const, 1, opI32Sub)
	w = appendIdx(w, opGlobalSet, f)
	w = appendIdx(w, opGlobalGet, f)
	w = append(w, opI32Eqz, opIf, blockEmpty)
	w = appendS32(append(w, opI32Const), yieldEvery)
	w = appendIdx(w, opGlobalSet, f)
	if m.hasMemory {
		w = append(w, opI32Const, 0, opMemoryGrow, 0, opDrop)
	}
	w = appendIdx(w, opGlobalGet, m.interruptFlag())
	return append(w, opIf, blockEmpty, opUnreachable, opEnd, opEnd)
}

// appendIdx appends instruction op with its one u32 immediate, a local or global index.
func appendIdx(w []byte, op byte, idx uint32) []byte {
	return appendU32(append(w, op), idx)
}

// yieldEvery is how many interrupt checks pass between two exits to Go: the bound on
// the loop iterations and calls a guest makes after its interrupt flag is raised, and
// between two points where the Go runtime can stop its goroutine.
const yieldEvery = 1024

// frameCost is the cost of a call of a function with that many parameters, results and
// locals,
// capped just above the budget (such a function cannot be called at all).
func frameCost(locals uint64) int32 {
	c := frameBaseCost + localCost*min(locals, maxStackBytes)
	return int32(min(c, maxStackBytes+1))
}

// depthGlobal, peakGlobal, interruptFlag and fuelGlobal are the indices of the
// appended globals.
func (m *stackModule) depthGlobal() uint32   { return m.globals }
func (m *stackModule) peakGlobal() uint32    { return m.globals + 1 }
func (m *stackModule) interruptFlag() uint32 { return m.globals + 2 }
func (m *stackModule) fuelGlobal() uint32    { return m.globals + 3 }

// appendedGlobals is how many globals the rewrite appends.
const appendedGlobals = 4

// globalSection appends the two stack globals, the interrupt flag (mutable i32, 0) and
// the fuel (mutable i32, yieldEvery) to body (nil: none).
func (m *stackModule) globalSection(body []byte) []byte {
	count, rest := uint32(0), []byte(nil)
	if body != nil {
		var n int
		count, n, _ = readU32(body) // parsed before
		rest = body[n:]
	}
	out := appendU32(nil, count+appendedGlobals)
	out = append(out, rest...)
	for range appendedGlobals - 1 {
		out = append(out, typeI32, 0x01, opI32Const, 0x00, opEnd) // i32, mutable, i32.const 0
	}
	out = append(out, typeI32, 0x01, opI32Const)
	out = appendS32(out, yieldEvery)
	out = append(out, opEnd)
	return out
}

// exportSection appends to body (nil: none) the exports of the two stack globals, of the
// interrupt flag and of the start function.
func (m *stackModule) exportSection(body []byte) []byte {
	type export struct {
		name string
		kind byte // 0 function, 3 global
		idx  uint32
	}
	add := []export{{stackGlobal, 3, m.depthGlobal()}, {stackPeakGlobal, 3, m.peakGlobal()},
		{interruptGlobal, 3, m.interruptFlag()}}
	if m.hasStart {
		add = append(add, export{startExport, 0, m.start})
	}
	count, rest := uint32(0), []byte(nil)
	if body != nil {
		var n int
		count, n, _ = readU32(body) // the compiler rejects a bad count
		rest = body[n:]
	}
	out := appendU32(nil, count+uint32(len(add)))
	out = append(out, rest...)
	for _, e := range add {
		out = appendU32(out, uint32(len(e.name)))
		out = append(out, e.name...)
		out = append(out, e.kind)
		out = appendU32(out, e.idx)
	}
	return out
}

// codeSection returns the instrumented bodies.
func (m *stackModule) codeSection() []byte {
	out := appendU32(nil, uint32(len(m.bodies)))
	for _, b := range m.bodies {
		out = appendU32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// WebAssembly opcodes the rewrite inserts.
const (
	opUnreachable = 0x00
	opIf          = 0x04
	opEnd         = 0x0b
	opLocalGet    = 0x20
	opLocalTee    = 0x22
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Const    = 0x41
	opI32Eqz      = 0x45
	opDrop        = 0x1a
	opMemoryGrow  = 0x40
	opI32GtU      = 0x4b
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	blockEmpty    = 0x40
	typeI32       = 0x7f
)

// appendS32 appends v as signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// stackMeter reads and resets an instance's stack globals, and raises its interrupt
// flag when the call it serves must stop (arm, interrupt.go).
type stackMeter struct {
	depth, peak, interrupt api.MutableGlobal
	// stop and fired belong to the armed call (nil when not armed): stop unregisters
	// the raising of the flag, fired is closed once the flag is raised.
	stop  func() bool
	fired chan struct{}
}

// newStackMeter finds the hidden globals of an instance; a module without functions of
// its own (limitStack returns it unchanged) has none, and its meter reports nothing.
func newStackMeter(mod api.Module) *stackMeter {
	d, _ := mod.ExportedGlobal(stackGlobal).(api.MutableGlobal)
	p, _ := mod.ExportedGlobal(stackPeakGlobal).(api.MutableGlobal)
	i, _ := mod.ExportedGlobal(interruptGlobal).(api.MutableGlobal)
	if d == nil || p == nil || i == nil {
		return nil
	}
	return &stackMeter{depth: d, peak: p, interrupt: i}
}

// reset zeroes the stack cost and its peak before a call.
func (s *stackMeter) reset() {
	if s == nil {
		return
	}
	s.depth.Set(0)
	s.peak.Set(0)
}

// callTop makes a top-level call of fn on the instance, one the host makes on its own
// rather than from a host function the guest called: it zeroes the stack cost first (no
// guest frame is live, and the previous top-level call left its own function's charge
// behind, see above) and keeps the peak. Every host call into a guest goes through it
// except give's re-entrant alloc, which must start from the level of the guest call it
// serves.
func (in *instance) callTop(ctx context.Context, fn api.Function, params ...uint64) ([]uint64, error) {
	if in.stack != nil {
		in.stack.depth.Set(0)
	}
	return fn.Call(ctx, params...)
}

// exhausted reports whether the last call trapped on the stack budget.
func (s *stackMeter) exhausted() bool {
	return s != nil && uint32(s.depth.Get()) > maxStackBytes
}

// grew reports whether the stack cost peaked above poolStackBytes since the last reset.
func (s *stackMeter) grew() bool {
	return s != nil && uint32(s.peak.Get()) > poolStackBytes
}

// stackExhaustedMsg is the message of a call that exceeded its stack budget.
var stackExhaustedMsg = fmt.Sprintf("stack overflow: call stack exhausted (more than %s of frames, e.g. unbounded recursion)", formatBytes(maxStackBytes))
