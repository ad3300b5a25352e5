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
	// KV lets an executor keep durable key-value entries in its own space with the
	// kv_* host functions, within the grant's quotas (docs/kv.md); nil grants nothing.
	KV *KVGrant `json:"kv,omitempty"`
	// LLM lets a plugin ask the operator's language model with llm_complete (docs/abi.md);
	// the provider's keys stay in the host.
	LLM bool `json:"llm,omitempty"`
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

// internalIP reports whether ip is an address a wildcard grant must not reach: loopback,
// private, link-local, multicast, unspecified, the non-public IPv4 special ranges below,
// IPv6 site-local, and any IPv6 address that embeds such an IPv4 address (IPv4-mapped,
// IPv4-compatible, NAT64, 6to4), since those reach the embedded address.
func internalIP(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() {
		return true
	}
	if v4 := ip.To4(); v4 != nil {
		for _, n := range internalV4 {
			if n.Contains(v4) {
				return true
			}
		}
		return false
	}
	if len(ip) != net.IPv6len {
		return true // not an address: refuse
	}
	if ip[0] == 0xfe && ip[1]&0xc0 == 0xc0 { // fec0::/10, site-local
		return true
	}
	if v4 := embeddedV4(ip); v4 != nil {
		return internalIP(v4)
	}
	return false
}

// internalV4 are the IPv4 special-purpose ranges (RFC 6890) that are not public unicast
// and are not covered by the net.IP predicates.
var internalV4 = func() []*net.IPNet {
	var nets []*net.IPNet
	for _, s := range []string{
		"0.0.0.0/8",     // "this network"
		"100.64.0.0/10", // shared address space (carrier-grade NAT, some cloud metadata)
		"192.0.0.0/24",  // IETF protocol assignments
		"198.18.0.0/15", // benchmarking
		"240.0.0.0/4",   // reserved, and the limited broadcast address
	} {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			panic(err)
		}
		nets = append(nets, n)
	}
	return nets
}()

// embeddedV4 returns the IPv4 address an IPv6 address of a transition form reaches:
// IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96 and 64:ff9b:1::/48) and 6to4
// (2002::/16); nil for other addresses.
func embeddedV4(ip net.IP) net.IP {
	zero := func(b []byte) bool {
		for _, c := range b {
			if c != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case zero(ip[:12]):
		return net.IP(ip[12:16])
	case ip[0] == 0x00 && ip[1] == 0x64 && ip[2] == 0xff && ip[3] == 0x9b && (zero(ip[4:12]) || ip[4] == 0x00 && ip[5] == 0x01):
		return net.IP(ip[12:16])
	case ip[0] == 0x20 && ip[1] == 0x02:
		return net.IP(ip[2:6])
	}
	return nil
}

// clockRandom is the part of the grants fixed when an instance is created.
type clockRandom struct{ clock, random bool }

func (g *Grants) clockRandom() clockRandom { return clockRandom{g.Clock, g.Random} }
