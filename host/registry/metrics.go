package registry

import (
	"fmt"
	"io"
	"strings"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// WriteMetrics writes the instance pool figures of every registered plugin in the
// Prometheus text format (GET /metrics).
func (r *Registry) WriteMetrics(w io.Writer) error {
	plugins := r.Plugins()
	var b strings.Builder
	for _, s := range poolSeries {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", s.name, s.help, s.name, s.kind)
		for _, p := range plugins {
			fmt.Fprintf(&b, "%s{plugin=%q,sha256=%q} %d\n", s.name, p.Info.ID, p.Info.Hash, s.value(p.Pool))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// poolSeries are the metric series WriteMetrics writes for each plugin.
var poolSeries = []struct {
	name, help, kind string
	value            func(sandbox.PoolStats) int64
}{
	{"apflow_plugin_pool_idle_instances", "Idle instances kept for reuse.", "gauge", func(s sandbox.PoolStats) int64 { return int64(s.Idle) }},
	{"apflow_plugin_instances_created_total", "Instances created.", "counter", func(s sandbox.PoolStats) int64 { return s.Created }},
	{"apflow_plugin_instances_reused_total", "Calls served by a pooled instance.", "counter", func(s sandbox.PoolStats) int64 { return s.Reused }},
	{"apflow_plugin_instances_recycled_total", "Healthy instances closed for age or memory growth.", "counter", func(s sandbox.PoolStats) int64 { return s.Recycled }},
	{"apflow_plugin_instances_discarded_total", "Instances closed after a trap, timeout, limit or bad result.", "counter", func(s sandbox.PoolStats) int64 { return s.Discarded }},
}
