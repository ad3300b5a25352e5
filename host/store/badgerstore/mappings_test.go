package badgerstore

import (
	"strings"
	"testing"
)

func TestMappingsWarning(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		tables, limit int
		warn          bool
	}{
		{"a small store", 200, 65530, false},
		{"half the cap", 32765, 65530, false},
		{"over half", 32766, 65530, true},
		{"a raised cap", 40000, 262144, false},
		{"an unknown cap", 40000, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mappingsWarning(c.tables, c.limit)
			if (got != "") != c.warn {
				t.Fatalf("mappingsWarning(%d, %d) = %q, want a warning: %v", c.tables, c.limit, got, c.warn)
			}
			if c.warn && !strings.Contains(got, "vm.max_map_count=262120") {
				t.Errorf("the warning %q does not say how to raise the cap", got)
			}
		})
	}
}
