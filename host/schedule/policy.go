package schedule

import (
	"fmt"

	"github.com/apflow-wasm/apflow/host/task"
)

// Policy says what the scheduler does with an occurrence it cannot run as planned
// (docs/decisions.md §16). A task sets it in its params: params.schedule_missed and
// params.schedule_overlap; absent means the default.
type Policy struct {
	// Missed is for an occurrence found later than the scheduler's missed-after delay
	// (after downtime): MissedSkip (default) advances to the next future occurrence
	// without running; MissedRunOnce (the default of a once schedule, whose only run
	// skipping would lose) runs once now, then advances.
	Missed string
	// Overlap is for an occurrence that comes due while the previous run of the tree
	// is still going: OverlapSkip (default) advances without running; OverlapWait keeps
	// the occurrence due until the run ends (then Missed decides, as it is late).
	Overlap string
}

// The values of a Policy.
const (
	MissedSkip    = "skip"
	MissedRunOnce = "run_once"
	OverlapSkip   = "skip"
	OverlapWait   = "wait"
)

// The params keys of a Policy.
const (
	ParamMissed  = "schedule_missed"
	ParamOverlap = "schedule_overlap"
)

// PolicyOf reads the policy of t from its params. The error is a *FieldError naming
// "params.schedule_missed" or "params.schedule_overlap".
func PolicyOf(t *task.Task) (Policy, error) {
	p := Policy{Missed: MissedSkip, Overlap: OverlapSkip}
	if t.ScheduleType == "once" {
		p.Missed = MissedRunOnce
	}
	for _, f := range []struct {
		key  string
		dst  *string
		want []string
	}{
		{ParamMissed, &p.Missed, []string{MissedSkip, MissedRunOnce}},
		{ParamOverlap, &p.Overlap, []string{OverlapSkip, OverlapWait}},
	} {
		v, ok := t.Params[f.key]
		if !ok || v == nil {
			continue
		}
		s, _ := v.(string)
		if s != f.want[0] && s != f.want[1] {
			return Policy{}, &FieldError{Field: "params." + f.key,
				Err: fmt.Errorf("want %q or %q, got %v", f.want[0], f.want[1], v)}
		}
		*f.dst = s
	}
	return p, nil
}
