package api

import (
	"bytes"
	"encoding/json"

	"github.com/apflow-wasm/apflow/host/schema"
)

// submissionSkeleton decodes the params of a submission method for its params schema
// with every task object of a task array left empty: an array of tasks, or the "tasks"
// member of an object. The schema checks such a task only for being an object; the
// submission validator then reads each task in depth once, and names the task in each
// problem (docs/api.md, "JSON-RPC envelope"). Decoding and validating every task for
// the schema first cost a 100,000-task tasks.execute over a second of CPU
// (docs/performance.md, fifteenth pass). An item that is not an object, and every other
// member, is decoded as schema.Decode decodes it.
func submissionSkeleton(raw []byte) (any, error) {
	lead := bytes.TrimLeft(raw, " \t\r\n") // JSON's white space
	if len(lead) == 0 {
		return schema.Decode(raw)
	}
	switch lead[0] {
	case '[':
		return taskArraySkeleton(raw)
	case '{':
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(members))
		for k, v := range members {
			var err error
			if k == "tasks" && bytes.HasPrefix(v, []byte("[")) { // a member's value starts at its first byte
				out[k], err = taskArraySkeleton(v)
			} else {
				out[k], err = schema.Decode(v)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return schema.Decode(raw)
}

// taskArraySkeleton decodes a JSON array with each object item as an empty object.
func taskArraySkeleton(raw []byte) ([]any, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, it := range items {
		if bytes.HasPrefix(it, []byte("{")) {
			out[i] = map[string]any{}
			continue
		}
		v, err := schema.Decode(it)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
