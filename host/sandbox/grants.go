package sandbox

import (
	"net"
	"path"
	"strings"
)

// Grants are the capabilities an operator gives one plugin. The zero value grants
// nothing beyond the always-available log and progress (default deny).
type Grants struct {
	// HTTP lists host globs the plugin may reach with http_request: "api.example.com",
	// "*.example.com", "10.0.0.7", "*" (any public host). Matching is case-insensitive on
	// the URL's host name (without port); '*' matches any run of characters, '?' one.
	// A pattern with a wildcard never reaches a loopback, private, link-local, multicast
	// or unspecified address: internal services must be granted by exact name or address.
	HTTP []string `json:"http,omitempty"`
	// Clock gives real wall and monotonic clocks (and real sleeping); without it WASI
	// clocks are deterministic (wall time starts at 2022-01-01T00:00:00Z).
	Clock bool `json:"clock,omitempty"`
	// Random gives the host's crypto random source; without it WASI random_get is a
	// deterministic, seeded source.
	Random bool `json:"random,omitempty"`
	// Config holds the keys (config values or secrets) config_get may read.
	Config map[string]string `json:"config,omitempty"`
	// Repository lets a hook call store_call (read and update tasks).
	Repository bool `json:"repository,omitempty"`
}

// httpAllowed reports whether host may be reached: it returns the matching pattern and
// whether that pattern is exact (no wildcard).
func (g *Grants) httpAllowed(host string) (allowed, exact bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return false, false
	}
	for _, p := range g.HTTP {
		p = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p), "."))
		if p == "" {
			continue
		}
		if p == host {
			return true, true
		}
		if !strings.ContainsAny(p, "*?[") {
			continue
		}
		// path.Match treats '/' specially; host names never contain one.
		if ok, err := path.Match(p, host); err == nil && ok {
			allowed = true
		}
	}
	return allowed, false
}

// internalIP reports whether ip is an address a wildcard grant must not reach.
func internalIP(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified()
}

// clockRandom is the part of the grants fixed when an instance is created.
type clockRandom struct{ clock, random bool }

func (g *Grants) clockRandom() clockRandom { return clockRandom{g.Clock, g.Random} }
