package sandbox

import (
	"strconv"
	"strings"
)

// demangle returns a function name as its source spells it when the name is a Rust
// symbol in the legacy mangling (the default of the Rust toolchains the kits use):
// _ZN4core9panicking18panic_bounds_check17h9e099015b52d9b3bE reads
// core::panicking::panic_bounds_check. The trailing hash segment is dropped. Any other
// name, or a mangled one that does not decode, is returned as it is: a trace never loses
// a name to a decoding mistake.
func demangle(name string) string {
	body, ok := strings.CutPrefix(name, "_ZN")
	if !ok || !strings.HasSuffix(body, "E") {
		return name
	}
	body = body[:len(body)-1]
	var segs []string
	for body != "" {
		digits := 0
		for digits < len(body) && body[digits] >= '0' && body[digits] <= '9' {
			digits++
		}
		n, err := strconv.Atoi(body[:digits])
		if digits == 0 || err != nil || n == 0 || n > len(body)-digits {
			return name
		}
		seg, ok := demangleSegment(body[digits : digits+n])
		if !ok {
			return name
		}
		segs = append(segs, seg)
		body = body[digits+n:]
	}
	if len(segs) > 1 && isRustHash(segs[len(segs)-1]) {
		segs = segs[:len(segs)-1]
	}
	if len(segs) == 0 {
		return name
	}
	return strings.Join(segs, "::")
}

// isRustHash reports whether a segment is the hash rustc appends: h and 16 hex digits.
func isRustHash(s string) bool {
	if len(s) != 17 || s[0] != 'h' {
		return false
	}
	for _, c := range s[1:] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// rustEscapes are the named escapes of the legacy mangling; $uXX$ is any other character.
var rustEscapes = map[string]string{
	"SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ",",
}

// demangleSegment decodes one identifier of printable ASCII: a leading "_$" is "$", "$XX$" an escape and
// ".." a path separator (in generic arguments).
func demangleSegment(s string) (string, bool) {
	if strings.HasPrefix(s, "_$") {
		s = s[1:]
	}
	var b strings.Builder
	for s != "" {
		switch {
		case strings.HasPrefix(s, ".."):
			b.WriteString("::")
			s = s[2:]
		case s[0] == '$':
			end := strings.IndexByte(s[1:], '$')
			if end < 0 {
				return "", false
			}
			esc := s[1 : 1+end]
			if r, ok := rustEscapes[esc]; ok {
				b.WriteString(r)
			} else if hex, ok := strings.CutPrefix(esc, "u"); ok {
				c, err := strconv.ParseUint(hex, 16, 32)
				if err != nil || c < 0x20 || c > 0x10ffff {
					return "", false
				}
				b.WriteRune(rune(c))
			} else {
				return "", false
			}
			s = s[end+2:]
		case s[0] < 0x20 || s[0] >= 0x7f: // mangled names are printable ASCII
			return "", false
		default:
			b.WriteByte(s[0])
			s = s[1:]
		}
	}
	return b.String(), true
}
