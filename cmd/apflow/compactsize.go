package main

// compactSize is the size data would have as compact JSON: its length less the
// whitespace between tokens (space, tab, newline, carriage return outside strings).
// It sizes the store to a tree (memTableSize) whatever the tree's indentation. It does
// not check that data is JSON: any input gives a count between 0 and len(data).
func compactSize(data []byte) int {
	n := 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		n++
	}
	return n
}
