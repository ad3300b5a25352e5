package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// httpRequest is the guest's http_request argument (docs/abi.md).
type httpRequest struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	TimeoutMS int64             `json:"timeout_ms"`
}

// httpResponse is http_request's answer.
type httpResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// maxRedirects bounds the redirects http_request follows.
const maxRedirects = 10

// parseHTTPRequest decodes and checks a guest's request.
func parseHTTPRequest(doc []byte) (*httpRequest, *url.URL, error) {
	var req httpRequest
	if err := json.Unmarshal(doc, &req); err != nil {
		return nil, nil, fmt.Errorf("invalid request: %v", err)
	}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	req.Method = strings.ToUpper(req.Method)
	for _, c := range req.Method {
		if c < 'A' || c > 'Z' {
			return nil, nil, fmt.Errorf("invalid method %q", req.Method)
		}
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, nil, fmt.Errorf("invalid url %q: scheme must be http or https", req.URL)
	}
	if u.Hostname() == "" {
		return nil, nil, fmt.Errorf("invalid url %q: no host", req.URL)
	}
	if req.TimeoutMS < 0 {
		return nil, nil, fmt.Errorf("invalid timeout_ms %d", req.TimeoutMS)
	}
	return &req, u, nil
}

// InternalIP reports whether ip is a loopback, private (RFC 1918, RFC 4193), link-local,
// multicast, unspecified or otherwise non-public special-purpose address (shared
// 100.64.0.0/10, 0.0.0.0/8, reserved 240.0.0.0/4, IPv6 site-local, …), including IPv6
// forms that embed such an IPv4 address (IPv4-mapped or -compatible, NAT64, 6to4): the addresses
// http_request's wildcard grants never reach. Other host components that make outbound
// requests on behalf of users (the API's webhooks) apply the same rule.
func InternalIP(ip net.IP) bool { return internalIP(ip) }

// newTransport returns the HTTP transport of one module: no proxy from the environment,
// and a dialer that re-checks the calling plugin's grants on every connection (so a
// wildcard grant cannot reach an internal address, whatever DNS says).
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           guardedDial(dialer),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // bounded by the request context
	}
}

// guardedDial resolves the address itself, refuses hosts the call's grants do not
// allow, refuses internal addresses unless the host was granted by exact name, and
// dials the checked address (no second resolution an attacker could rebind).
func guardedDial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		cs := callStateFrom(ctx)
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		allowed, exact := cs.grants.httpAllowed(host)
		if !allowed {
			return nil, fmt.Errorf("host %s not granted to plugin %s", host, cs.pluginID())
		}
		var ips []net.IP
		if ip := net.ParseIP(host); ip != nil {
			ips = []net.IP{ip}
		} else {
			addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
			if err != nil {
				return nil, err
			}
			for _, a := range addrs {
				ips = append(ips, a.IP)
			}
		}
		var errs []error
		for _, ip := range ips {
			if internalIP(ip) && !exact {
				errs = append(errs, fmt.Errorf("host %s resolves to internal address %s, which a wildcard grant does not allow", host, ip))
				continue
			}
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			return nil, fmt.Errorf("host %s has no address", host)
		}
		return nil, errors.Join(errs...)
	}
}

// HTTPTransport sends the requests of http_request; *http.Transport is one. It is the seam
// a host tool uses to answer a plugin's requests from recorded pairs, or to record them.
type HTTPTransport = http.RoundTripper

type httpTransportKey struct{}

// WithHTTPTransport returns a context under which the calls of [Module.Execute] and
// [Module.CallHook] send http_request's requests through wrap(guarded), where guarded is
// the module's transport (it dials only granted hosts and refuses internal addresses to
// wildcard grants). Everything else stays as it is: the http grant is still required, the
// URL's host and every redirect are still checked against the grants, the response body
// limit and the timeouts still apply. A wrap that answers without calling guarded (a
// fixture) reaches no network; one that calls it (a recorder) keeps the dial checks.
// wrap is called once per request and must be safe for concurrent use.
func WithHTTPTransport(ctx context.Context, wrap func(guarded HTTPTransport) HTTPTransport) context.Context {
	return context.WithValue(ctx, httpTransportKey{}, wrap)
}

func httpTransportFrom(ctx context.Context) func(HTTPTransport) HTTPTransport {
	wrap, _ := ctx.Value(httpTransportKey{}).(func(HTTPTransport) HTTPTransport)
	return wrap
}

// hostHTTPRequest is apflow.http_request.
func (r *Runtime) hostHTTPRequest(ctx context.Context, mod api.Module, stack []uint64) {
	cs := callStateFrom(ctx)
	cs.hostCalls++
	doc, ok := guestBytes(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		stack[0] = cs.giveError(ctx, mod, "http_request", "request buffer is outside the plugin's memory")
		return
	}
	if len(cs.grants.HTTP) == 0 {
		stack[0] = cs.giveError(ctx, mod, "http_request", cs.notGranted("http"))
		return
	}
	resp, err := r.doHTTP(ctx, cs, doc)
	if err != nil {
		abortIfDone(ctx) // the task's deadline passed, it was cancelled or the host is closing
		stack[0] = cs.giveError(ctx, mod, "http_request", err.Error())
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		stack[0] = cs.giveError(ctx, mod, "http_request", err.Error())
		return
	}
	cs.logger.Debug("http_request", "status", resp.Status, "bytes", len(resp.Body))
	stack[0] = cs.give(ctx, mod, out)
}

// doHTTP performs a guest's request under its grants.
func (r *Runtime) doHTTP(ctx context.Context, cs *callState, doc []byte) (*httpResponse, error) {
	req, u, err := parseHTTPRequest(doc)
	if err != nil {
		return nil, err
	}
	if ok, _ := cs.grants.httpAllowed(u.Hostname()); !ok {
		return nil, fmt.Errorf("host %s not granted to plugin %s (capability http)", u.Hostname(), cs.pluginID())
	}
	timeout := r.cfg.HTTPTimeout
	if req.TimeoutMS > 0 {
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout) // also bounded by the task's deadline
	defer cancel()
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("invalid request: %v", err)
	}
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	var transport http.RoundTripper
	if cs.m.transport != nil {
		transport = cs.m.transport
	} else {
		t := newTransport()
		defer t.CloseIdleConnections()
		transport = t
	}
	if wrap := httpTransportFrom(ctx); wrap != nil {
		transport = wrap(transport)
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if next.URL.Scheme != "http" && next.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s: scheme must be http or https", next.URL.Redacted())
			}
			if ok, _ := cs.grants.httpAllowed(next.URL.Hostname()); !ok {
				return fmt.Errorf("redirect to host %s not granted to plugin %s", next.URL.Hostname(), cs.pluginID())
			}
			return nil
		},
	}
	hresp, err := client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil && cs.parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("request to %s timed out after %s", u.Host, timeout)
		}
		return nil, fmt.Errorf("request failed: %v", err)
	}
	defer hresp.Body.Close()
	limit := r.cfg.HTTPMaxResponseBytes
	b, err := io.ReadAll(io.LimitReader(hresp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("response body exceeds %s", formatBytes(limit))
	}
	out := &httpResponse{Status: hresp.StatusCode, Headers: map[string]string{}, Body: string(b)}
	for k, v := range hresp.Header {
		out.Headers[k] = strings.Join(v, ", ")
	}
	return out, nil
}
