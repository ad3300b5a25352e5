package task

import "time"

// DefaultPriority is the priority of a task that does not set one (protocol: 2, normal).
const DefaultPriority = 2

// Priorities: 0 is the most urgent, 3 the least.
const (
	MinPriority = 0
	MaxPriority = 3
)

// Dependency is one entry of a task's dependencies list. A required dependency must be
// completed before the dependent starts; an optional one must only be terminal.
type Dependency struct {
	ID       string `json:"id"`
	Required bool   `json:"required"`
	// Key, when set, is the key under which the dependency's result is injected instead
	// of ID (docs/semantics.md rule 11): the reference the submission used for it, when
	// that was its name or an id local to the submission (apflow run's local ids), so
	// that templates over injected results work whatever id the dependency is stored
	// under.
	Key string `json:"key,omitempty"`
}

// InjectKey is the key under which the dependency's result is injected: Key, else ID.
func (d Dependency) InjectKey() string {
	if d.Key != "" {
		return d.Key
	}
	return d.ID
}

// Limits are per-task overrides of the sandbox limits (params.limits on the wire is
// copied here at submission). Zero means "use the operator default".
type Limits struct {
	TimeoutMS      int64  `json:"timeout_ms,omitempty"`
	MemoryPages    uint32 `json:"memory_pages,omitempty"`
	MaxResultBytes int64  `json:"max_result_bytes,omitempty"`
}

// Usage records what one execution of a task cost.
type Usage struct {
	DurationMS      float64 `json:"duration_ms"`
	PeakMemoryPages uint32  `json:"peak_memory_pages,omitempty"`
	HostCalls       int64   `json:"host_calls,omitempty"`
	BytesIn         int64   `json:"bytes_in,omitempty"`
	BytesOut        int64   `json:"bytes_out,omitempty"`
	// LLMInputTokens and LLMOutputTokens sum the tokens of the call's llm_complete
	// calls, as the providers reported them (docs/abi.md).
	LLMInputTokens  int64 `json:"llm_input_tokens,omitempty"`
	LLMOutputTokens int64 `json:"llm_output_tokens,omitempty"`
}

// Task is one unit of work. The zero value of a nullable field (empty string, zero time,
// nil map) is null on the wire.
//
// Inputs, Params and Schemas hold decoded JSON (numbers as json.Number so that integers
// survive unchanged); Result holds any JSON value.
type Task struct {
	ID           string         `json:"id"`
	ParentID     string         `json:"parent_id"`
	TaskTreeID   string         `json:"task_tree_id"`
	UserID       string         `json:"user_id"`
	Name         string         `json:"name"`
	Status       Status         `json:"status"`
	Priority     int            `json:"priority"`
	Dependencies []Dependency   `json:"dependencies"`
	Inputs       map[string]any `json:"inputs"`
	Params       map[string]any `json:"params"`
	Schemas      map[string]any `json:"schemas"`
	Result       any            `json:"result"`
	Error        string         `json:"error"`
	Progress     float64        `json:"progress"`

	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at"`

	HasChildren    bool       `json:"has_children"`
	OriginType     OriginType `json:"origin_type"`
	OriginalTaskID string     `json:"original_task_id"`
	HasReferences  bool       `json:"has_references"`

	ScheduleType       string    `json:"schedule_type"`
	ScheduleExpression string    `json:"schedule_expression"`
	ScheduleEnabled    bool      `json:"schedule_enabled"`
	ScheduleStartAt    time.Time `json:"schedule_start_at"`
	ScheduleEndAt      time.Time `json:"schedule_end_at"`
	NextRunAt          time.Time `json:"next_run_at"`
	LastRunAt          time.Time `json:"last_run_at"`
	MaxRuns            int       `json:"max_runs"` // 0: unlimited
	RunCount           int       `json:"run_count"`
	// ScheduleTimezone is the IANA time zone the schedule's wall times are read in ("" =
	// UTC); apflow-wasm's own (docs/semantics.md rule 3).
	ScheduleTimezone string `json:"schedule_timezone"`

	// apflow-wasm's own fields (docs/semantics.md rule 3).

	// Plugin is the sha256 content hash of the executor module that ran the task last
	// (empty for built-in executors and tasks that never ran).
	Plugin string `json:"plugin"`
	// Attempts counts how many times the task was started, crash recoveries included.
	Attempts int `json:"attempts"`
	// Retry is the attempt history of the current run and, while the task waits for its
	// next attempt, when that starts; nil for tasks whose retry policy allows one attempt
	// (docs/retries.md).
	Retry *RetryState `json:"retry"`
	// Limits are the per-task sandbox limit overrides.
	Limits Limits `json:"limits"`
	// Usage is the cost of the last execution.
	Usage *Usage `json:"usage"`
	// InputsBeforeHooks are the inputs the current attempt's pre-hooks got (after
	// dependency injection) when the hooks changed them; Inputs are then what the
	// executor got. nil when no pre-hook changed the inputs of the current attempt.
	InputsBeforeHooks map[string]any `json:"inputs_before_hooks"`
	// OwnInputs are the task's own inputs, as submitted or last updated, while Inputs
	// hold what an attempt made of them (dependency results injected, pre-hooks' edits);
	// nil when Inputs are the own inputs. Each attempt starts from them, and a reset or a
	// copy returns to them (docs/semantics.md rules 11, 15, 16): see OwnOrInputs.
	OwnInputs map[string]any `json:"own_inputs"`
	// HookErrors records failures of pre/post hooks on the last run; a failing hook never
	// changes the task's status.
	HookErrors []string `json:"hook_errors"`
	// Seq is the task's position in its submission; ties in priority are broken by it.
	Seq int `json:"seq"`
	// Run is set on a root while a run of its tree is in progress, or was interrupted by
	// a shutdown or a crash before it ended: the engine writes it before the run starts
	// its first task and clears it in the write that ends the run. Recover resumes exactly
	// the trees whose root carries it. nil (wire: null) when no run is active; always nil
	// on tasks that are not roots.
	Run *RunMarker `json:"run"`
}

// RunMarker describes a run of a tree that has not ended (Task.Run). Wire form:
// {"task_id": "<id>" | null, "full": bool, "started_at": "<timestamp>"}.
type RunMarker struct {
	// TaskID is the task a sub-tree run was asked for (engine RunOptions.TaskID); "" (null)
	// for a run of the whole tree.
	TaskID string `json:"task_id"`
	// Full is true for a full re-run (completed tasks re-run too).
	Full bool `json:"full"`
	// StartedAt is when the run started.
	StartedAt time.Time `json:"started_at"`
}

// Method returns the executor id of the task: params.executor_id if set, else
// schemas.method (docs/semantics.md rule 3), or "" when neither is set.
func (t *Task) Method() string {
	if s, ok := t.Params["executor_id"].(string); ok && s != "" {
		return s
	}
	if s, ok := t.Schemas["method"].(string); ok {
		return s
	}
	return ""
}

// IsRoot reports whether the task has no parent.
func (t *Task) IsRoot() bool { return t.ParentID == "" }

// Clone returns a deep copy of t, safe to modify without affecting t.
func (t *Task) Clone() *Task {
	c := *t
	c.Dependencies = append([]Dependency(nil), t.Dependencies...)
	c.Inputs = cloneMap(t.Inputs)
	c.InputsBeforeHooks = cloneMap(t.InputsBeforeHooks)
	c.OwnInputs = cloneMap(t.OwnInputs)
	c.Params = cloneMap(t.Params)
	c.Schemas = cloneMap(t.Schemas)
	c.Result = CloneValue(t.Result)
	c.HookErrors = append([]string(nil), t.HookErrors...)
	if t.Usage != nil {
		u := *t.Usage
		c.Usage = &u
	}
	if t.Run != nil {
		r := *t.Run
		c.Run = &r
	}
	c.Retry = t.Retry.clone()
	return &c
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = CloneValue(v)
	}
	return c
}

// CloneValue deep-copies a decoded JSON value (maps, slices and scalars).
func CloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = CloneValue(e)
		}
		return c
	default:
		return v
	}
}

// TreeNode is the wire form of a task tree: {"task": ..., "children": [...]}.
type TreeNode struct {
	Task     *Task       `json:"task"`
	Children []*TreeNode `json:"children"`
}

// BuildTree arranges tasks (one tree, in any order) into nested nodes under the task
// with id rootID. Children keep the order in which they appear in tasks. Tasks not
// reachable from the root are left out. It returns nil when rootID is not among tasks.
func BuildTree(tasks []*Task, rootID string) *TreeNode {
	nodes := make(map[string]*TreeNode, len(tasks))
	for _, t := range tasks {
		nodes[t.ID] = &TreeNode{Task: t, Children: []*TreeNode{}}
	}
	for _, t := range tasks {
		if t.ID == rootID || t.ParentID == "" {
			continue
		}
		if p, ok := nodes[t.ParentID]; ok {
			p.Children = append(p.Children, nodes[t.ID])
		}
	}
	return nodes[rootID]
}

// timeLayout is the wire form of timestamps: ISO-8601, UTC, microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// FormatTime renders t as the wire timestamp, or nil for the zero time.
func FormatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// ParseTime parses an ISO-8601 timestamp as clients send it (RFC 3339 with or without
// fraction, a trailing Z or an offset, or no zone at all meaning UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return time.Time{}, err
}
