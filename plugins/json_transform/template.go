package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// render renders every string in tmpl (recursively through objects and arrays) against ctx.
func render(tmpl any, ctx any) (any, error) {
	switch t := tmpl.(type) {
	case string:
		return renderString(t, ctx)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			r, err := render(v, ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			r, err := render(v, ctx)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	}
	return tmpl, nil
}

// renderString renders one template string. A string that is exactly one {{…}}
// expression yields the expression's value with its JSON type.
func renderString(s string, ctx any) (any, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	trimmed := strings.TrimSpace(s)
	if strings.HasPrefix(trimmed, "{{") && strings.HasSuffix(trimmed, "}}") &&
		strings.Count(trimmed, "{{") == 1 && strings.Count(trimmed, "}}") == 1 {
		return eval(trimmed[2:len(trimmed)-2], ctx)
	}
	var b strings.Builder
	rest := s
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		closeIdx := strings.Index(rest[open:], "}}")
		if closeIdx < 0 {
			return nil, fmt.Errorf("unclosed {{ in %q", s)
		}
		b.WriteString(rest[:open])
		v, err := eval(rest[open+2:open+closeIdx], ctx)
		if err != nil {
			return nil, err
		}
		b.WriteString(text(v))
		rest = rest[open+closeIdx+2:]
	}
}

// eval evaluates "path | filter:arg | …".
func eval(expr string, ctx any) (any, error) {
	parts := strings.Split(expr, "|")
	path := strings.TrimSpace(parts[0])
	if path == "" {
		return nil, fmt.Errorf("empty path in {{%s}}", expr)
	}
	v, found := get(ctx, path)
	if found && v == nil {
		found = false
	}
	for _, f := range parts[1:] {
		name, arg, _ := strings.Cut(strings.TrimSpace(f), ":")
		name = strings.TrimSpace(name)
		if name == "default" {
			if !found {
				v, found = literal(arg), true
			}
			continue
		}
		if !found {
			continue // the error below names the path; a later default may still supply it
		}
		var err error
		if v, err = apply(name, arg, v); err != nil {
			return nil, fmt.Errorf("{{%s}}: %w", strings.TrimSpace(expr), err)
		}
	}
	if !found {
		return nil, fmt.Errorf("path %q not found (add | default:VALUE to make it optional)", path)
	}
	return v, nil
}

func apply(name, arg string, v any) (any, error) {
	switch name {
	case "upper":
		return strings.ToUpper(text(v)), nil
	case "lower":
		return strings.ToLower(text(v)), nil
	case "trim":
		return strings.TrimSpace(text(v)), nil
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case "length":
		switch x := v.(type) {
		case string:
			return float64(utf8.RuneCountInString(x)), nil
		case []any:
			return float64(len(x)), nil
		case map[string]any:
			return float64(len(x)), nil
		}
		return nil, fmt.Errorf("length of a %s", kind(v))
	case "round":
		n, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("round of a %s", kind(v))
		}
		digits := 0
		if arg != "" {
			d, err := strconv.Atoi(strings.TrimSpace(arg))
			if err != nil || d < 0 || d > 12 {
				return nil, fmt.Errorf("round:%s: want 0..12 digits", arg)
			}
			digits = d
		}
		p := math.Pow(10, float64(digits))
		return math.Round(n*p) / p, nil
	case "join":
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("join of a %s", kind(v))
		}
		parts := make([]string, len(list))
		for i, e := range list {
			parts[i] = text(e)
		}
		return strings.Join(parts, arg), nil
	}
	return nil, fmt.Errorf("unknown filter %q (known: upper, lower, trim, json, length, round, join, default)", name)
}

// text renders a value inside a larger string: strings as is, anything else as JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// literal parses a default value: JSON when it parses, text otherwise.
func literal(s string) any {
	s = strings.TrimSpace(s)
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}
