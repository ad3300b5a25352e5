package task

import (
	"regexp"
	"testing"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		u := NewID()
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("bad or repeated id %q", u)
		}
		seen[u] = true
	}
}
