package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/schema"
	apischema "github.com/apflow-wasm/apflow/schemas/api"
)

// Endpoints that carry JSON-RPC.
const (
	endpointTasks  = "/tasks"
	endpointSystem = "/system"
)

// call is one JSON-RPC invocation as a handler sees it.
type call struct {
	// params are the validated params (an object, or an array for tasks.create); never nil.
	params json.RawMessage
	// single is true when the request is alone in its body (not a batch, not a
	// notification), so the handler may answer with a stream.
	single bool
}

// handlerFunc runs one method. It returns the result to encode, or a *streamResponse.
type handlerFunc func(ctx context.Context, c *call) (any, error)

// method describes one JSON-RPC method: routing, discovery metadata and params schema.
type method struct {
	name        string
	endpoint    string
	category    string
	description string
	tags        []string
	streaming   bool
	// waits is true for a method whose answer may take longer than the server's write
	// timeout (it waits for a run, or for a model): a request of it lifts the timeout.
	waits bool
	// submission is true for a method whose params carry a submission's tasks
	// (tasks.create, tasks.execute): its schema checks each task only for being an
	// object, and validate leaves the tasks undecoded (submissionSkeleton).
	submission bool
	handler    handlerFunc
	schemaJSON json.RawMessage
	schema     *schema.Schema
	examples   []json.RawMessage
}

// compileSchema loads and compiles the params schema of m from schemas/api.
func (m *method) compileSchema() error {
	raw, err := apischema.Method(m.name)
	if err != nil {
		return fmt.Errorf("api: method %s: %w", m.name, err)
	}
	var doc struct {
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("api: method %s: schema is not JSON: %w", m.name, err)
	}
	sch, err := schema.Compile(m.name+".json", raw, schema.Draft7)
	if err != nil {
		return fmt.Errorf("api: method %s: schema does not compile: %w", m.name, err)
	}
	m.schemaJSON, m.schema, m.examples = raw, sch, doc.Examples
	return nil
}

// validate checks params against the method's schema and returns a -32602 error naming
// the first offending field (problems sorted by field; a missing or unexpected property
// is named itself: "task_id", "webhook_config.url").
func (m *method) validate(params json.RawMessage) error {
	decode := schema.Decode
	if m.submission {
		decode = submissionSkeleton
	}
	v, err := decode(params)
	if err != nil {
		return apferr.InvalidParam("", "params are not valid JSON", nil, nil)
	}
	err = m.schema.Validate(v)
	if err == nil {
		return nil
	}
	ps := schema.ProblemsOf(err)
	if len(ps) == 0 {
		return fmt.Errorf("validate params of %s: %w", m.name, err)
	}
	p := ps[0]
	field := p.Field("")
	if named := p.Property(); named != "" {
		if field != "" {
			field += "."
		}
		field += named
	}
	return apferr.InvalidParam(field, p.Message, nil, nil)
}

// decodeParams decodes validated params into v (numbers in maps as json.Number).
func decodeParams(params json.RawMessage, v any) error {
	err := decodeJSON(params, v)
	var te *json.UnmarshalTypeError
	for range maxWholeFixes {
		// A whole number written with a fraction or an exponent (2.0, 1e3) is an integer
		// to JSON Schema, which the params passed: decode it as one.
		if !errors.As(err, &te) || !strings.HasPrefix(te.Value, "number") {
			break
		}
		fixed, ok := wholeAt(params, te.Field)
		if !ok {
			break
		}
		params, err = fixed, decodeJSON(fixed, v)
	}
	if err == nil {
		return nil
	}
	if errors.As(err, &te) {
		return apferr.InvalidParam(te.Field, "wrong type", jsonType(te.Type), te.Value)
	}
	return apferr.InvalidParam("", err.Error(), nil, nil)
}

// maxWholeFixes bounds how many whole numbers decodeParams rewrites in one params.
const maxWholeFixes = 16

// decodeJSON decodes raw into v, numbers as json.Number where v holds any.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// wholeAt returns params with the number at path (dotted object keys, as
// json.UnmarshalTypeError names a field) written as an integer (2.0 as 2, 1e3 as 1000),
// when it is whole and exact in a float64; false otherwise. Nothing else changes.
func wholeAt(params []byte, path string) ([]byte, bool) {
	var doc map[string]any
	if path == "" || decodeJSON(params, &doc) != nil {
		return nil, false
	}
	m, keys := doc, strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		if m, _ = m[k].(map[string]any); m == nil {
			return nil, false
		}
	}
	last := keys[len(keys)-1]
	n, ok := m[last].(json.Number)
	if !ok {
		return nil, false
	}
	i, ok := wholeNumber(string(n))
	if !ok {
		return nil, false
	}
	m[last] = json.Number(strconv.FormatInt(i, 10))
	out, err := json.Marshal(doc)
	return out, err == nil
}

// wholeInt decodes raw, a JSON number whose value is whole (2, 2.0, 1e3), into dst.
func wholeInt(raw json.RawMessage, dst *int) error {
	i, ok := wholeNumber(string(bytes.TrimSpace(raw)))
	if !ok {
		return fmt.Errorf("want an integer, got %s", bytes.TrimSpace(raw))
	}
	*dst = int(i)
	return nil
}

// wholeNumber reads a JSON number whose value is whole and exact in a float64, however
// it is written (2, 2.0, 1e3).
func wholeNumber(s string) (int64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// jsonType names a Go type of a params struct as JSON does.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return t.String()
}

// readRequest reads the body of a JSON request (JSON-RPC, A2A) as readBody, at most
// Config.MaxBodyBytes, and tells Config.RequestBody its length.
func (s *Server) readRequest(c echo.Context) ([]byte, error) {
	body, err := readBody(c.Request(), s.cfg.MaxBodyBytes)
	if err == nil && s.cfg.RequestBody != nil {
		s.cfg.RequestBody(len(body))
	}
	return body, err
}

// readBody reads at most limit bytes; a larger body is an *echo.HTTPError 413.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "cannot read request body: "+err.Error())
	}
	if int64(len(body)) > limit {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body exceeds the limit of %d bytes", limit))
	}
	return body, nil
}

// rpcHandler serves JSON-RPC 2.0 on one endpoint: single requests, batches, notifications.
func (s *Server) rpcHandler(endpoint string) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := s.readRequest(c)
		if err != nil {
			return err
		}
		items, batch, derr := jsonrpc.Decode(body)
		if derr != nil {
			return writeJSON(c, http.StatusOK, &jsonrpc.Response{Error: derr})
		}
		if batch && len(items) > s.cfg.MaxBatch {
			return writeJSON(c, http.StatusOK, &jsonrpc.Response{Error: jsonrpc.NewError(apferr.InvalidRequest,
				"Invalid Request", fmt.Sprintf("batch of %d requests exceeds the limit of %d", len(items), s.cfg.MaxBatch))})
		}
		ctx := c.Request().Context()
		if !batch {
			it := items[0]
			if it.Err != nil {
				return writeJSON(c, http.StatusOK, &jsonrpc.Response{ID: it.ID, Error: it.Err})
			}
			s.liftForWaits(c, it.Req.Method)
			res, err := s.invoke(ctx, endpoint, it.Req, !it.Req.Notification())
			if sr, ok := res.(*streamResponse); ok && err == nil {
				return s.serveStream(c, it.Req.ID, sr)
			}
			if it.Req.Notification() {
				return c.NoContent(http.StatusNoContent)
			}
			return writeJSON(c, http.StatusOK, s.respond(it.Req, res, err))
		}
		out := make([]*jsonrpc.Response, 0, len(items))
		for _, it := range items {
			if it.Err != nil {
				out = append(out, &jsonrpc.Response{ID: it.ID, Error: it.Err})
				continue
			}
			s.liftForWaits(c, it.Req.Method)
			res, err := s.invoke(ctx, endpoint, it.Req, false)
			if it.Req.Notification() {
				continue
			}
			out = append(out, s.respond(it.Req, res, err))
		}
		if len(out) == 0 {
			return c.NoContent(http.StatusNoContent)
		}
		return writeJSON(c, http.StatusOK, out)
	}
}

// liftForWaits lifts the write timeout of the response when method may wait long.
func (s *Server) liftForWaits(c echo.Context, method string) {
	if m, ok := s.methods[method]; ok && m.waits {
		liftWriteDeadline(c)
	}
}

// respond builds the response of one request.
func (s *Server) respond(req *jsonrpc.Request, res any, err error) *jsonrpc.Response {
	if err != nil {
		je := jsonrpc.FromError(err)
		if je.Code == int(apferr.Internal) {
			s.log.Error("method failed", "method", req.Method, "error", err)
		}
		return &jsonrpc.Response{ID: req.ID, Error: je}
	}
	b, mErr := appendResult(nil, res)
	if mErr != nil {
		s.log.Error("cannot encode result", "method", req.Method, "error", mErr)
		return &jsonrpc.Response{ID: req.ID, Error: jsonrpc.FromError(mErr)}
	}
	return &jsonrpc.Response{ID: req.ID, Result: b}
}

// invoke routes, validates and runs one request.
func (s *Server) invoke(ctx context.Context, endpoint string, req *jsonrpc.Request, single bool) (any, error) {
	m, ok := s.methods[req.Method]
	if !ok || m.endpoint != endpoint {
		what := "task"
		if endpoint == endpointSystem {
			what = "system"
		}
		return nil, apferr.New(apferr.MethodNotFound, "Method not found").
			WithData(fmt.Sprintf("Unknown %s method: %s", what, req.Method))
	}
	// The handler takes the params from the request, which its caller holds until the
	// call ends to answer it: a tasks.execute's params are the whole submission, and the
	// call waits for its run.
	params := req.Params
	req.Params = nil
	if params == nil {
		params = json.RawMessage("{}")
	}
	if err := m.validate(params); err != nil {
		return nil, err
	}
	s.metrics.observeRPC(req.Method)
	return m.handler(ctx, &call{params: params, single: single})
}
