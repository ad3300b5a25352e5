package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
)

// Plugins is the plugin registry as the HTTP plugin routes use it. It is optional.
type Plugins interface {
	// Add validates and hot-loads a WebAssembly module under a name (the executor id
	// when the module has no metadata) and describes it.
	Add(ctx context.Context, name string, wasm []byte) (*executor.Info, error)
	// Remove unloads the plugin registered under an executor id. Running tasks keep
	// their pinned version.
	Remove(ctx context.Context, id string) error
	// List describes the loaded plugins.
	List() []*executor.Info
	// Problems names the files of the plugins directory that failed to load, and why
	// (an older version of the plugin may go on serving).
	Problems() map[string]string
}

// requirePlugins answers 404 when no registry is configured.
func (s *Server) requirePlugins(c echo.Context) bool {
	if s.cfg.Plugins == nil {
		writeREST(c, apferr.New(apferr.MethodNotFound, "plugin management is not enabled on this server"))
		return false
	}
	return true
}

// requireAdmin refuses non-admin callers when authentication is on; what names what
// they asked for ("plugin management").
func requireAdmin(c echo.Context, what string) bool {
	if !callerFrom(c.Request().Context()).admin {
		writeREST(c, apferr.New(apferr.Unauthorized, what+" needs the admin role"))
		return false
	}
	return true
}

// handlePluginUpload serves POST /plugins: the module as the raw body (name from the
// "name" query parameter) or as the "file" part of a multipart form (name from the
// "name" field, else the file name without .wasm).
func (s *Server) handlePluginUpload(c echo.Context) error {
	if !s.requirePlugins(c) || !requireAdmin(c, "plugin management") {
		return nil
	}
	r := c.Request()
	limit := s.cfg.MaxPluginBytes
	name := c.QueryParam("name")
	var wasm []byte
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit+1<<20)
		mr, err := r.MultipartReader()
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "bad multipart body: "+err.Error())
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return tooLargeOr(err, limit)
			}
			switch part.FormName() {
			case "name":
				b, _ := io.ReadAll(io.LimitReader(part, 256))
				name = strings.TrimSpace(string(b))
			case "file":
				if name == "" {
					name = strings.TrimSuffix(path.Base(part.FileName()), ".wasm")
				}
				if wasm, err = readLimited(part, limit); err != nil {
					return err
				}
			}
		}
	} else {
		b, err := readBody(r, limit)
		if err != nil {
			return err
		}
		wasm = b
	}
	if len(wasm) == 0 {
		writeREST(c, apferr.InvalidParam("file", "no WebAssembly module in the request", "a .wasm body or a multipart file part", nil))
		return nil
	}
	info, err := s.cfg.Plugins.Add(r.Context(), name, wasm)
	if err != nil {
		writeREST(c, err)
		return nil
	}
	s.log.Info("plugin loaded", "id", info.ID, "hash", info.Hash, "bytes", len(wasm))
	return writeJSON(c, http.StatusCreated, viewExecutor(info))
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, tooLargeOr(err, limit)
	}
	if int64(len(b)) > limit {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("plugin exceeds the limit of %d bytes", limit))
	}
	return b, nil
}

func tooLargeOr(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("plugin exceeds the limit of %d bytes", limit))
	}
	return echo.NewHTTPError(http.StatusBadRequest, "bad upload: "+err.Error())
}

func (s *Server) handlePluginList(c echo.Context) error {
	if !s.requirePlugins(c) {
		return nil
	}
	infos := s.cfg.Plugins.List()
	out := make([]executorView, 0, len(infos))
	for _, in := range infos {
		out = append(out, viewExecutor(in))
	}
	return writeJSON(c, http.StatusOK, map[string]any{"plugins": out, "count": len(out), "problems": s.cfg.Plugins.Problems()})
}

// findPlugin resolves :id as an executor id or a content hash.
func (s *Server) findPlugin(id string) *executor.Info {
	for _, in := range s.cfg.Plugins.List() {
		if in.ID == id || (in.Hash != "" && in.Hash == id) {
			return in
		}
	}
	return nil
}

func pluginNotFound(id string) error {
	return apferr.New(apferr.ExecutorNotFound, fmt.Sprintf("plugin %q is not loaded", id)).WithData(map[string]any{"id": id})
}

func (s *Server) handlePluginGet(c echo.Context) error {
	if !s.requirePlugins(c) {
		return nil
	}
	id, err := pathParam(c, "id")
	if err != nil {
		writeREST(c, err)
		return nil
	}
	in := s.findPlugin(id)
	if in == nil {
		writeREST(c, pluginNotFound(id))
		return nil
	}
	return writeJSON(c, http.StatusOK, viewExecutor(in))
}

func (s *Server) handlePluginDelete(c echo.Context) error {
	if !s.requirePlugins(c) || !requireAdmin(c, "plugin management") {
		return nil
	}
	id, err := pathParam(c, "id")
	if err != nil {
		writeREST(c, err)
		return nil
	}
	in := s.findPlugin(id)
	if in == nil {
		writeREST(c, pluginNotFound(id))
		return nil
	}
	if err := s.cfg.Plugins.Remove(c.Request().Context(), in.ID); err != nil {
		writeREST(c, err)
		return nil
	}
	s.log.Info("plugin removed", "id", in.ID, "hash", in.Hash)
	return writeJSON(c, http.StatusOK, map[string]any{"success": true, "id": in.ID, "hash": in.Hash})
}
