package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/auth"
	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/task"
)

// caller is who makes a request. With authentication off every caller is an anonymous
// admin: user_id on tasks is only a label, as in the reference.
type caller struct {
	sub   string
	admin bool
	authn bool           // authentication is on
	ns    task.Namespace // the namespace of a non-admin's ids; zero for an admin or without authentication
}

// qualify returns the id a caller's task id names: for a non-admin, the id in the
// caller's namespace (task.Namespace.Qualify: "t1" and "<ns>/t1" are the same task);
// for an admin or without authentication, id as given. Every task id a request gives
// goes through it, so a non-admin can only ever name ids of its own namespace
// (docs/decisions.md §12).
func (c caller) qualify(id string) string {
	return c.ns.Qualify(id)
}

// qualifyAll returns ids qualified (see qualify), in a new slice.
func (c caller) qualifyAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = c.qualify(id)
	}
	return out
}

// sees reports whether the caller may see and act on a task owned by userID.
func (c caller) sees(userID string) bool {
	return c.admin || (c.sub != "" && userID == c.sub)
}

// stampUser is the user id submissions are stamped with: the subject for a user, nothing
// (keep what the tasks say) for an admin or without authentication.
func (c caller) stampUser() string {
	if c.admin {
		return ""
	}
	return c.sub
}

type callerKey struct{}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// jsonRPCRoutes are answered with JSON-RPC error bodies.
func isJSONRPCRoute(method, path string) bool {
	return method == http.MethodPost && (path == "/tasks" || path == "/system" || path == "/")
}

func (s *Server) authMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	cop := http.NewCrossOriginProtection()
	return func(c echo.Context) error {
		cl := caller{admin: true}
		// A signed trigger proves itself to its handler, whatever page sent it.
		if s.verifier == nil && !(len(s.cfg.WebhookSecret) > 0 && signedTrigger(c.Request())) {
			if reason := s.guardOpen(c.Request(), cop); reason != "" {
				return s.forbidden(c, reason)
			}
		}
		if s.verifier != nil && s.dashboardFile(c.Request()) {
			return next(c) // static files, no data: the pages ask for a token
		}
		if s.verifier != nil && signedTrigger(c.Request()) {
			// It authenticates with its signature, which its handler verifies; until
			// then it is nobody.
			cl = caller{}
		} else if s.verifier != nil {
			r := c.Request()
			id, err := s.verifier.Verify(auth.TokenFromRequest(r))
			if err != nil {
				return s.unauthorized(c, err)
			}
			// A cookie rides along on requests other sites make the browser send; a
			// header does not. So a cookie authenticates no cross-origin unsafe request.
			if r.Header.Get("Authorization") == "" {
				if err := cop.Check(r); err != nil {
					return s.forbidden(c, "a token from a cookie is not accepted on a cross-origin request; send it in the Authorization header")
				}
			}
			cl = caller{sub: id.Subject, admin: id.Admin(), authn: true}
			if !cl.admin {
				cl.ns = task.NamespaceOf(id.Subject)
			}
		}
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), callerKey{}, cl)))
		return next(c)
	}
}

// dashboardPrefix is where Config.Dashboard is served.
const dashboardPrefix = "/ui"

// dashboardFile reports whether r reads the dashboard's files (GET or HEAD under /ui, or
// GET /, which redirects there), which need no token.
func (s *Server) dashboardFile(r *http.Request) bool {
	if s.cfg.Dashboard == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	p := r.URL.Path
	return p == "/" || p == dashboardPrefix || strings.HasPrefix(p, dashboardPrefix+"/")
}

func (s *Server) unauthorized(c echo.Context, err error) error {
	reason := errors.Unwrap(err)
	msg := err.Error()
	if reason == nil {
		reason = err
	}
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="apflow"`)
	rpcErr := jsonrpc.NewError(apferr.Unauthorized, "Unauthorized", map[string]any{"reason": msg})
	if isJSONRPCRoute(c.Request().Method, c.Request().URL.Path) {
		return c.JSON(http.StatusUnauthorized, &jsonrpc.Response{Error: rpcErr})
	}
	return c.JSON(http.StatusUnauthorized, map[string]any{"error": rpcErr})
}

// forbidden answers a request that is authenticated but refused: HTTP 403 with
// JSON-RPC error -32004.
func (s *Server) forbidden(c echo.Context, reason string) error {
	rpcErr := jsonrpc.NewError(apferr.Unauthorized, "Forbidden", map[string]any{"reason": reason})
	if isJSONRPCRoute(c.Request().Method, c.Request().URL.Path) {
		return c.JSON(http.StatusForbidden, &jsonrpc.Response{Error: rpcErr})
	}
	return c.JSON(http.StatusForbidden, map[string]any{"error": rpcErr})
}

func (s *Server) recoverMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic in handler", "path", c.Request().URL.Path, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = echo.NewHTTPError(http.StatusInternalServerError, "internal error")
			}
		}()
		return next(c)
	}
}

func (s *Server) logMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		s.metrics.observeHTTP(c.Request().Method, route, status, d)
		s.log.Info("request", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", status, "duration", d, "bytes", c.Response().Size)
		return nil
	}
}

// restError is the body of a non-JSON-RPC error response.
type restError struct {
	Error *jsonrpc.Error `json:"error"`
}

// httpError is Echo's error handler: JSON bodies for every route.
func (s *Server) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		msg = fmt.Sprint(he.Message)
	} else if ae := apferr.As(err); ae != nil {
		writeREST(c, err)
		return
	} else {
		s.log.Error("request failed", "path", c.Request().URL.Path, "error", err)
	}
	rpcCode := apferr.Internal
	switch code {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		rpcCode = apferr.MethodNotFound
	case http.StatusRequestEntityTooLarge, http.StatusBadRequest:
		rpcCode = apferr.InvalidRequest
	}
	if isJSONRPCRoute(c.Request().Method, c.Request().URL.Path) {
		_ = c.JSON(code, &jsonrpc.Response{Error: jsonrpc.NewError(rpcCode, msg, nil)})
		return
	}
	_ = c.JSON(code, restError{jsonrpc.NewError(rpcCode, msg, nil)})
}

// pathParam returns the path parameter name as the client meant it. Echo routes on the
// request's escaped path when it has one (a %2F in it, say) and gives its parameters
// escaped then: "a%20b%2Fc" for the plugin id "a b/c". Otherwise the path is already
// decoded, and unescaping it again would take "100%25" for "100%" and refuse it.
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", apferr.InvalidParam(name, "not a valid URL-escaped path segment", "a URL-escaped "+name, v)
	}
	return u, nil
}

// writeREST answers a non-JSON-RPC route with an apflow error and a fitting HTTP status.
func writeREST(c echo.Context, err error) {
	je := jsonrpc.FromError(err)
	status := http.StatusInternalServerError
	switch apferr.Code(je.Code) {
	case apferr.TaskNotFound, apferr.ExecutorNotFound, apferr.MethodNotFound:
		status = http.StatusNotFound
	case apferr.Unauthorized:
		status = http.StatusForbidden
	case apferr.InvalidParams, apferr.InvalidRequest, apferr.InvalidTaskSchema, apferr.ParseError:
		status = http.StatusBadRequest
	}
	_ = c.JSON(status, restError{je})
}

// writeJSON writes v with status, encoded by encoding/json without Echo's trailing
// newline, except a JSON-RPC response or batch of them: those are written as their own
// encoder appends them, which json.Marshal would check and compact once more
// (answer.go).
func writeJSON(c echo.Context, status int, v any) error {
	var b []byte
	var err error
	switch r := v.(type) {
	case *jsonrpc.Response:
		b, err = r.MarshalJSON()
	case []*jsonrpc.Response:
		b, err = jsonrpc.EncodeBatch(r)
	default:
		b, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}
