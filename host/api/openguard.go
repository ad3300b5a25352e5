package api

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// A server without authentication trusts whoever reaches it, and a browser reaches
// it for any page the user opens: a page of another site can make the browser send
// it requests (a POST with a text/plain body needs no CORS preflight), and a page
// whose DNS name is rebound to the server's address can read its answers too. So such
// a server refuses, on every route:
//   - an unsafe request (not GET, HEAD or OPTIONS) from another origin, as the
//     browser's Sec-Fetch-Site and Origin headers tell (http.CrossOriginProtection);
//     clients that are not browsers send neither and pass;
//   - a request whose Host names the server by a name it was not told about: IP
//     literals, localhost and *.localhost are always accepted (DNS cannot rebind
//     them), other names only when listed in Config.AllowedHosts or BaseURL.
//
// With authentication on neither is needed: a bearer token is never sent by a browser
// on its own, and a cookie token is guarded in authMiddleware.

// hostGuard is the Host check of a server without authentication.
type hostGuard struct {
	names map[string]bool // lower case, without port
}

func newHostGuard(allowed []string, baseURL string) (hostGuard, error) {
	g := hostGuard{names: map[string]bool{}}
	for _, h := range allowed {
		h = hostName(strings.TrimSpace(h))
		if h == "" || strings.ContainsAny(h, ":/ *[]") {
			return g, apferr.InvalidParam("allowed_hosts", fmt.Sprintf("allowed host %q: want a host name, without scheme, port, path or wildcard", h), "a host name", h)
		}
		g.names[h] = true
	}
	if baseURL != "" {
		u, err := parseBaseURL(baseURL)
		if err != nil {
			return g, err
		}
		g.names[hostName(u.Hostname())] = true
	}
	return g, nil
}

// parseBaseURL checks Config.BaseURL: an absolute http or https URL with a host.
func parseBaseURL(base string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, apferr.InvalidParam("base_url", fmt.Sprintf("base URL %q: want an absolute http or https URL such as https://apflow.example.com", base), "an absolute URL", base)
	}
	return u, nil
}

// hostName is a host name as the guard compares it: lower case, without brackets or a
// final dot.
func hostName(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

// allows reports whether a request for host (the Host header, with or without port)
// is answered.
func (g hostGuard) allows(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = hostName(name)
	switch {
	case net.ParseIP(name) != nil, name == "localhost", strings.HasSuffix(name, ".localhost"):
		return true
	}
	return g.names[name]
}

// guardOpen returns why r is refused by a server without authentication, or "".
func (s *Server) guardOpen(r *http.Request, cop *http.CrossOriginProtection) string {
	if !s.hosts.allows(r.Host) {
		return fmt.Sprintf("this server has no authentication and answers only its IP addresses, localhost, and "+
			"the names it is given: Host %q is not one of them (a guard against DNS rebinding); "+
			"add it with apflow serve --allowed-host, or turn authentication on with --jwt-secret", r.Host)
	}
	if err := cop.Check(r); err != nil {
		return "this server has no authentication, so it refuses requests that another site's page makes a " +
			"browser send (Sec-Fetch-Site or Origin of another origin); send it from the server's own pages or " +
			"from a client that is not a browser, or turn authentication on with --jwt-secret"
	}
	return ""
}
