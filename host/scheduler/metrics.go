package scheduler

import (
	"fmt"
	"io"
)

// WriteMetrics writes the scheduler's counters in the Prometheus text format (it is an
// api.MetricsWriter: apflow serve adds it to GET /metrics).
func (s *Scheduler) WriteMetrics(w io.Writer) error {
	st := s.Stats()
	for _, m := range []struct {
		name, kind, help string
		v                int64
	}{
		{"apflow_scheduler_fired_total", "counter", "Scheduled occurrences claimed and started by this node.", st.Fired},
		{"apflow_scheduler_skipped_total", "counter", "Scheduled occurrences advanced without running (missed or overlapping).", st.Skipped},
		{"apflow_scheduler_lost_total", "counter", "Scheduled occurrences claimed whose run could not start.", st.Lost},
		{"apflow_scheduler_active_runs", "gauge", "Runs this node's scheduler started that are in progress.", int64(st.Active)},
	} {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.name, m.help, m.name, m.kind, m.name, m.v); err != nil {
			return err
		}
	}
	return nil
}
