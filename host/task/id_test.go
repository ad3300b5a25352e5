package task

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	before := time.Now().UnixMilli()
	for i := 0; i < 10000; i++ {
		u := NewID()
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("bad or repeated id %q", u)
		}
		seen[u] = true
		if ms := idMillis(t, u); ms < before || ms > time.Now().UnixMilli() {
			t.Fatalf("id %q carries %d ms, made between %d and now", u, ms, before)
		}
	}
}

// idMillis returns the Unix milliseconds in the first 48 bits of a version 7 UUID.
func idMillis(t *testing.T, id string) int64 {
	t.Helper()
	ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
	if err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	return ms
}

func TestNewIDOrder(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 12, 4, 16, 30, 59, 999_000_000, time.UTC)
	tests := []struct {
		name   string
		before time.Time
		after  time.Time
	}{
		{"a microsecond later, same millisecond", base, base.Add(time.Microsecond)},
		{"the next millisecond, fraction lower", base.Add(900 * time.Microsecond), base.Add(1100 * time.Microsecond)},
		{"across a second", base.Add(999 * time.Microsecond), base.Add(time.Millisecond)},
		{"a day later", base, base.Add(24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 100; i++ { // whatever the random bits
				a, b := newID(tt.before), newID(tt.after)
				if a >= b {
					t.Fatalf("id of %v %q sorts after id of %v %q", tt.before, a, tt.after, b)
				}
			}
			if ms := idMillis(t, newID(tt.after)); ms != tt.after.UnixMilli() {
				t.Fatalf("id carries %d ms, want %d", ms, tt.after.UnixMilli())
			}
		})
	}
}

func TestNewIDLayout(t *testing.T) {
	t.Parallel()
	ms := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC).UnixMilli() // 0x01a241ff9a80
	tests := []struct {
		name    string
		at      time.Time
		version string // the third group: version 7, then the fraction's 12 bits
	}{
		{"start of a millisecond", time.UnixMilli(ms), "7000"},
		{"half of it", time.UnixMilli(ms).Add(500 * time.Microsecond), "7800"},
		{"its last nanosecond", time.UnixMilli(ms).Add(999_999), "7fff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newID(tt.at)
			if got := id[:8] + id[9:13]; got != "01a241ff9a80" {
				t.Errorf("id %q: time bits %s, want 01a241ff9a80", id, got)
			}
			if got := id[14:18]; got != tt.version {
				t.Errorf("id %q: version and fraction %s, want %s", id, got, tt.version)
			}
			if v := id[19]; v != '8' && v != '9' && v != 'a' && v != 'b' {
				t.Errorf("id %q: variant digit %c, want 8, 9, a or b", id, v)
			}
		})
	}
}
