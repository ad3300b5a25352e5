package sandbox

import (
	"errors"
	"fmt"
)

// Function tables live in host memory outside the linear memory, so the memory limit
// does not cover them: a table declared with a huge minimum, or grown with table.grow,
// would let a plugin allocate gigabytes of host memory. Before compiling, the host
// rewrites the module's table section so that every table has a maximum of at most
// maxTableEntries (a table declared without a maximum gets that one), and rejects a
// module whose tables declare a larger minimum or whose tables together could exceed
// maxTotalTableEntries. Toolchains emit one table sized to the module's functions
// (thousands of entries), so real plugins are unaffected.
const (
	maxTableEntries      = 1 << 20 // 8 MiB of references per table
	maxTotalTableEntries = 1 << 22 // 32 MiB of references per instance
	tableSectionID       = 4
)

// errTableLimits is wrapped by capTables' refusals.
var errTableLimits = errors.New("table limits")

// capTables returns wasm with every table's maximum capped (see above). A binary it
// cannot parse is returned unchanged, for the compiler to reject with a precise error;
// so is one whose sections splitSections cannot split before its table section.
func capTables(wasm []byte) ([]byte, error) {
	if !hasHeader(wasm) {
		return wasm, nil
	}
	secs, _ := splitSections(wasm) // the sections before one it cannot split
	for _, s := range secs {
		if s.id != tableSectionID {
			continue
		}
		body, ok, err := capTableSection(s.body)
		if err != nil {
			return nil, err
		}
		if !ok {
			return wasm, nil
		}
		out := make([]byte, 0, len(wasm)+len(body)-len(s.body)+5)
		out = appendSection(append(out, wasm[:s.at]...), s.id, body)
		return append(out, wasm[s.end:]...), nil
	}
	return wasm, nil
}

// capTableSection rewrites a table section's body; ok is false when it cannot be parsed.
func capTableSection(b []byte) (out []byte, ok bool, err error) {
	count, n, ok := readU32(b)
	if !ok {
		return nil, false, nil
	}
	pos := n
	out = appendU32(nil, count)
	var total uint64
	for i := uint32(0); i < count; i++ {
		if pos+2 > len(b) {
			return nil, false, nil
		}
		refType, flag := b[pos], b[pos+1]
		pos += 2
		if flag != 0 && flag != 1 {
			return nil, false, nil // a form this runtime does not support; let compile say so
		}
		lo, n, ok := readU32(b[pos:])
		if !ok {
			return nil, false, nil
		}
		pos += n
		hi := uint32(maxTableEntries)
		if flag == 1 {
			m, n, ok := readU32(b[pos:])
			if !ok {
				return nil, false, nil
			}
			pos += n
			hi = min(m, hi)
		}
		if lo > maxTableEntries {
			return nil, true, fmt.Errorf("%w: table %d declares %d entries, at most %d allowed", errTableLimits, i, lo, maxTableEntries)
		}
		hi = max(hi, lo)
		total += uint64(hi)
		if total > maxTotalTableEntries {
			return nil, true, fmt.Errorf("%w: tables may grow to more than %d entries in all", errTableLimits, maxTotalTableEntries)
		}
		out = append(out, refType, 1)
		out = appendU32(out, lo)
		out = appendU32(out, hi)
	}
	if pos != len(b) {
		return nil, false, nil
	}
	return out, true, nil
}

// readU32 decodes an unsigned LEB128 u32, returning its length.
func readU32(b []byte) (v uint32, n int, ok bool) {
	var shift uint
	for n < len(b) && n < 5 {
		c := b[n]
		n++
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			if n == 5 && c > 0x0f {
				return 0, 0, false
			}
			return v, n, true
		}
		shift += 7
	}
	return 0, 0, false
}

// appendU32 appends v as unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
