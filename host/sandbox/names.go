package sandbox

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// The module rewrite (stack.go) keeps every function at its index, so the module's name
// section still names the right functions; nameSection only makes the names read as the
// source spells them:
//
//   - every function name is demangled (demangle.go); a function without a name keeps
//     none, and wazero's traces show it as "$i", its index, as in the module as written;
//   - the module name subsection is kept, and the other subsections are dropped (wazero
//     reads only the local names among them, and the traces do not use those).
//
// A module without a name section gets none.

// nameSection returns the body of the "name" custom section of the rewritten module
// from orig, the module's own name section body. A section that does not parse yields
// the names read before the fault.
func nameSection(orig []byte) []byte {
	moduleName, names := parseNames(orig)
	out := appendName(nil, "name")
	if moduleName != nil {
		out = append(out, 0)
		out = appendU32(out, uint32(len(moduleName)))
		out = append(out, moduleName...)
	}
	sub := appendU32(nil, uint32(len(names)))
	for _, idx := range slices.Sorted(maps.Keys(names)) { // the format wants them in order
		sub = appendName(appendU32(sub, idx), demangle(names[idx]))
	}
	out = append(out, 1)
	out = appendU32(out, uint32(len(sub)))
	return append(out, sub...)
}

// parseNames reads a name section body: its module name subsection (whole, nil when
// absent) and its function names. A malformed section yields what was read before the
// fault.
func parseNames(body []byte) (moduleName []byte, funcs map[uint32]string) {
	funcs = map[uint32]string{}
	if body == nil {
		return nil, funcs
	}
	r := &reader{b: body}
	if string(r.bytes(r.u32())) != "name" {
		return nil, funcs
	}
	for r.err == nil && r.pos < len(r.b) {
		id := r.byte()
		size := r.u32()
		content := r.bytes(size)
		if r.err != nil {
			break
		}
		switch id {
		case 0:
			moduleName = content
		case 1:
			s := &reader{b: content}
			for k := s.u32(); k > 0 && s.err == nil; k-- {
				idx := s.u32()
				name := string(s.bytes(s.u32()))
				if s.err == nil {
					funcs[idx] = name
				}
			}
		}
	}
	return moduleName, funcs
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

// isNameSection reports whether a custom section body is the "name" section.
func isNameSection(body []byte) bool {
	r := &reader{b: body}
	return string(r.bytes(r.u32())) == "name" && r.err == nil
}

// maxTraceFrames bounds the frames a task's error keeps from a trap's stack trace.
// wazero itself records at most 30 frames, one per guest call; the bound keeps a deep
// trace's head and guards against that changing.
const maxTraceFrames = 24

// traceOf returns the frames of the wasm stack trace in a wazero error, one per line, at
// most maxTraceFrames of them (then how many were left out); "" when the error has none.
func traceOf(err string) string {
	_, trace, ok := strings.Cut(err, "wasm stack trace:\n")
	if !ok {
		return ""
	}
	// The trace ends at the first empty line: after it wazero may add the host's own Go
	// stack (a host function's runtime error), which is not the plugin's business.
	trace, _, _ = strings.Cut(trace, "\n\n")
	var frames []string
	omitted, unrecorded := 0, false
	for _, line := range strings.Split(trace, "\n") {
		l := strings.TrimSpace(line)
		switch {
		case l == "":
			continue
		case strings.Contains(l, "omitted frames"): // wazero records at most 30 frames
			unrecorded = true
			continue
		case len(frames) == maxTraceFrames:
			omitted++
			continue
		}
		// wazero prefixes each frame with the module's name, "" for the kits' modules.
		frames = append(frames, "\t"+traceLine(strings.TrimPrefix(l, ".")))
	}
	switch {
	case omitted > 0:
		frames = append(frames, "\t… "+strconv.Itoa(omitted)+" more frames")
	case unrecorded:
		frames = append(frames, "\t… more frames (not recorded)")
	}
	return strings.Join(frames, "\n")
}

// maxTraceLine bounds one frame of a trace: function names come from the plugin.
const maxTraceLine = 256

// traceLine is one frame as a task's error shows it: control characters (a name with a
// newline would fake frames) escaped, at most maxTraceLine bytes.
func traceLine(l string) string {
	l = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, l)
	if len(l) > maxTraceLine {
		cut := maxTraceLine
		for cut > 0 && l[cut]&0xC0 == 0x80 {
			cut--
		}
		l = l[:cut] + "…"
	}
	return l
}
