package sandbox

import (
	"net"
	"testing"
)

func TestInternalIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip       string
		internal bool
	}{
		{"8.8.8.8", false},
		{"2606:4700:4700::1111", false},
		{"127.0.0.1", true},
		{"10.1.2.3", true},
		{"169.254.169.254", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"fd00:ec2::254", true},
		{"fe80::1", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},         // "this network"
		{"100.100.100.200", true}, // shared address space (a cloud metadata service)
		{"192.0.0.192", true},     // IETF protocol assignments
		{"198.18.0.1", true},      // benchmarking
		{"255.255.255.255", true}, // broadcast
		{"240.0.0.1", true},       // reserved
		{"::", true},
		{"::7f00:1", true},           // IPv4-compatible 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 169.254.169.254
		{"64:ff9b:1::a00:1", true},   // local-use NAT64 10.0.0.1
		{"2002:7f00:1::1", true},     // 6to4 of 127.0.0.1
		{"2002:808:808::1", false},   // 6to4 of 8.8.8.8
		{"fec0::1", true},            // site-local
		{"64:ff9b::808:808", false},  // NAT64 8.8.8.8
	}
	for _, tt := range tests {
		ip := net.ParseIP(tt.ip)
		if ip == nil {
			t.Fatalf("bad test address %s", tt.ip)
		}
		if got := InternalIP(ip); got != tt.internal {
			t.Errorf("InternalIP(%s) = %t, want %t", tt.ip, got, tt.internal)
		}
	}
}
