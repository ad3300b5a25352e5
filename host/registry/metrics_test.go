package registry

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// TestMetricsRoundTrip: /metrics shows every pool counter of every plugin, and
// ReadMetrics reads back exactly what Pools returns.
func TestMetricsRoundTrip(t *testing.T) {
	t.Parallel()
	r, _ := setup(t, map[string]string{"swap.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
	lookupRun(t, r, "swap")
	lookupRun(t, r, "swap")
	var b strings.Builder
	if err := r.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	hash := sandbox.Hash(fixture(t, "swap_v1.wasm"))
	for _, want := range []string{
		`apflow_plugin_calls_total{plugin="swap",sha256="` + hash + `"} 2`,
		`apflow_plugin_instances_created_total{plugin="swap",sha256="` + hash + `"} 1`,
		`apflow_plugin_instances_reused_total{plugin="swap",sha256="` + hash + `"} 1`,
		`apflow_plugin_pool_idle_instances{plugin="swap",sha256="` + hash + `"} 1`,
		`apflow_plugin_instances_recycled_total{plugin="other",`,
		`apflow_plugin_instances_discarded_total{plugin="other",`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("metrics lack %q:\n%s", want, b.String())
		}
	}
	got, err := ReadMetrics(strings.NewReader("# other series are skipped\napflow_tasks{status=\"pending\"} 3\n" + b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if want := r.Pools(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadMetrics = %+v, want %+v", got, want)
	}
}

func TestReadMetricsRejectsBadPoolLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, line, want string }{
		{"no value", `apflow_plugin_calls_total{plugin="a",sha256="b"}`, "no value"},
		{"bad value", `apflow_plugin_calls_total{plugin="a",sha256="b"} x`, "value"},
		{"no plugin", `apflow_plugin_calls_total{sha256="b"} 1`, "no plugin label"},
		{"unquoted", `apflow_plugin_calls_total{plugin=a} 1`, "label plugin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadMetrics(strings.NewReader("\n" + tc.line + "\n"))
			if err == nil || !strings.Contains(err.Error(), "metrics line 2") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming line 2 and %q", err, tc.want)
			}
		})
	}
}
