package sandbox

import "fmt"

// The instruction walker of the module rewrite (stack.go, interrupt.go): it decodes every
// instruction of a function body, immediates included, to find the loops (where an
// interrupt check goes) and the calls (after which the caller's stack level is restored).
//
// It knows exactly the instruction set of the runtime's features (coreFeatures: the
// WebAssembly 2.0 core: MVP, sign extension, non-trapping float-to-int, multi-value,
// bulk memory, reference types and 128-bit SIMD). An opcode outside it (threads, tail
// calls, exceptions, relaxed SIMD, GC...) is an error: the module is refused rather
// than run without checks. The bodies it reads were validated first (compileChecked),
// so it needs to find instruction boundaries only, not check types.

// errOpcode reports an instruction the walker does not know.
type errOpcode struct {
	prefix byte // 0 for one-byte opcodes
	op     uint32
	at     int // offset in the body
}

func (e *errOpcode) Error() string {
	if e.prefix != 0 {
		return fmt.Sprintf("unknown instruction 0x%02x %d at body offset %d", e.prefix, e.op, e.at)
	}
	return fmt.Sprintf("unknown instruction 0x%02x at body offset %d", e.op, e.at)
}

// Immediate layouts of instructions.
const (
	immNone      = iota + 1
	immBlockType // block, loop, if: 0x40, a value type or an s33 type index
	immU32       // one u32 index (br, call, local.*, global.*, table.get/set, ref.func, memory.size/grow)
	immU32x2     // two u32 (call_indirect: type, table)
	immBrTable   // vec(u32) then u32
	immSelectT   // vec(value type)
	immMemArg    // align u32, offset u32
	immS32       // i32.const
	immS64       // i64.const
	immF32       // 4 bytes
	immF64       // 8 bytes
	immRefType   // ref.null: one reference type
	immPrefixFC  // misc prefix: u32 sub-opcode, see fcImm
	immPrefixFD  // SIMD prefix: u32 sub-opcode, see fdImm
)

const (
	opLoop         = 0x03
	opCall         = 0x10
	opCallIndirect = 0x11
	opPrefixFC     = 0xfc
	opPrefixFD     = 0xfd
)

// opImm is the immediate layout of each one-byte opcode, 0 for an unknown opcode.
var opImm = func() (t [256]byte) {
	for _, op := range []byte{
		0x00, 0x01, // unreachable, nop
		0x05, 0x0b, // else, end
		0x0f,       // return
		0x1a, 0x1b, // drop, select
		0xd1, // ref.is_null
	} {
		t[op] = immNone
	}
	for op := 0x45; op <= 0xc4; op++ { // numeric instructions, sign extension included
		t[op] = immNone
	}
	for _, op := range []byte{0x02, 0x03, 0x04} {
		t[op] = immBlockType
	}
	for _, op := range []byte{
		0x0c, 0x0d, // br, br_if
		0x10,                               // call
		0x20, 0x21, 0x22, 0x23, 0x24, 0x25, // local.get/set/tee, global.get/set, table.get
		0x26,       // table.set
		0x3f, 0x40, // memory.size, memory.grow (memory index)
		0xd2, // ref.func
	} {
		t[op] = immU32
	}
	t[0x11] = immU32x2 // call_indirect
	t[0x0e] = immBrTable
	t[0x1c] = immSelectT
	for op := 0x28; op <= 0x3e; op++ { // loads and stores
		t[op] = immMemArg
	}
	t[0x41], t[0x42], t[0x43], t[0x44] = immS32, immS64, immF32, immF64
	t[0xd0] = immRefType
	t[opPrefixFC] = immPrefixFC
	t[opPrefixFD] = immPrefixFD
	return t
}()

// fcImm is the immediate layout of the 0xFC sub-opcodes 0–17: non-trapping
// float-to-int (0–7), then bulk memory and table instructions.
var fcImm = [18]byte{
	immNone, immNone, immNone, immNone, immNone, immNone, immNone, immNone, // trunc_sat
	immU32x2, // 8 memory.init: data, memory
	immU32,   // 9 data.drop
	immU32x2, // 10 memory.copy: memory, memory
	immU32,   // 11 memory.fill: memory
	immU32x2, // 12 table.init: element, table
	immU32,   // 13 elem.drop
	immU32x2, // 14 table.copy: table, table
	immU32,   // 15 table.grow
	immU32,   // 16 table.size
	immU32,   // 17 table.fill
}

// SIMD immediate layouts beyond those of opImm.
const (
	immV128       = immPrefixFD + 1 + iota // v128.const: 16 bytes
	immShuffle                             // i8x16.shuffle: 16 lane indices
	immLane                                // extract/replace_lane: one lane index
	immMemArgLane                          // load/store_lane: memarg then a lane index
)

// fdImm returns the immediate layout of the SIMD (0xFD) sub-opcode op, 0 if unknown.
// Sub-opcodes above 255 (relaxed SIMD) are not part of the runtime's features.
func fdImm(op uint32) byte {
	switch {
	case op <= 11: // v128.load*, v128.load*_splat, v128.store
		return immMemArg
	case op == 12:
		return immV128
	case op == 13:
		return immShuffle
	case op <= 20: // swizzle, splats
		return immNone
	case op <= 34: // extract_lane, replace_lane
		return immLane
	case op <= 83: // comparisons, bitwise, any_true
		return immNone
	case op <= 91: // load*_lane, store*_lane
		return immMemArgLane
	case op <= 93: // v128.load32_zero, v128.load64_zero
		return immMemArg
	case op <= 255: // arithmetic and conversions, none with immediates
		return immNone
	}
	return 0
}

// walkBody calls visit for each loop, call and call_indirect in expr (a function body's
// expression, after its locals), in order, with its opcode and the offset just after its
// immediates (for a loop: after its block type, where its body starts). It fails on an
// instruction it does not know or a body cut short; visit may then have been called for
// some instructions already.
func walkBody(expr []byte, visit func(op byte, after int)) error {
	r := &reader{b: expr}
	for r.pos < len(r.b) && r.err == nil {
		at := r.pos
		op := r.byte()
		if err := r.immediates(opImm[op], 0, uint32(op), at); err != nil {
			return err
		}
		if (op == opLoop || op == opCall || op == opCallIndirect) && r.err == nil {
			visit(op, r.pos)
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(expr) == 0 || expr[len(expr)-1] != opEnd {
		return errUnparsed
	}
	return nil
}

// immediates skips the immediates of layout imm (of opcode op, prefix 0 or 0xFC/0xFD,
// at offset at).
func (r *reader) immediates(imm, prefix byte, op uint32, at int) error {
	switch imm {
	case immNone:
	case immBlockType:
		r.blockType()
	case immU32:
		r.u32()
	case immU32x2:
		r.u32()
		r.u32()
	case immBrTable:
		for range r.count() {
			r.u32()
		}
		r.u32()
	case immSelectT:
		for range r.count() {
			r.valType()
		}
	case immMemArg:
		r.memArg()
	case immS32:
		r.leb(5)
	case immS64:
		r.leb(10)
	case immF32:
		r.bytes(4)
	case immF64:
		r.bytes(8)
	case immRefType:
		r.refType()
	case immPrefixFC:
		sub := r.u32()
		if r.err == nil && sub >= uint32(len(fcImm)) {
			return &errOpcode{opPrefixFC, sub, at}
		}
		return r.immediates(fcImm[sub], opPrefixFC, sub, at)
	case immPrefixFD:
		sub := r.u32()
		if r.err == nil && fdImm(sub) == 0 {
			return &errOpcode{opPrefixFD, sub, at}
		}
		return r.immediates(fdImm(sub), opPrefixFD, sub, at)
	case immV128, immShuffle:
		r.bytes(16)
	case immLane:
		r.byte()
	case immMemArgLane:
		r.memArg()
		r.byte()
	default:
		return &errOpcode{prefix, op, at}
	}
	return r.err
}

// memArg skips a memory argument: alignment, then offset. An alignment with bit 6 set
// (multiple memories, not enabled) is refused.
func (r *reader) memArg() {
	if align := r.u32(); align >= 0x40 {
		r.err = errUnparsed
	}
	r.u32()
}

// blockType skips a block type: 0x40 (none), a value type, or a type index as a
// non-negative s33.
func (r *reader) blockType() {
	if r.err != nil || r.pos >= len(r.b) {
		r.err = errUnparsed
		return
	}
	switch r.b[r.pos] {
	case blockEmpty, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.pos++
		return
	}
	r.leb(5)
	if r.err == nil && r.b[r.pos-1]&0x40 != 0 { // negative: not a type index
		r.err = errUnparsed
	}
}

// leb skips a signed or unsigned LEB128 of at most max bytes.
func (r *reader) leb(max int) {
	for i := 0; i < max; i++ {
		if r.byte()&0x80 == 0 || r.err != nil {
			return
		}
	}
	r.err = errUnparsed
}
