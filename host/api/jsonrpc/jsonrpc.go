package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// Version is the value of the "jsonrpc" member of every request and response.
const Version = "2.0"

// nullID is the id of responses to requests whose id could not be read.
var nullID = json.RawMessage("null")

// Request is one decoded JSON-RPC request.
type Request struct {
	// Method is the method name, never empty.
	Method string
	// Params is the raw params member: an object, an array, or nil when absent.
	Params json.RawMessage
	// ID is the raw id member (a string, a number or null), or nil for a notification.
	ID json.RawMessage
}

// Notification reports whether the request has no id member and so gets no response.
func (r *Request) Notification() bool { return r.ID == nil }

// MarshalJSON writes the request as a JSON-RPC 2.0 request object.
func (r *Request) MarshalJSON() ([]byte, error) {
	w := struct {
		JSONRPC string          `json:"jsonrpc"`
		Method  string          `json:"method"`
		Params  json.RawMessage `json:"params,omitempty"`
		ID      json.RawMessage `json:"id,omitempty"`
	}{Version, r.Method, r.Params, r.ID}
	return json.Marshal(w)
}

// Error is a JSON-RPC error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// NewError returns an error object with the given code, message and data (data may be nil).
func NewError(code apferr.Code, msg string, data any) *Error {
	return &Error{Code: int(code), Message: msg, Data: data}
}

// FromError converts any error to a JSON-RPC error object: an *Error is returned as is,
// an *apferr.Error in the chain keeps its code, message and data, and anything else
// becomes -32603 Internal error carrying the error text in data.
func FromError(err error) *Error {
	if err == nil {
		return nil
	}
	var je *Error
	if errors.As(err, &je) {
		return je
	}
	if ae := apferr.As(err); ae != nil {
		msg := ae.Message
		if msg == "" {
			msg = ae.Code.String()
		}
		return &Error{Code: int(ae.Code), Message: msg, Data: ae.Data}
	}
	return &Error{Code: int(apferr.Internal), Message: apferr.Internal.String(), Data: err.Error()}
}

// ToAPFError converts an error object received from a server back to an *apferr.Error.
// Data is kept as decoded JSON.
func (e *Error) ToAPFError() *apferr.Error {
	return &apferr.Error{Code: apferr.Code(e.Code), Message: e.Message, Data: e.Data}
}

// Response is one JSON-RPC response: exactly one of Result and Error is meaningful.
type Response struct {
	// ID echoes the request id; nil is written as null.
	ID json.RawMessage
	// Result is the encoded result (nil is written as null) when Error is nil.
	Result json.RawMessage
	// Error is the error object, or nil on success.
	Error *Error
}

// MarshalJSON writes {"jsonrpc":"2.0","id":…,"result":…} or {…,"error":…}. The
// envelope is appended around ID and Result, which are written as they are: each must
// hold one JSON value, as Decode and the server's encoding of a result make them
// (json.Marshal would check and compact a result of any size once more).
func (r *Response) MarshalJSON() ([]byte, error) {
	return r.appendJSON(nil)
}

// appendJSON appends the response to b (MarshalJSON).
func (r *Response) appendJSON(b []byte) ([]byte, error) {
	id := r.ID
	if id == nil {
		id = nullID
	}
	member, value := `,"result":`, []byte(r.Result)
	if r.Error != nil {
		e, err := json.Marshal(r.Error)
		if err != nil {
			return b, err
		}
		member, value = `,"error":`, e
	} else if len(value) == 0 {
		value = nullID
	}
	b = slices.Grow(b, len(`{"jsonrpc":"2.0","id":,"result":}`)+len(id)+len(value))
	b = append(b, `{"jsonrpc":"`...)
	b = append(b, Version...)
	b = append(b, `","id":`...)
	b = append(b, id...)
	b = append(b, member...)
	b = append(b, value...)
	return append(b, '}'), nil
}

// EncodeBatch writes the responses of a batch as a JSON array, each as MarshalJSON
// writes it.
func EncodeBatch(rs []*Response) ([]byte, error) {
	b := []byte{'['}
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = r.appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads a response object as written by a server.
func (r *Response) UnmarshalJSON(data []byte) error {
	var w struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  json.RawMessage `json:"result"`
		Error   *Error          `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	if w.JSONRPC != Version {
		return errors.New(`jsonrpc: response without "jsonrpc":"2.0"`)
	}
	if w.Error == nil && w.Result == nil {
		return errors.New("jsonrpc: response has neither result nor error")
	}
	*r = Response{ID: w.ID, Result: w.Result, Error: w.Error}
	return nil
}

// ErrorResponse returns the response carrying err for the request id (nil id: null).
func ErrorResponse(id json.RawMessage, err error) *Response {
	return &Response{ID: id, Error: FromError(err)}
}
