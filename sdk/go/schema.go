package apflow

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SchemaDraft is the JSON Schema dialect of every derived schema.
const SchemaDraft = "https://json-schema.org/draft/2020-12/schema"

// SchemaOf derives the JSON Schema (draft 2020-12) of T's JSON encoding. See [Executor]
// for the mapping and the struct tags it reads.
func SchemaOf[T any]() (json.RawMessage, error) {
	return deriveSchema(reflect.TypeFor[T]())
}

func deriveSchema(t reflect.Type) (json.RawMessage, error) {
	d := deriver{visiting: map[reflect.Type]bool{}}
	s, err := d.schema(t)
	if err != nil {
		return nil, err
	}
	s["$schema"] = SchemaDraft
	return json.Marshal(s)
}

// executorSchema is the schema an executor reports for its In or Out type: the derived
// schema, or nil when that schema constrains nothing (any, interface types,
// json.RawMessage, types with their own MarshalJSON). nil is what get_input_schema and
// get_output_schema return for "no schema" (docs/abi.md): the host then accepts any input,
// and dependency injection takes its schema-less branch (flat merge, docs/semantics.md rule 11) instead
// of keeping the result under the producer's task id.
func executorSchema(t reflect.Type) (json.RawMessage, error) {
	d := deriver{visiting: map[reflect.Type]bool{}}
	s, err := d.schema(t)
	if err != nil || len(s) == 0 {
		return nil, err
	}
	s["$schema"] = SchemaDraft
	return json.Marshal(s)
}

type deriver struct {
	visiting map[reflect.Type]bool
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	numberType        = reflect.TypeFor[json.Number]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

func (d *deriver) schema(t reflect.Type) (map[string]any, error) {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case rawMessageType:
		return map[string]any{}, nil
	case numberType:
		return map[string]any{"type": "number"}, nil
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		if implements(t, jsonMarshalerType) {
			return map[string]any{}, nil // custom encoding: the shape is unknown
		}
		if implements(t, textMarshalerType) {
			return map[string]any{"type": "string"}, nil
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Interface:
		return map[string]any{}, nil
	case reflect.Pointer:
		s, err := d.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		if typ, ok := s["type"].(string); ok {
			s["type"] = []any{typ, "null"}
		}
		return s, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return map[string]any{"type": "string", "contentEncoding": "base64"}, nil
		}
		items, err := d.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		s := map[string]any{"type": "array", "items": items}
		if t.Kind() == reflect.Array {
			s["minItems"], s["maxItems"] = t.Len(), t.Len()
		}
		return s, nil
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			if !implements(t.Key(), textMarshalerType) {
				return nil, fmt.Errorf("map key type %s has no JSON encoding", t.Key())
			}
		}
		vals, err := d.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		s := map[string]any{"type": "object"}
		if len(vals) > 0 {
			s["additionalProperties"] = vals
		}
		return s, nil
	case reflect.Struct:
		if d.visiting[t] {
			return map[string]any{}, nil // recursive type: accept anything below this point
		}
		d.visiting[t] = true
		defer delete(d.visiting, t)
		s := map[string]any{"type": "object"}
		props := map[string]any{}
		var required []string
		if err := d.fields(t, props, &required); err != nil {
			return nil, err
		}
		if len(props) > 0 {
			s["properties"] = props
		}
		if len(required) > 0 {
			sort.Strings(required)
			s["required"] = required
		}
		return s, nil
	default:
		return nil, fmt.Errorf("type %s (%s) has no JSON encoding", t, t.Kind())
	}
}

// fields adds the JSON fields of struct t, flattening embedded structs the way
// encoding/json does.
func (d *deriver) fields(t reflect.Type, props map[string]any, required *[]string) error {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && f.Tag.Get("json") == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if err := d.fields(et, props, required); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := props[name]; dup {
			continue // the shallower field wins, as in encoding/json
		}
		s, err := d.schema(f.Type)
		if err != nil {
			return fmt.Errorf("field %s.%s: %w", t.Name(), f.Name, err)
		}
		req, err := applyTags(s, f)
		if err != nil {
			return fmt.Errorf("field %s.%s: %w", t.Name(), f.Name, err)
		}
		props[name] = s
		if req {
			*required = append(*required, name)
		}
	}
	return nil
}

// applyTags applies the `description` and `jsonschema` struct tags of f to s and reports
// whether the field is required.
func applyTags(s map[string]any, f reflect.StructField) (required bool, err error) {
	if desc := f.Tag.Get("description"); desc != "" {
		s["description"] = desc
	}
	tag, ok := f.Tag.Lookup("jsonschema")
	if !ok {
		return false, nil
	}
	for _, item := range splitTag(tag) {
		key, val, hasVal := strings.Cut(item, "=")
		key = strings.TrimSpace(key)
		switch key {
		case "":
			continue
		case "required":
			required = true
		case "description", "title", "format", "pattern":
			if !hasVal {
				return false, fmt.Errorf("jsonschema tag %q needs a value", key)
			}
			s[key] = val
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf":
			n, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return false, fmt.Errorf("jsonschema tag %s=%q: not a number", key, val)
			}
			s[key] = n
		case "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return false, fmt.Errorf("jsonschema tag %s=%q: not a non-negative integer", key, val)
			}
			s[key] = n
		case "enum":
			var vals []any
			for v := range strings.SplitSeq(val, "|") {
				x, err := tagValue(f.Type, v)
				if err != nil {
					return false, fmt.Errorf("jsonschema tag enum value %q: %w", v, err)
				}
				vals = append(vals, x)
			}
			s["enum"] = vals
		case "default":
			x, err := tagValue(f.Type, val)
			if err != nil {
				return false, fmt.Errorf("jsonschema tag default=%q: %w", val, err)
			}
			s["default"] = x
		default:
			return false, fmt.Errorf("unknown jsonschema tag key %q (known: required, description, title, "+
				"format, pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, "+
				"minLength, maxLength, minItems, maxItems, minProperties, maxProperties, enum, default)", key)
		}
	}
	return required, nil
}

// splitTag splits a jsonschema tag on commas; `\,` is a literal comma.
func splitTag(tag string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(tag); i++ {
		switch {
		case tag[i] == '\\' && i+1 < len(tag) && tag[i+1] == ',':
			cur.WriteByte(',')
			i++
		case tag[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(tag[i])
		}
	}
	return append(out, cur.String())
}

// tagValue converts a tag literal to a JSON value of the field's kind: strings are taken
// as is, anything else is parsed as JSON.
func tagValue(t reflect.Type, v string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String {
		return v, nil
	}
	var x any
	if err := json.Unmarshal([]byte(v), &x); err != nil {
		return nil, fmt.Errorf("not a JSON value for a %s field", t.Kind())
	}
	return x, nil
}
