package sandbox

import (
	"cmp"
	"slices"
)

// A module's data segments, merged. Go's linker writes a module's initialized data as
// one active segment for each run of bytes between runs of more than eight zeros: the
// Go echo has 39,906 segments for 994 KB of data, 18 zeros apart for the most part.
// wazero decodes each segment into structures of its own, keeps them with the compiled
// module, and copies them one by one into every new instance's memory. So the rewrite
// merges such segments into as few as it can (the Go echo's into 13), filling each gap
// of at most maxDataGap bytes with the zeros a new memory holds there anyway
// (docs/performance.md, thirty-ninth pass).
//
// The merged module means exactly what the module meant, because the merge is made only
// when:
//
//   - the memory is the module's own, not imported: a new instance's memory is all
//     zeros, so zeros written into a gap change nothing;
//   - every segment is active on memory 0 at a constant offset (i32.const), so where
//     each one goes is known before instantiation;
//   - sorted by offset, no two segments overlap, so the order they are written in
//     (where a later one would win) does not matter;
//   - the module has no data count section: validation requires one of a module whose
//     code names a segment by its index (memory.init, data.drop), which the merge
//     changes.
//
// A segment out of the memory's bounds fails instantiation before the merge and after
// it, since a merged segment ends where the last of its segments ends.
//
// mergeData runs on a module already validated, after limitStack. It returns wasm
// itself when it merges nothing, and it parses any bytes without panicking
// (FuzzRewriteParses).
func mergeData(wasm []byte) []byte {
	if !hasHeader(wasm) {
		return wasm
	}
	secs, err := splitSections(wasm)
	if err != nil {
		return wasm
	}
	data := -1
	for i, s := range secs {
		switch {
		case s.id == secDataCount, s.id == secImport && importsMemory(s.body):
			return wasm
		case s.id == secData:
			data = i
		}
	}
	if data < 0 {
		return wasm
	}
	segs, ok := activeSegments(secs[data].body)
	if !ok || len(segs) < 2 {
		return wasm
	}
	merged, ok := mergeSegments(segs, uint64(len(secs[data].body)))
	if !ok || len(merged) == len(segs) {
		return wasm
	}
	s, body := secs[data], dataSection(merged)
	out := make([]byte, 0, len(wasm)-len(s.body)+len(body)+5)
	out = append(out, wasm[:s.at]...)
	out = appendSection(out, secData, body)
	return append(out, wasm[s.end:]...)
}

// maxDataGap is the largest gap between two segments that the merge fills with zeros. A
// segment's own encoding takes 5 to 13 bytes, and wazero holds about a hundred bytes
// of memory for each: 64 zeros cost about as much, and take the Go echo's segments from
// 39,906 to 13 (390 at 24 bytes, 37,685 at 16) for 714 KB of zeros.
const maxDataGap = 64

// minSegmentLen is the fewest bytes an active segment at an i32.const offset takes:
// its flag, the opcode, the offset, the end and its length.
const minSegmentLen = 5

// segment is an active data segment of memory 0: its offset and its bytes.
type segment struct {
	offset uint32
	init   []byte
}

// end is the segment's end, past the 32-bit offsets when it runs beyond them.
func (s segment) end() uint64 { return uint64(s.offset) + uint64(len(s.init)) }

// activeSegments reads a data section whose segments are all active on memory 0 at an
// i32.const offset; ok is false for any other section, or one it cannot parse.
func activeSegments(body []byte) (segs []segment, ok bool) {
	r := &reader{b: body}
	n := r.count()
	segs = make([]segment, 0, min(n, uint32(len(body)/minSegmentLen))) // a count it cannot hold fails below
	for range n {
		if r.u32() != 0 || r.byte() != opI32Const {
			return nil, false
		}
		off := r.s32()
		r.expect(opEnd)
		init := r.bytes(r.count())
		if r.err != nil {
			return nil, false
		}
		segs = append(segs, segment{offset: uint32(off), init: init})
	}
	return segs, r.err == nil && r.pos == len(r.b)
}

// mergeSegments sorts segs by offset (in place) and merges each run whose gaps are at
// most maxDataGap bytes into one segment, filling at most zeros bytes of gaps in all (so
// that the merge cannot make a module's data much larger than it is). ok is false when
// two segments overlap.
func mergeSegments(segs []segment, zeros uint64) (merged []segment, ok bool) {
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.offset, b.offset) })
	for i := 1; i < len(segs); i++ {
		if uint64(segs[i].offset) < segs[i-1].end() {
			return nil, false
		}
	}
	for start := 0; start < len(segs); {
		end, to := start+1, segs[start].end()
		for ; end < len(segs); end++ {
			gap := uint64(segs[end].offset) - to
			if gap > maxDataGap || gap > zeros {
				break
			}
			zeros -= gap
			to = segs[end].end()
		}
		merged = append(merged, joinSegments(segs[start:end], to))
		start = end
	}
	return merged, true
}

// joinSegments returns run, segments sorted by offset that do not overlap and end at
// to, as one segment, zeros between them.
func joinSegments(run []segment, to uint64) segment {
	if len(run) == 1 {
		return run[0]
	}
	from := run[0].offset
	init := make([]byte, to-uint64(from))
	for _, s := range run {
		copy(init[s.offset-from:], s.init)
	}
	return segment{offset: from, init: init}
}

// dataSection encodes segs as a data section's body.
func dataSection(segs []segment) []byte {
	var size int
	for _, s := range segs {
		size += 13 + len(s.init)
	}
	b := appendU32(make([]byte, 0, size+5), uint32(len(segs)))
	for _, s := range segs {
		b = appendS32(append(b, 0, opI32Const), int32(s.offset))
		b = appendU32(append(b, opEnd), uint32(len(s.init)))
		b = append(b, s.init...)
	}
	return b
}

// importsMemory reports whether an import section imports a memory (or cannot be
// parsed, which leaves the module as it is too).
func importsMemory(body []byte) bool {
	r := &reader{b: body}
	for range r.count() {
		r.bytes(r.count())
		r.bytes(r.count())
		if r.importDesc() == importMemory {
			return true
		}
	}
	return r.err != nil
}

// s32 reads a signed LEB128 of at most 32 bits, as i32.const holds.
func (r *reader) s32() int32 {
	var v int64
	var shift uint
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				r.err = errUnparsed
				return 0
			}
			return int32(v)
		}
	}
	r.err = errUnparsed
	return 0
}
