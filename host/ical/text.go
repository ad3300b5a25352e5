package ical

import (
	"strings"
	"unicode/utf8"
)

// maxLine is the longest content line in octets, CRLF excluded (RFC 5545 §3.1).
const maxLine = 75

// Fold splits a content line into lines of at most 75 octets, each continuation
// starting with a space, joined by CRLF, without splitting a UTF-8 sequence. The result
// has no trailing CRLF.
func Fold(line string) string {
	if len(line) <= maxLine {
		return line
	}
	var b strings.Builder
	limit := maxLine
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		b.WriteString(line[:cut])
		b.WriteString("\r\n ")
		line = line[cut:]
		limit = maxLine - 1 // the leading space counts
	}
	b.WriteString(line)
	return b.String()
}

// Unfold reverses Fold: it joins every CRLF followed by a space or tab.
func Unfold(s string) string {
	s = strings.ReplaceAll(s, "\r\n ", "")
	return strings.ReplaceAll(s, "\r\n\t", "")
}

// Escape returns s as an RFC 5545 TEXT value: backslash, semicolon and comma escaped,
// line breaks (CRLF, LF, CR) as \n, other control characters but tab dropped, invalid
// UTF-8 replaced by U+FFFD.
func Escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == ';' || r == ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Unescape reverses Escape (\n as LF).
func Unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == 'n' || s[i] == 'N' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
