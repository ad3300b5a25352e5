package sandbox

import (
	"strconv"
	"strings"
)

// The stack-budget rewrite (stack.go) moves every defined function i to index i+N and
// puts a wrapper at i, so the module's name section, which names function i, would name
// the wrapper and leave the body that traps unnamed. renameFunctions rewrites the name
// section so that stack traces read as the module was written:
//
//   - the body at i+N takes function i's name, demangled (demangle.go), or "$i" (the
//     original index, the form wazero prints for unnamed functions) when it has none;
//   - every wrapper is named wrapperName, and traceOf drops the wrapper frames;
//   - imported functions keep their names, the module name subsection is kept, and the
//     subsections that address functions' locals or labels (which the wrappers shift)
//     are dropped.
//
// A module without a name section gets one, so that its traces show original indices.

// wrapperName names the rewrite's wrappers in the name section.
const wrapperName = "apflow:stack-budget"

// nameSection returns the body of the "name" custom section of the rewritten module.
// orig is the module's own name section body (nil when it has none); a section that
// does not parse is replaced as if absent.
func (m *stackModule) nameSection(orig []byte) []byte {
	moduleName, names := parseNames(orig)
	n := uint32(len(m.funcTypes))
	var funcs []byte
	count := uint32(0)
	for i := uint32(0); i < m.funcImports; i++ {
		if name, ok := names[i]; ok {
			funcs = appendName(appendU32(funcs, i), name)
			count++
		}
	}
	for i := uint32(0); i < n; i++ {
		funcs = appendName(appendU32(funcs, m.funcImports+i), wrapperName)
		count++
	}
	for i := uint32(0); i < n; i++ {
		idx := m.funcImports + i
		name, ok := names[idx]
		if !ok {
			name = "$" + strconv.FormatUint(uint64(idx), 10)
		}
		name = demangle(name)
		funcs = appendName(appendU32(funcs, idx+n), name)
		count++
	}
	out := appendName(nil, "name")
	if moduleName != nil {
		out = append(out, 0)
		out = appendU32(out, uint32(len(moduleName)))
		out = append(out, moduleName...)
	}
	sub := append(appendU32(nil, count), funcs...)
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
// wazero itself records at most 30 frames, two per guest call here (wrapper and body),
// so about 15 of the plugin's frames reach it; the bound guards against that changing.
const maxTraceFrames = 24

// traceOf returns the frames of the wasm stack trace in a wazero error, without the
// rewrite's wrappers, one per line, at most maxTraceFrames of them (then how many were
// left out); "" when the error has none.
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
		case l == "" || strings.Contains(l, "."+wrapperName+"("):
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
