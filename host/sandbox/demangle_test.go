package sandbox

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestDemangle(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"_ZN10word_count7explode17hfd329a35aecdc7bfE", "word_count::explode"},
		{"_ZN4core9panicking18panic_bounds_check17h9e099015b52d9b3bE", "core::panicking::panic_bounds_check"},
		{"_ZN3std9panicking19begin_panic_handler28_$u7b$$u7b$closure$u7d$$u7d$17h8ef066ac4d1e7406E",
			"std::panicking::begin_panic_handler::{{closure}}"},
		{"_ZN50_$LT$T$u20$as$u20$core..convert..Into$LT$U$GT$$GT$4into17h0123456789abcdefE",
			"<T as core::convert::Into<U>>::into"},
		{"_ZN4mainE", "main"},                                     // no hash
		{"_ZN3foo3barE", "foo::bar"},                              // no hash
		{"_ZN3foo17hnothexnothexnothE", "foo::hnothexnothexnoth"}, // not a hash: kept
		// Not mangled, or not decodable: unchanged.
		{"explode", "explode"},
		{"assembly/index/explode", "assembly/index/explode"},
		{"$12", "$12"},
		{"_ZN", "_ZN"},
		{"_ZNE", "_ZNE"},
		{"_ZN3fooE3", "_ZN3fooE3"},
		{"_ZN9tooshortE", "_ZN9tooshortE"},
		{"_ZN4a$b$E", "_ZN4a$b$E"},
		{"_ZN5a$u1$E", "_ZN5a$u1$E"}, // a control character
		{"_ZN2a\x01E", "_ZN2a\x01E"},
		{"_ZN2\xc3\xa9E", "_ZN2\xc3\xa9E"}, // not ASCII
		{"_ZN4$LT$E", "<"},
		{"_ZN17h0123456789abcdefE", "h0123456789abcdef"}, // a lone hash-like segment is the name
	}
	for _, tt := range tests {
		if got := demangle(tt.in); got != tt.want {
			t.Errorf("demangle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzDemangle: names come from the plugin; any name demangles without panicking, and a
// name that changes becomes valid UTF-8 without control characters.
func FuzzDemangle(f *testing.F) {
	f.Add("_ZN10word_count7explode17hfd329a35aecdc7bfE")
	f.Add("_ZN50_$LT$T$u20$as$u20$core..convert..Into$LT$U$GT$$GT$4into17h0123456789abcdefE")
	f.Add("_ZN1$E")
	f.Fuzz(func(t *testing.T, name string) {
		got := demangle(name)
		if got == name {
			return
		}
		if !utf8.ValidString(got) {
			t.Fatalf("demangle(%q) = %q: not UTF-8", name, got)
		}
		if strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("demangle(%q) = %q: a control character", name, got)
		}
	})
}
