package submit

import "unicode/utf8"

// deepestAt returns the offset of the first opening bracket that nests deeper than max,
// or -1. It scans bytes once, skipping strings, and never recurses, so it is safe on any
// input, valid JSON or not.
func deepestAt(data []byte, max int) int {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > max {
				return i
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// position converts a byte offset into data to a 1-based line and column (in
// characters), as editors show them.
func position(data []byte, offset int64) (line, col int) {
	if offset < 0 {
		offset = 0
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, start := 1, 0
	for i := 0; i < int(offset); i++ {
		if data[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCount(data[start:offset]) + 1
}
