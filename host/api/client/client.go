// Package client is the Go client of the apflow HTTP API, used by the CLI's --server
// mode: JSON-RPC calls whose errors come back as *apferr.Error (same codes and data as
// the server produced), Server-Sent Events following, plugin upload and /metrics.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
)

// Client talks to one apflow server. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
	next  atomic.Int64
}

// New returns a client for the server at baseURL (e.g. "http://localhost:8000"). token
// is a bearer token ("" when the server has no auth); hc may be nil.
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: hc}
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader, ctype string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// endpoint is the JSON-RPC path of a method.
func endpoint(method string) string {
	if strings.HasPrefix(method, "system.") {
		return "/system"
	}
	return "/tasks"
}

// Call invokes a JSON-RPC method and decodes its result into result (which may be nil).
// A JSON-RPC error is returned as *apferr.Error; transport failures are wrapped.
func (c *Client) Call(ctx context.Context, method string, params any, result any) error {
	p, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("%s: encode params: %w", method, err)
	}
	id := c.next.Add(1)
	body, err := json.Marshal(&jsonrpc.Request{Method: method, Params: p, ID: json.RawMessage(fmt.Sprint(id))})
	if err != nil {
		return err
	}
	req, err := c.newRequest(ctx, http.MethodPost, endpoint(method), bytes.NewReader(body), "application/json")
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: read response: %w", method, err)
	}
	var r jsonrpc.Response
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%s: HTTP %d: not a JSON-RPC response: %.200s", method, resp.StatusCode, raw)
	}
	if r.Error != nil {
		return r.Error.ToAPFError()
	}
	if result == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.Result))
	dec.UseNumber()
	if err := dec.Decode(result); err != nil {
		return fmt.Errorf("%s: decode result: %w", method, err)
	}
	return nil
}

// Frame is one Server-Sent Events data frame, decoded.
type Frame map[string]any

// Type is the frame's "type" ("task_start", "progress", "task_completed",
// "task_failed", "final", "stream_end", ...); the first frame of a streaming execute
// is the JSON-RPC response and has no type.
func (f Frame) Type() string { s, _ := f["type"].(string); return s }

// ExecuteStream calls tasks.execute with use_streaming and hands every frame to fn until
// stream_end. A JSON-RPC error answered instead of a stream is returned as *apferr.Error.
func (c *Client) ExecuteStream(ctx context.Context, params map[string]any, fn func(Frame) error) error {
	q := map[string]any{}
	for k, v := range params {
		q[k] = v
	}
	q["use_streaming"] = true
	p, err := json.Marshal(q)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(&jsonrpc.Request{Method: "tasks.execute", Params: p, ID: json.RawMessage("1")})
	req, err := c.newRequest(ctx, http.MethodPost, "/tasks", bytes.NewReader(body), "application/json")
	if err != nil {
		return err
	}
	return c.stream(req, fn)
}

// Follow streams the events of the run of rootID (GET /events) to fn until stream_end.
func (c *Client) Follow(ctx context.Context, rootID string, fn func(Frame) error) error {
	req, err := c.newRequest(ctx, http.MethodGet, "/events?root_task_id="+url.QueryEscape(rootID), nil, "")
	if err != nil {
		return err
	}
	return c.stream(req, fn)
}

func (c *Client) stream(req *http.Request, fn func(Frame) error) error {
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return errorBody(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data:") {
			continue
		}
		var f Frame
		if err := json.Unmarshal([]byte(strings.TrimSpace(line[5:])), &f); err != nil {
			return fmt.Errorf("bad event frame: %w", err)
		}
		if e, ok := f["error"].(map[string]any); ok && f["jsonrpc"] != nil {
			b, _ := json.Marshal(e)
			var je jsonrpc.Error
			_ = json.Unmarshal(b, &je)
			return je.ToAPFError()
		}
		if err := fn(f); err != nil {
			return err
		}
		if f.Type() == "stream_end" {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// errorBody turns a non-stream answer into an error.
func errorBody(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var r jsonrpc.Response
	if json.Unmarshal(raw, &r) == nil && r.Error != nil {
		return r.Error.ToAPFError()
	}
	var rest struct {
		Error *jsonrpc.Error `json:"error"`
	}
	if json.Unmarshal(raw, &rest) == nil && rest.Error != nil {
		return rest.Error.ToAPFError()
	}
	return apferr.Errorf(apferr.Internal, "HTTP %d: %.200s", resp.StatusCode, raw)
}

// do sends a request and returns its response when its status is want, else the error
// its body describes. The caller closes the response's body.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, ctype string, want int) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, path, body, ctype)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		defer resp.Body.Close()
		return nil, errorBody(resp)
	}
	return resp, nil
}

// UploadPlugin sends a WebAssembly module to POST /plugins and returns its description.
func (c *Client) UploadPlugin(ctx context.Context, name string, wasm []byte) (*executor.Info, error) {
	resp, err := c.do(ctx, http.MethodPost, "/plugins?name="+url.QueryEscape(name), bytes.NewReader(wasm), "application/wasm", http.StatusCreated)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var info executor.Info
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("decode plugin info: %w", err)
	}
	return &info, nil
}

// PluginProblems returns the files of the server's plugins directory that failed to
// load, and why (GET /plugins).
func (c *Client) PluginProblems(ctx context.Context) (map[string]string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/plugins", nil, "", http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list struct {
		Problems map[string]string `json:"problems"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("decode the plugin list: %w", err)
	}
	return list.Problems, nil
}

// RemovePlugin unloads a plugin by executor id or hash (DELETE /plugins/:id).
func (c *Client) RemovePlugin(ctx context.Context, id string) error {
	resp, err := c.do(ctx, http.MethodDelete, "/plugins/"+url.PathEscape(id), nil, "", http.StatusOK)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// KVSpaces returns the server's key-value spaces that hold entries (GET /kv/spaces),
// those of plugin alone when it is not "".
func (c *Client) KVSpaces(ctx context.Context, plugin string) ([]store.KVSpaceUsage, error) {
	path := "/kv/spaces"
	if plugin != "" {
		path += "?plugin=" + url.QueryEscape(plugin)
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil, "", http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list struct {
		Spaces []store.KVSpaceUsage `json:"spaces"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("decode the kv spaces: %w", err)
	}
	return list.Spaces, nil
}

// DropKVSpace deletes every entry of sp on the server (DELETE /kv/spaces/{plugin}) and
// returns what it held.
func (c *Client) DropKVSpace(ctx context.Context, sp store.KVSpace) (store.KVUsage, error) {
	path := "/kv/spaces/" + url.PathEscape(sp.Plugin)
	if sp.Scope != "" {
		path += "?user=" + url.QueryEscape(sp.Scope)
	}
	resp, err := c.do(ctx, http.MethodDelete, path, nil, "", http.StatusOK)
	if err != nil {
		return store.KVUsage{}, err
	}
	defer resp.Body.Close()
	var dropped store.KVSpaceUsage
	if err := json.NewDecoder(resp.Body).Decode(&dropped); err != nil {
		return store.KVUsage{}, fmt.Errorf("decode the dropped kv space: %w", err)
	}
	return dropped.Usage, nil
}

// Metrics returns the server's GET /metrics document (Prometheus text format), at most
// 16 MiB of it.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/metrics", nil, "", http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read /metrics: %w", err)
	}
	return body, nil
}
