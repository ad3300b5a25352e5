package jsonrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// Item is one element of a decoded body: either a valid request (Req) or the error
// response it must get (Err, with ID the request id if it could be read, else nil).
type Item struct {
	Req *Request
	Err *Error
	ID  json.RawMessage
}

// Decode parses a request body. batch reports whether the body was a JSON array. When
// the whole body is unusable (not JSON, not UTF-8, an empty array, a scalar) Decode
// returns a single error object to be answered with id null, and no items.
//
// JSON text is UTF-8: a body with invalid UTF-8 anywhere is a parse error (-32700), so
// that an id echoed in a response is always valid JSON.
func Decode(body []byte) (items []Item, batch bool, err *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false, NewError(apferr.ParseError, "Parse error", "empty request body")
	}
	if !utf8.Valid(body) {
		return nil, false, NewError(apferr.ParseError, "Parse error", "request body is not valid UTF-8")
	}
	if !json.Valid(body) {
		return nil, false, NewError(apferr.ParseError, "Parse error", "request body is not valid JSON")
	}
	switch body[0] {
	case '[':
		var elems []json.RawMessage
		if e := json.Unmarshal(body, &elems); e != nil {
			return nil, false, NewError(apferr.ParseError, "Parse error", e.Error())
		}
		if len(elems) == 0 {
			return nil, true, NewError(apferr.InvalidRequest, "Invalid Request", "empty batch")
		}
		items = make([]Item, len(elems))
		for i, el := range elems {
			items[i] = decodeOne(el)
		}
		return items, true, nil
	case '{':
		return []Item{decodeOne(body)}, false, nil
	default:
		return nil, false, NewError(apferr.InvalidRequest, "Invalid Request", "request must be an object or an array of objects")
	}
}

func invalid(id json.RawMessage, format string, args ...any) Item {
	return Item{ID: id, Err: NewError(apferr.InvalidRequest, "Invalid Request", fmt.Sprintf(format, args...))}
}

// decodeOne classifies one (syntactically valid) JSON value.
func decodeOne(raw json.RawMessage) Item {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return invalid(nil, "request must be a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return invalid(nil, "request must be a JSON object: %v", err)
	}
	var id json.RawMessage
	if v, ok := m["id"]; ok {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && (v[0] == '"' || v[0] == '-' || (v[0] >= '0' && v[0] <= '9')):
			id = v
		case bytes.Equal(v, nullID):
			id = nullID
		default:
			return invalid(nil, "id must be a string, a number or null")
		}
	}
	var version string
	if v, ok := m["jsonrpc"]; !ok || json.Unmarshal(v, &version) != nil || version != Version {
		return invalid(id, `"jsonrpc" must be exactly "2.0"`)
	}
	var method string
	v, ok := m["method"]
	if !ok {
		return invalid(id, `"method" is missing`)
	}
	if json.Unmarshal(v, &method) != nil || method == "" {
		return invalid(id, `"method" must be a non-empty string`)
	}
	var params json.RawMessage
	if v, ok := m["params"]; ok {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && (v[0] == '{' || v[0] == '['):
			params = v
		case bytes.Equal(v, nullID):
			// "params": null is treated as absent, as lenient servers (and the reference) do.
		default:
			return invalid(id, `"params" must be an object or an array`)
		}
	}
	return Item{Req: &Request{Method: method, Params: params, ID: id}, ID: id}
}
