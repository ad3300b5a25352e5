package submit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/task"
)

// Schedule types (docs/tree-format.md, "Task fields").
var scheduleTypes = map[string]bool{
	"once": true, "interval": true, "cron": true, "daily": true, "weekly": true, "monthly": true,
}

// fieldDecoder decodes the known fields of one task object, recording a problem for
// each field of the wrong type. Unknown fields and server-managed fields (result,
// error, progress, timestamps, ...) are ignored.
type fieldDecoder struct {
	spec   *Spec
	fields map[string]any // the task object, numbers as json.Number
	probs  *[]apferr.Problem
}

// decodeSpec decodes one task object, given decoded (numbers as json.Number); ns
// qualifies its id and task_tree_id (see Options.Namespace).
func decodeSpec(index int, v any, ns task.Namespace, probs *[]apferr.Problem) *Spec {
	s := &Spec{Index: index}
	fields, isObj := v.(map[string]any)
	if !isObj {
		p := taskProblem(s, "", "a task must be a JSON object")
		p.Code, p.Expected, p.Actual = apferr.InvalidParams, "object", valueType(v)
		*probs = append(*probs, p)
		return s
	}
	d := &fieldDecoder{spec: s, probs: probs}
	d.fields = fields
	// The id is read first so that problems of the name name the id; a too long id is
	// reported after the name is read, so that its problem names the task.
	id, _ := d.str("id")
	id = ns.Qualify(id)
	idLen := utf8.RuneCountInString(id)
	if idLen <= MaxIDLen {
		s.ID = id
	}
	if d.fields["name"] == nil {
		d.problem("name", "every task needs a name (names are unique and may stand for ids)", "non-empty string", nil)
	} else if name, ok := d.str("name"); ok {
		switch n := utf8.RuneCountInString(name); {
		case n == 0:
			d.problem("name", "must not be empty", "non-empty string", "")
		case n > MaxNameLen:
			d.problem("name", fmt.Sprintf("longer than %d characters", MaxNameLen), fmt.Sprintf("at most %d characters", MaxNameLen), n)
		default:
			s.Name = name
		}
	}
	if idLen > MaxIDLen {
		d.problem("id", idTooLong(id, ns), fmt.Sprintf("at most %d characters", MaxIDLen), idLen)
	}
	s.Parent, _ = d.str("parent_id")
	s.TreeID, _ = d.str("task_tree_id")
	s.TreeID = ns.Qualify(s.TreeID)
	s.UserID, _ = d.str("user_id")
	if st, ok := d.str("status"); ok && st != string(task.Pending) {
		d.problem("status", "a new task always starts pending; leave status out", "pending or absent", st)
	}
	if n, ok := d.integer("priority", "integer 0-3"); ok {
		p := int(n)
		s.Priority = &p
	}
	d.dependencies()
	s.Inputs, _ = d.object("inputs")
	s.Schemas, _ = d.object("schemas")
	d.schemas()
	s.Params, _ = d.object("params")
	d.params()
	d.schedule()
	return s
}

// sharedSchemas holds, per executor id, the schemas map that the tasks of one submission
// whose schemas are {"method": id} alone share. Such a map (two allocations, about 300
// bytes) was the second largest share of a large submission's memory after the tasks
// themselves, held from decoding until the tasks are stored and their run has its view
// of them (docs/performance.md, twelfth pass).
type sharedSchemas map[string]map[string]any

// maxSharedSchemas bounds the executors a submission shares schemas maps for.
const maxSharedSchemas = 256

// share returns the map shared for m's content when m holds a method alone, else m.
func (c sharedSchemas) share(m map[string]any) map[string]any {
	if len(m) != 1 {
		return m
	}
	id, ok := m["method"].(string)
	if !ok {
		return m
	}
	if s, ok := c[id]; ok {
		return s
	}
	if len(c) < maxSharedSchemas {
		c[id] = m
	}
	return m
}

// problem records a problem on field of the task being decoded.
func (d *fieldDecoder) problem(field, reason string, expected, actual any) {
	p := taskProblem(d.spec, field, reason)
	p.Code, p.Expected, p.Actual = apferr.InvalidParams, expected, actual
	*d.probs = append(*d.probs, p)
}

// value returns the value of key; ok is false when the key is absent or null.
func (d *fieldDecoder) value(key string) (any, bool) {
	v := d.fields[key]
	return v, v != nil
}

// str decodes a string field; ok is false when absent, null or of the wrong type.
func (d *fieldDecoder) str(key string) (string, bool) {
	v, ok := d.value(key)
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		d.problem(key, "must be a string", "string", task.Summarize(v))
		return "", false
	}
	return s, true
}

func (d *fieldDecoder) object(key string) (map[string]any, bool) {
	v, ok := d.value(key)
	if !ok {
		return nil, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		d.problem(key, "must be an object", "object", task.Summarize(v))
		return nil, false
	}
	return m, true
}

func (d *fieldDecoder) boolean(key string) (bool, bool) {
	v, ok := d.value(key)
	if !ok {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		d.problem(key, "must be a boolean", "boolean", task.Summarize(v))
		return false, false
	}
	return b, true
}

func (d *fieldDecoder) integer(key, expected string) (int64, bool) {
	v, ok := d.value(key)
	if !ok {
		return 0, false
	}
	n, err := toInt(v)
	if err != nil {
		d.problem(key, "must be an integer", expected, task.Summarize(v))
		return 0, false
	}
	return n, true
}

func (d *fieldDecoder) timestamp(key string) time.Time {
	s, ok := d.str(key)
	if !ok || s == "" {
		return time.Time{}
	}
	t, err := task.ParseTime(s)
	if err != nil {
		d.problem(key, "not an ISO-8601 timestamp", "ISO-8601 timestamp", s)
		return time.Time{}
	}
	return t
}

// dependencies decodes the three accepted item shapes: "X", {"id": "X"} and
// {"name": "X"}, each optionally with "required" (default true) and "type" (ignored); an
// object may give the "key" its result is injected under (as tasks.get shows it). Any
// other member of an object is refused, naming it: a misspelt "required" must not leave
// a dependency required unnoticed.
func (d *fieldDecoder) dependencies() {
	v, ok := d.value("dependencies")
	if !ok {
		return
	}
	items, isArr := v.([]any)
	if !isArr {
		d.problem("dependencies", "must be an array", "array of dependency items", task.Summarize(v))
		return
	}
	for i, item := range items {
		field := fmt.Sprintf("dependencies[%d]", i)
		const shapes = `"<id or name>", {"id": "...", "required": true} or {"name": "..."}`
		switch it := item.(type) {
		case string:
			if it == "" {
				d.problem(field, "empty dependency reference", shapes, "")
				continue
			}
			d.spec.Dependencies = append(d.spec.Dependencies, DepRef{Ref: it, Required: true})
		case map[string]any:
			dep := DepRef{Required: true}
			bad := false
			for _, k := range slices.Sorted(maps.Keys(it)) {
				if !isDependencyMember(k) {
					d.problem(field+"."+k, `unknown member of a dependency (known: "id", "name", "required", "key", "type")`, "no such member", task.Summarize(it[k]))
					bad = true
				}
			}
			if r, present := it["required"]; present && r != nil {
				b, isBool := r.(bool)
				if !isBool {
					d.problem(field+".required", "must be a boolean", "boolean", task.Summarize(r))
					bad = true
				}
				dep.Required = b
			}
			if k, present := it["key"]; present && k != nil {
				s, isStr := k.(string)
				if !isStr || s == "" || utf8.RuneCountInString(s) > MaxIDLen {
					d.problem(field+".key", fmt.Sprintf("must be a non-empty string of at most %d characters", MaxIDLen), "string", task.Summarize(k))
					bad = true
				}
				dep.Key = s
			}
			id, hasID := it["id"]
			name, hasName := it["name"]
			switch {
			case hasID && id != nil:
				s, isStr := id.(string)
				if !isStr || s == "" {
					d.problem(field+".id", "must be a non-empty string", "string", task.Summarize(id))
					continue
				}
				dep.Ref = s
			case hasName && name != nil:
				s, isStr := name.(string)
				if !isStr || s == "" {
					d.problem(field+".name", "must be a non-empty string", "string", task.Summarize(name))
					continue
				}
				dep.Ref, dep.ByName = s, true
			default:
				d.problem(field, "a dependency object needs \"id\" or \"name\"", shapes, task.Summarize(it))
				continue
			}
			if !bad {
				d.spec.Dependencies = append(d.spec.Dependencies, dep)
			}
		default:
			d.problem(field, "not a dependency item", shapes, task.Summarize(item))
		}
	}
}

// isDependencyMember reports whether a dependency object may have the member k.
func isDependencyMember(k string) bool {
	switch k {
	case "id", "name", "required", "key", "type":
		return true
	}
	return false
}

// schemas checks the known keys of schemas: method and input_schema.
func (d *fieldDecoder) schemas() {
	s := d.spec.Schemas
	if s == nil {
		return
	}
	if m, ok := s["method"]; ok && m != nil {
		if str, isStr := m.(string); !isStr || str == "" {
			d.problem("schemas.method", "must be a non-empty string (an executor id)", "string", task.Summarize(m))
			delete(s, "method")
		}
	}
	if is, ok := s["input_schema"]; ok && is != nil {
		switch is.(type) {
		case map[string]any, bool:
		default:
			d.problem("schemas.input_schema", "must be a JSON Schema (an object or a boolean)", "object", task.Summarize(is))
			delete(s, "input_schema")
		}
	}
}

// params checks params (task.CheckParams) and moves params.limits (or the top-level
// limits field) into Spec.Limits.
func (d *fieldDecoder) params() {
	top, given := d.fields["limits"]
	l, _, probs := task.CheckParams(top, given, d.spec.Params)
	for _, pr := range probs {
		d.problem(pr.Field, pr.Reason, pr.Expected, pr.Actual)
	}
	d.spec.Limits = l
}

func (d *fieldDecoder) schedule() {
	s := d.spec
	if t, ok := d.str("schedule_type"); ok && t != "" {
		if !scheduleTypes[t] {
			d.problem("schedule_type", "unknown schedule type", "once, interval, cron, daily, weekly or monthly", t)
		} else {
			s.ScheduleType = t
		}
	}
	s.ScheduleExpression, _ = d.str("schedule_expression")
	s.ScheduleEnabled, _ = d.boolean("schedule_enabled")
	s.ScheduleStartAt = d.timestamp("schedule_start_at")
	s.ScheduleEndAt = d.timestamp("schedule_end_at")
	if n, ok := d.integer("max_runs", "integer >= 1 or null"); ok {
		if n < 0 {
			d.problem("max_runs", "must not be negative", "integer >= 1 or null", n)
		} else {
			s.MaxRuns = int(n)
		}
	}
	if tz, ok := d.str("schedule_timezone"); ok && tz != "" {
		if _, err := schedule.Location(tz); err != nil {
			d.problem("schedule_timezone", err.Error(), "an IANA time zone name", tz)
		} else {
			s.ScheduleTimezone = tz
		}
	}
	if s.ScheduleEnabled && (s.ScheduleType == "" || s.ScheduleExpression == "") {
		d.problem("schedule_enabled", "an enabled schedule needs schedule_type and schedule_expression", "schedule_type and schedule_expression set", true)
	}
	if s.ScheduleType != "" && s.ScheduleExpression != "" {
		loc, _ := schedule.Location(s.ScheduleTimezone)
		if _, err := schedule.Parse(s.ScheduleType, s.ScheduleExpression, loc); err != nil {
			d.problem("schedule_expression", err.Error(), "an expression of the schedule type", s.ScheduleExpression)
		}
	}
	if !s.ScheduleStartAt.IsZero() && !s.ScheduleEndAt.IsZero() && s.ScheduleEndAt.Before(s.ScheduleStartAt) {
		d.problem("schedule_end_at", "ends before schedule_start_at", "a time after schedule_start_at", task.FormatTime(s.ScheduleEndAt))
	}
	if _, err := schedule.PolicyOf(&task.Task{Params: s.Params}); err != nil {
		var fe *schedule.FieldError
		errors.As(err, &fe)
		d.problem(fe.Field, fe.Err.Error(), "a schedule policy (docs/schedules.md)", s.Params[strings.TrimPrefix(fe.Field, "params.")])
	}
}

// decodeValue decodes one JSON value with numbers as json.Number.
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

var errNotInt = errors.New("not an integer")

// toInt converts a decoded JSON number to an int64 (task.WholeNumber).
func toInt(v any) (int64, error) {
	if n, ok := task.WholeNumber(v); ok {
		return n, nil
	}
	return 0, errNotInt
}
