package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
)

// KVSpaces lists and drops plugins' key-value spaces (store.KV; docs/kv.md "Spaces").
type KVSpaces interface {
	KVSpaces(ctx context.Context) ([]store.KVSpaceUsage, error)
	KVDropSpace(ctx context.Context, sp store.KVSpace) (store.KVUsage, error)
}

// requireKV answers 404 when the server keeps no key-value spaces, and refuses
// non-admin callers: the spaces of every user are listed and dropped here.
func (s *Server) requireKV(c echo.Context) bool {
	if s.cfg.KVSpaces == nil {
		writeREST(c, apferr.New(apferr.MethodNotFound, "key-value spaces are not managed on this server"))
		return false
	}
	return requireAdmin(c, "key-value space management")
}

// handleKVSpaces serves GET /kv/spaces[?plugin=ID]: every space that holds entries
// (expired ones not yet purged included), as {spaces: [{plugin, user, keys, bytes}],
// count}; user is "" for the space of tasks run without one.
func (s *Server) handleKVSpaces(c echo.Context) error {
	if !s.requireKV(c) {
		return nil
	}
	spaces, err := s.cfg.KVSpaces.KVSpaces(c.Request().Context())
	if err != nil {
		writeREST(c, err)
		return nil
	}
	out := store.KVSpacesOf(spaces, c.QueryParam("plugin"))
	return writeJSON(c, http.StatusOK, map[string]any{"spaces": out, "count": len(out)})
}

// handleKVDrop serves DELETE /kv/spaces/{plugin}[?user=U]: it deletes every entry of
// the plugin's space of user U (without user: the space of tasks run without one) and
// answers what the space held, as {plugin, user, keys, bytes}.
func (s *Server) handleKVDrop(c echo.Context) error {
	if !s.requireKV(c) {
		return nil
	}
	plugin, err := pathParam(c, "plugin")
	if err != nil {
		writeREST(c, err)
		return nil
	}
	sp := store.KVSpace{Plugin: plugin, Scope: c.QueryParam("user")}
	u, err := s.cfg.KVSpaces.KVDropSpace(c.Request().Context(), sp)
	if err != nil {
		writeREST(c, err)
		return nil
	}
	return writeJSON(c, http.StatusOK, store.KVSpaceUsage{Space: sp, Usage: u})
}
