package main

import (
	"fmt"
	"strconv"
	"strings"
)

// segments splits a dotted path; "." and "" are the whole document (no segments).
func segments(path string) []string {
	if path == "." || path == "" {
		return nil
	}
	return strings.Split(path, ".")
}

// get returns the value at path in doc.
func get(doc any, path string) (any, bool) {
	cur := doc
	for _, seg := range segments(path) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// set stores v at path in doc, creating objects along the way, and returns the new
// document (which differs from doc only when path is the whole document).
func set(doc any, path string, v any) (any, error) {
	segs := segments(path)
	if len(segs) == 0 {
		return v, nil
	}
	if doc == nil {
		doc = map[string]any{}
	}
	cur := doc
	for i, seg := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[seg] = v
				return doc, nil
			}
			next := c[seg]
			if next == nil { // missing or null: create the object
				next = map[string]any{}
				c[seg] = next
			}
			cur = next
		case []any:
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 || idx >= len(c) {
				return nil, fmt.Errorf("segment %q: index out of range for an array of %d", seg, len(c))
			}
			if last {
				c[idx] = v
				return doc, nil
			}
			if c[idx] == nil {
				c[idx] = map[string]any{}
			}
			cur = c[idx]
		default:
			return nil, fmt.Errorf("segment %q: cannot descend into a %s", seg, kind(cur))
		}
	}
	return doc, nil
}

// del removes path from doc; a missing path is not an error. Removing an array element
// shifts the following ones.
func del(doc any, path string) (any, error) {
	segs := segments(path)
	if len(segs) == 0 {
		return nil, nil
	}
	parentPath := strings.Join(segs[:len(segs)-1], ".")
	parent, ok := get(doc, parentPath)
	if !ok {
		return doc, nil
	}
	last := segs[len(segs)-1]
	switch p := parent.(type) {
	case map[string]any:
		delete(p, last)
	case []any:
		idx, err := strconv.Atoi(last)
		if err != nil || idx < 0 || idx >= len(p) {
			return doc, nil
		}
		shorter := append(append([]any{}, p[:idx]...), p[idx+1:]...)
		return set(doc, parentPath, shorter)
	}
	return doc, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}
