package badgerstore

import (
	"fmt"
	"sync"

	"github.com/apflow-wasm/apflow/host/task"
)

// The stored value of a task has two parts (marshalTask):
//
//	0x01 <fields> <tail>
//
// fields holds, in binary, the members that dominate the size of a small task: its ids
// (a UUID in 17 bytes, a repeated one in 2), its status, priority, seq and attempts, its
// four lifecycle times (microseconds, the later three as offsets from created_at when it
// is set), the plugin's sha256 (33 bytes) and its usage (see compactFields). tail is the
// rest of the task's wire form without the members that read back the same when absent
// (task.Task.AppendJSON, omitting what storedZero names). A field is put in fields only
// when its binary form reads back exactly as its wire form would (a string that is valid UTF-8, a time within the years 0-9999,
// finite usage); otherwise it stays in tail. A completed echo task is then about 200
// bytes, against 640 for the wire form without its null, false and 0 members and 1,160
// for the whole wire form: under Options.ValueThreshold, such a task lives in the LSM
// tree and a commit that completes it and starts its dependent writes one file, not two.
//
// A value starting with '{' is the JSON form earlier versions stored (the whole wire form,
// or without its null, false and 0 members) and reads the same.
const compactTag = 0x01

// tailTasks holds the task.Task values marshalTask copies a task into to write its tail:
// a copy escapes (AppendJSON calls each field's encoder through a function value), and a
// new one for every value written was about 5% of the bytes a run allocates.
var tailTasks = sync.Pool{New: func() any { return new(task.Task) }}

// marshalTask returns the stored value of t.
func marshalTask(t *task.Task) ([]byte, error) {
	var f compactFields
	rest := tailTasks.Get().(*task.Task)
	f.take(t, rest)
	out, err := rest.AppendJSON(f.append(append(make([]byte, 0, 256), compactTag)), storedZero)
	*rest = task.Task{} // holds nothing of t in the pool
	tailTasks.Put(rest)
	if err != nil {
		return nil, fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	return out, nil
}

// unmarshalTask decodes a stored value, in either form.
func unmarshalTask(raw []byte) (*task.Task, error) {
	t := new(task.Task)
	if len(raw) == 0 || raw[0] != compactTag {
		if err := t.UnmarshalJSON(raw); err != nil {
			return nil, err
		}
		return t, nil
	}
	var f compactFields
	tail, err := f.read(raw[1:])
	if err != nil {
		return nil, err
	}
	if err := t.UnmarshalJSON(tail); err != nil {
		return nil, err
	}
	f.put(t)
	emptyForNull(t)
	return t, nil
}

// storedZero reports whether the member name: v of a task's wire form is left out of the
// stored tail because decoding reads its absence the same: null; false, 0 and "" (every
// member of the wire form is a pointer, map, slice, bool, number or string, whose zero
// value is what they decode to) except for the result, an any, where they are values;
// and the empty dependencies and inputs, which read back empty either way (emptyForNull
// restores them on reading).
func storedZero(name string, v []byte) bool {
	switch string(v) {
	case "null":
		return true
	case "false", "0", `""`:
		return name != "result"
	case "[]":
		return name == "dependencies"
	case "{}":
		return name == "inputs"
	}
	return false
}
