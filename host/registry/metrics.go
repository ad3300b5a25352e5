package registry

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// PoolFigures are the instance pool counters of one plugin version.
type PoolFigures struct {
	ID   string            `json:"id"`
	Hash string            `json:"sha256"`
	Pool sandbox.PoolStats `json:"pool"`
}

// Pools returns the pool counters of every registered plugin, sorted by id. They count
// what this process did since the version was loaded.
func (r *Registry) Pools() []PoolFigures {
	plugins := r.Plugins()
	out := make([]PoolFigures, len(plugins))
	for i, p := range plugins {
		out[i] = PoolFigures{ID: p.Info.ID, Hash: p.Info.Hash, Pool: p.Pool}
	}
	return out
}

// WriteMetrics writes the instance pool figures of every registered plugin in the
// Prometheus text format (GET /metrics): one series per counter of sandbox.PoolStats,
// labelled with the plugin id and its sha256. ReadMetrics reads them back.
func (r *Registry) WriteMetrics(w io.Writer) error {
	figures := r.Pools()
	var b strings.Builder
	for _, s := range pools {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", s.name, s.help, s.name, s.kind)
		for _, p := range figures {
			fmt.Fprintf(&b, "%s{plugin=%q,sha256=%q} %d\n", s.name, p.ID, p.Hash, *s.field(&p.Pool))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ReadMetrics returns the pool figures of the plugins in a /metrics document written by
// WriteMetrics (other series are skipped), sorted by id then sha256. A pool series line it
// cannot read is an error naming the line.
func ReadMetrics(r io.Reader) ([]PoolFigures, error) {
	byKey := map[[2]string]*PoolFigures{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		s := seriesNamed(name)
		if !ok || s == nil {
			continue
		}
		id, hash, value, err := parsePoolLine(rest)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d (%q): %v", n, line, err)
		}
		k := [2]string{id, hash}
		p := byKey[k]
		if p == nil {
			p = &PoolFigures{ID: id, Hash: hash}
			byKey[k] = p
		}
		*s.field(&p.Pool) = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	out := make([]PoolFigures, 0, len(byKey))
	for _, p := range byKey {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Hash < out[j].Hash
	})
	return out, nil
}

// parsePoolLine reads `plugin="id",sha256="hash"} value`, the rest of a pool series line.
func parsePoolLine(rest string) (id, hash string, value int64, err error) {
	labels, v, ok := strings.Cut(rest, "} ")
	if !ok {
		return "", "", 0, fmt.Errorf("no value after the labels")
	}
	for labels != "" {
		var key string
		if key, labels, ok = strings.Cut(labels, "="); !ok {
			return "", "", 0, fmt.Errorf("label without a value")
		}
		quoted, err := strconv.QuotedPrefix(labels)
		if err != nil {
			return "", "", 0, fmt.Errorf("label %s: %v", key, err)
		}
		val, _ := strconv.Unquote(quoted)
		switch key {
		case "plugin":
			id = val
		case "sha256":
			hash = val
		}
		labels = strings.TrimPrefix(labels[len(quoted):], ",")
	}
	if id == "" {
		return "", "", 0, fmt.Errorf("no plugin label")
	}
	if value, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
		return "", "", 0, fmt.Errorf("value: %v", err)
	}
	return id, hash, value, nil
}

// poolSeries is one metric series of the pool figures: its name, help, type and the
// counter it shows.
type poolSeries struct {
	name, help, kind string
	field            func(*sandbox.PoolStats) *int64
}

// pools are the metric series WriteMetrics writes for each plugin, one per counter.
var pools = []poolSeries{
	{"apflow_plugin_calls_total", "Executions and hook calls that asked the pool for an instance.", "counter", func(s *sandbox.PoolStats) *int64 { return &s.Calls }},
	{"apflow_plugin_pool_idle_instances", "Idle instances kept for reuse.", "gauge", func(s *sandbox.PoolStats) *int64 { return &s.Idle }},
	{"apflow_plugin_instances_created_total", "Instances created for a call (each ran _initialize).", "counter", func(s *sandbox.PoolStats) *int64 { return &s.Created }},
	{"apflow_plugin_instances_reused_total", "Calls served by a pooled instance.", "counter", func(s *sandbox.PoolStats) *int64 { return &s.Reused }},
	{"apflow_plugin_instances_recycled_total", "Healthy instances closed: age, memory or stack growth, changed grants, a smaller memory limit, or no room in the pool.", "counter", func(s *sandbox.PoolStats) *int64 { return &s.Recycled }},
	{"apflow_plugin_instances_discarded_total", "Instances closed after a trap, timeout, interrupt, limit hit or bad result.", "counter", func(s *sandbox.PoolStats) *int64 { return &s.Discarded }},
}

// seriesNamed returns the pool series called name, or nil.
func seriesNamed(name string) *poolSeries {
	for i := range pools {
		if pools[i].name == name {
			return &pools[i]
		}
	}
	return nil
}
