package sandbox

import (
	"errors"
	"fmt"
)

// A module's declared lengths are checked against its bytes before wazero decodes it.
//
// wazero's decoder allocates each vector at the length the module declares, before it
// reads the items: a 217-byte module declaring 672 million globals made it ask for 27 GB,
// and the process ended (Go's "out of memory" is fatal; no recover turns it into a
// refusal). The same holds for every section's vectors, the byte strings of names and
// data segments, the name section's maps, and a function's locals, which it allocates
// at their declared total (up to 4 GiB) and then appends one by one. A plugin file, or
// a module sent to `apflow plugins add --server`, could so end the host.
//
// checkBounds walks every section wazero decodes and refuses a module in which a count
// or a length exceeds the bytes left in its section (each item takes at least one
// byte), in which a function declares more than maxLocals locals, or whose functions
// declare more locals in all than maxLocals plus one per byte of code (validating a
// local costs the host about 60 bytes; real modules declare one per 50–100 bytes of
// code). A valid module always passes the first check; the second is the limit every
// browser enforces. It reads exactly the grammar of WebAssembly 2.0 and refuses
// anything else, and a section it does not read to its end: wazero reads each section
// from the whole module, with a grammar wider than 2.0 (typed references, tables with
// an initialiser), so bytes read differently by the two would give wazero counts
// checkBounds never saw. All such modules are invalid under the runtime's features.

// maxLocals is the most locals one function may declare: the implementation limit of
// the WebAssembly JavaScript API, which every browser enforces, so that a toolchain
// does not emit more.
const maxLocals = 50000

// errBounds is wrapped by checkBounds' refusals.
var errBounds = errors.New("malformed module")

// name section subsections whose contents wazero decodes.
const (
	nameModule    = 0
	nameFunctions = 1
	nameLocals    = 2
)

// checkBounds reports whether every length wasm declares fits its bytes (see above),
// section by section in order, as wazero reads them. A binary without the WebAssembly
// header is left to wazero, which refuses it.
func checkBounds(wasm []byte) error {
	if !hasHeader(wasm) {
		return nil
	}
	secs, splitErr := splitSections(wasm) // a section cut short is refused after those before it
	for _, s := range secs {
		r := &reader{b: s.body}
		if err := checkSection(r, s.id); err != nil {
			return fmt.Errorf("%w: %s section: %v", errBounds, sectionName(s.id), err)
		}
		if r.err != nil || (s.id != secCustom && r.pos != len(r.b)) {
			return fmt.Errorf("%w: %s section: a count or length exceeds the bytes left, an entry is cut short or not WebAssembly 2.0, or the section does not end where its entries do (at byte %d of %d)",
				errBounds, sectionName(s.id), r.pos, len(r.b))
		}
	}
	if splitErr != nil {
		return fmt.Errorf("%w: %v", errBounds, splitErr)
	}
	return nil
}

// checkSection reads the section id's body, every count through r.count. It returns
// the errors r does not record.
func checkSection(r *reader, id byte) error {
	switch id {
	case secCustom:
		if string(r.bytes(r.count())) == "name" && r.err == nil {
			return checkNameSection(r.b[r.pos:])
		}
	case secType:
		for range r.count() {
			r.funcType()
		}
	case secImport:
		for range r.count() {
			r.bytes(r.count())
			r.bytes(r.count())
			r.importDesc()
		}
	case secFunction:
		for range r.count() {
			r.u32()
		}
	case tableSectionID:
		for range r.count() {
			r.refType()
			r.limits()
		}
	case secMemory:
		for range r.count() {
			r.limits()
		}
	case secGlobal:
		for range r.count() {
			r.valType()
			r.byte()
			r.constExpr()
		}
	case secExport:
		for range r.count() {
			r.bytes(r.count())
			r.byte()
			r.u32()
		}
	case secStart, secDataCount:
		r.u32()
	case secElement:
		for range r.count() {
			r.elementSegment()
		}
	case secCode:
		var total uint64
		for i := range r.count() {
			n, err := checkLocals(r.bytes(r.count()))
			if err != nil {
				return fmt.Errorf("code entry %d: %w", i, err)
			}
			if total += n; total > maxLocals+uint64(len(r.b)) {
				return fmt.Errorf("more than %d locals declared in all, %d and one per byte of code", maxLocals+len(r.b), maxLocals)
			}
		}
	case secData:
		for range r.count() {
			r.dataSegment()
		}
	}
	return nil
}

// constExpr reads a constant expression of WebAssembly 2.0, up to and with its end: a
// constant (v128.const included), global.get, ref.null or ref.func.
func (r *reader) constExpr() {
	for r.err == nil {
		at := r.pos
		op := r.byte()
		switch op {
		case opEnd:
			return
		case 0x41, 0x42, 0x43, 0x44, 0x23, 0xd0, 0xd2: // i32/i64/f32/f64.const, global.get, ref.null, ref.func
		case opPrefixFD:
			if r.u32() != 12 { // v128.const
				r.err = errUnparsed
				return
			}
			r.bytes(16)
			continue
		default:
			r.err = errUnparsed
			return
		}
		if r.immediates(opImm[op], 0, uint32(op), at) != nil {
			r.err = errUnparsed
		}
	}
}

// elementSegment reads an element segment, whichever of its eight forms (the flags).
func (r *reader) elementSegment() {
	flags := r.u32()
	if flags > 7 {
		r.err = errUnparsed
		return
	}
	if flags&2 != 0 && flags&1 == 0 { // an explicit table index
		r.u32()
	}
	if flags&1 == 0 { // active: an offset
		r.constExpr()
	}
	switch {
	case flags&3 != 0 && flags&4 == 0:
		r.expect(0x00) // the element kind: funcref
	case flags&3 != 0:
		r.refType()
	}
	for range r.count() {
		if flags&4 != 0 {
			r.constExpr()
		} else {
			r.u32()
		}
	}
}

// dataSegment reads a data segment: active on memory 0, passive, or active on a memory
// index.
func (r *reader) dataSegment() {
	switch r.u32() {
	case 0:
		r.constExpr()
	case 1:
	case 2:
		r.u32()
		r.constExpr()
	default:
		r.err = errUnparsed
		return
	}
	r.bytes(r.count())
}

// checkLocals checks a code entry's local declarations and returns how many locals they
// declare: each count within the entry's bytes would not bound them (a declaration of a
// billion locals takes six), so their total is held to maxLocals.
func checkLocals(body []byte) (uint64, error) {
	r := &reader{b: body}
	var total uint64
	for range r.count() {
		total += uint64(r.u32())
		r.valType()
		if total > maxLocals {
			return 0, fmt.Errorf("more than %d locals declared", maxLocals)
		}
	}
	if r.err != nil {
		return 0, errors.New("its local declarations are cut short")
	}
	return total, nil
}

// checkNameSection checks the subsections of a name section whose contents wazero
// decodes: the module's name, the functions' names and the locals' names. wazero reads
// those from the module's bytes without regard to the subsection's declared length, so
// each must fill its subsection exactly, as it does in a valid module: what wazero
// reads is then what was checked.
func checkNameSection(b []byte) error {
	r := &reader{b: b}
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		sub := &reader{b: r.bytes(r.count())}
		switch id {
		case nameModule:
			sub.bytes(sub.count())
		case nameFunctions:
			sub.nameMap()
		case nameLocals:
			for range sub.count() {
				sub.u32()
				sub.nameMap()
			}
		default:
			continue // skipped by its length
		}
		if sub.err != nil || sub.pos != len(sub.b) {
			return fmt.Errorf("name subsection %d: its contents do not fill its %d bytes", id, len(sub.b))
		}
	}
	if r.err != nil {
		return errors.New("a name subsection is longer than the bytes left")
	}
	return nil
}

// nameMap reads a vector of (index, name).
func (r *reader) nameMap() {
	for range r.count() {
		r.u32()
		r.bytes(r.count())
	}
}

// sectionNames name the sections in messages.
var sectionNames = map[byte]string{
	secCustom: "custom", secType: "type", secImport: "import", secFunction: "function",
	tableSectionID: "table", secMemory: "memory", secGlobal: "global", secExport: "export",
	secStart: "start", secElement: "element", secCode: "code", secData: "data",
	secDataCount: "data count", secTag: "tag",
}

// sectionName names section id in messages.
func sectionName(id byte) string {
	if n, ok := sectionNames[id]; ok {
		return n
	}
	return fmt.Sprintf("id %d", id)
}
