package generate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxCandidates bounds how many '[' or '{' positions parseAnswer tries, so that a long
// answer full of brackets costs linear time at most maxCandidates times.
const maxCandidates = 32

// parseAnswer extracts the task list from a model's answer: the content of the first
// ```json (or ```) fence when there is one, else the first JSON value found in the text
// that is a task array, {"tasks": [...]} or one task object. Numbers keep their text
// (json.Number). The error says what was wrong, in words the model can act on.
func parseAnswer(text string) ([]map[string]any, error) {
	if body, ok := fenced(text); ok {
		if tasks, err := parseValue(strings.TrimSpace(body)); err == nil {
			return tasks, nil
		}
	}
	var firstErr error
	tried := 0
	for i := 0; i < len(text) && tried < maxCandidates; i++ {
		if text[i] != '[' && text[i] != '{' {
			continue
		}
		tried++
		tasks, err := parseValue(text[i:])
		if err == nil {
			return tasks, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		return nil, errors.New("the answer holds no JSON array of tasks")
	}
	return nil, firstErr
}

// fenced returns the body of the first ``` fence (its info string, such as json, dropped).
func fenced(text string) (string, bool) {
	start := strings.Index(text, "```")
	if start < 0 {
		return "", false
	}
	rest := text[start+3:]
	nl := strings.IndexByte(rest, '\n')
	if nl < 0 {
		return "", false
	}
	rest = rest[nl+1:]
	end := strings.Index(rest, "```")
	if end < 0 {
		return rest, true
	}
	return rest[:end], true
}

// parseValue decodes the first JSON value of s (what follows it is ignored) as a task list.
func parseValue(s string) ([]map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the answer is not valid JSON: %v", err)
	}
	switch x := v.(type) {
	case []any:
		return taskObjects(x)
	case map[string]any:
		if list, ok := x["tasks"]; ok {
			arr, ok := list.([]any)
			if !ok {
				return nil, errors.New(`"tasks" is not an array of task objects`)
			}
			return taskObjects(arr)
		}
		if _, ok := x["name"]; ok {
			return []map[string]any{x}, nil
		}
		return nil, errors.New(`the JSON object is neither {"tasks": [...]} nor a task (it has no "name")`)
	}
	return nil, errors.New("the JSON value is not an array of task objects")
}

func taskObjects(arr []any) ([]map[string]any, error) {
	if len(arr) == 0 {
		return nil, errors.New("the task array is empty")
	}
	out := make([]map[string]any, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("element %d of the task array is not an object", i)
		}
		out[i] = m
	}
	return out, nil
}

// marshalTasks encodes tasks as the JSON array tasks.create receives.
func marshalTasks(tasks []map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tasks); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}
