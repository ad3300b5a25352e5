package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// Webhook SSRF guard. Unless Config.WebhookAllowPrivate is set, the server never sends a
// webhook to a loopback, private (RFC 1918, RFC 4193), link-local, multicast or
// unspecified address (the rule of the sandbox's http_request, sandbox.InternalIP):
//   - at request time, a URL whose host is such an IP literal, or localhost (or a name
//     under .localhost), is refused with -32602 naming webhook_config.url;
//   - at dial time, the dialer's Control function checks the address each connection is
//     actually made to, after DNS resolution, so a name that resolves (or rebinds) to an
//     internal address fails the delivery, which is logged like any delivery failure;
//   - redirects are not followed at all.

// errInternalAddress marks a connection the guard refused; deliveries stop on it.
var errInternalAddress = errors.New("internal address refused")

// internalAddr parses an IP literal (IPv6 zones allowed) and reports whether it is one
// the guard refuses; ok is false when s is not an IP literal.
func internalAddr(s string) (internal, ok bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false, false
	}
	return sandbox.InternalIP(net.IP(a.WithZone("").AsSlice())), true
}

// checkWebhookHost is the request-time check of a webhook URL's host name (without
// port or brackets).
func checkWebhookHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("host %s is a loopback name", host)
	}
	if internal, ok := internalAddr(h); ok && internal {
		return fmt.Errorf("host %s is a loopback, private, link-local, multicast or unspecified address", host)
	}
	return nil
}

// webhookDialControl runs for every connection attempt of the guarded dialer with the
// resolved address it is about to connect to, and refuses internal ones.
func webhookDialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("webhook dial %s: %w", address, err)
	}
	internal, ok := internalAddr(host)
	if !ok {
		return fmt.Errorf("webhook dial %s: %w: not an IP address", address, errInternalAddress)
	}
	if internal {
		return fmt.Errorf("webhook dial %s %s: %w (set WebhookAllowPrivate / --webhook-allow-private to allow it)", network, address, errInternalAddress)
	}
	return nil
}

// newWebhookDialer returns the dialer of webhook deliveries; it refuses internal
// addresses unless allowPrivate.
func newWebhookDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = webhookDialControl
	}
	return d
}

// newWebhookClient returns a webhook client that connects with dial (a guarded dialer's
// DialContext), takes no proxy from the environment (a proxy would connect for us, out
// of the guard's sight) and follows no redirects.
func newWebhookClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       60 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 0, // bounded by the delivery's timeout
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
