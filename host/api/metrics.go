package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// MetricsWriter adds lines in the Prometheus text format to GET /metrics: the plugin
// registry's pool counters, a scheduler's figures. The server calls those of
// Config.Metrics.
type MetricsWriter interface {
	WriteMetrics(w io.Writer) error
}

// durationBuckets are the upper bounds, in seconds, of every duration histogram.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// histogram is a Prometheus histogram with fixed buckets.
type histogram struct {
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

func newHistogram() *histogram { return &histogram{counts: make([]uint64, len(durationBuckets)+1)} }

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(durationBuckets, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func (h *histogram) write(w io.Writer, name, labels string) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, b := range durationBuckets {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%s%sle=%q} %d\n", name, labels, sep, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	cum += h.counts[len(durationBuckets)]
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, cum)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, labels, strconv.FormatFloat(h.sum, 'g', -1, 64), name, labels, h.n)
}

type httpKey struct {
	method, route string
	code          int
}

// metrics are the server's own counters; everything else is read at scrape time.
type metrics struct {
	mu       sync.Mutex
	requests map[httpKey]uint64
	httpDur  map[string]*histogram // by route
	rpc      map[string]uint64     // calls by JSON-RPC method
	runs     map[string]uint64     // finished runs by root status
	runDur   *histogram
	execDur  map[string]*histogram // by executor id
}

func newMetrics() *metrics {
	return &metrics{requests: map[httpKey]uint64{}, httpDur: map[string]*histogram{}, rpc: map[string]uint64{},
		runs: map[string]uint64{}, runDur: newHistogram(), execDur: map[string]*histogram{}}
}

func (m *metrics) observeHTTP(method, route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[httpKey{method, route, code}]++
	h := m.httpDur[route]
	if h == nil {
		h = newHistogram()
		m.httpDur[route] = h
	}
	h.observe(d.Seconds())
}

func (m *metrics) observeRPC(method string) {
	m.mu.Lock()
	m.rpc[method]++
	m.mu.Unlock()
}

func (m *metrics) observeRun(status string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[status]++
	m.runDur.observe(d.Seconds())
}

func (m *metrics) observeExecutor(id string, seconds float64) {
	if math.IsNaN(seconds) || seconds < 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.execDur[id]
	if h == nil {
		h = newHistogram()
		m.execDur[id] = h
	}
	h.observe(seconds)
}

// label escapes a label value.
func label(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP apflow_http_requests_total HTTP requests by method, route and status code.")
	fmt.Fprintln(w, "# TYPE apflow_http_requests_total counter")
	keys := make([]httpKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.route != b.route {
			return a.route < b.route
		}
		if a.method != b.method {
			return a.method < b.method
		}
		return a.code < b.code
	})
	for _, k := range keys {
		fmt.Fprintf(w, "apflow_http_requests_total{method=%q,route=%q,code=\"%d\"} %d\n", label(k.method), label(k.route), k.code, m.requests[k])
	}
	fmt.Fprintln(w, "# HELP apflow_http_request_duration_seconds HTTP request latency by route.")
	fmt.Fprintln(w, "# TYPE apflow_http_request_duration_seconds histogram")
	for _, r := range slices.Sorted(maps.Keys(m.httpDur)) {
		m.httpDur[r].write(w, "apflow_http_request_duration_seconds", fmt.Sprintf("route=%q", label(r)))
	}
	fmt.Fprintln(w, "# HELP apflow_rpc_calls_total JSON-RPC calls by method.")
	fmt.Fprintln(w, "# TYPE apflow_rpc_calls_total counter")
	for _, k := range slices.Sorted(maps.Keys(m.rpc)) {
		fmt.Fprintf(w, "apflow_rpc_calls_total{method=%q} %d\n", label(k), m.rpc[k])
	}
	fmt.Fprintln(w, "# HELP apflow_runs_total Runs started through the API that ended, by final root status.")
	fmt.Fprintln(w, "# TYPE apflow_runs_total counter")
	for _, k := range slices.Sorted(maps.Keys(m.runs)) {
		fmt.Fprintf(w, "apflow_runs_total{status=%q} %d\n", label(k), m.runs[k])
	}
	fmt.Fprintln(w, "# HELP apflow_run_duration_seconds Duration of runs started through the API.")
	fmt.Fprintln(w, "# TYPE apflow_run_duration_seconds histogram")
	m.runDur.write(w, "apflow_run_duration_seconds", "")
	fmt.Fprintln(w, "# HELP apflow_executor_duration_seconds Executor (plugin call) latency by executor id: every call this node made.")
	fmt.Fprintln(w, "# TYPE apflow_executor_duration_seconds histogram")
	for _, k := range slices.Sorted(maps.Keys(m.execDur)) {
		m.execDur[k].write(w, "apflow_executor_duration_seconds", fmt.Sprintf("executor=%q", label(k)))
	}
}

// handleMetrics serves GET /metrics in the Prometheus text format 0.0.4.
func (s *Server) handleMetrics(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	c.Response().Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c.Response().WriteHeader(http.StatusOK)
	w := bufio.NewWriter(c.Response())
	defer w.Flush()
	fmt.Fprintln(w, "# HELP apflow_tasks Stored tasks by status.")
	fmt.Fprintln(w, "# TYPE apflow_tasks gauge")
	if counts, err := s.cfg.Store.CountByStatus(ctx, store.Filter{}); err != nil {
		s.log.Warn("metrics: count tasks", "error", err)
	} else {
		for _, st := range task.Statuses {
			fmt.Fprintf(w, "apflow_tasks{status=%q} %d\n", st, counts[st])
		}
	}
	runs := s.cfg.Engine.Running()
	var running, tasks int64
	for _, r := range runs {
		running += r.Running
		tasks += r.Tasks
	}
	fmt.Fprintln(w, "# HELP apflow_runs_in_progress Runs in progress.")
	fmt.Fprintln(w, "# TYPE apflow_runs_in_progress gauge")
	fmt.Fprintf(w, "apflow_runs_in_progress %d\n", len(runs))
	fmt.Fprintln(w, "# HELP apflow_tasks_executing Tasks executing now, over all runs.")
	fmt.Fprintln(w, "# TYPE apflow_tasks_executing gauge")
	fmt.Fprintf(w, "apflow_tasks_executing %d\n", running)
	fmt.Fprintln(w, "# HELP apflow_executors Registered executors.")
	fmt.Fprintln(w, "# TYPE apflow_executors gauge")
	fmt.Fprintf(w, "apflow_executors %d\n", len(s.cfg.Catalog.List()))
	s.metrics.write(w)
	if s.cfg.Cluster != nil {
		if err := writeClusterMetrics(ctx, w, s.cfg.Cluster); err != nil {
			s.log.Warn("metrics: cluster status", "error", err)
		}
	}
	for _, mw := range s.cfg.Metrics {
		if err := mw.WriteMetrics(w); err != nil {
			s.log.Warn("metrics writer failed", "error", err)
		}
	}
	return nil
}
