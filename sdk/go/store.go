package apflow

import (
	"encoding/json"
	"fmt"
)

// Store reads and updates tasks through the store_call host function. Only hooks granted
// the "repository" capability may use it; for anyone else every call returns the host's
// refusal as an error.
type Store struct{ host Host }

// Store returns the task store of the context's host.
func (c *Context) Store() *Store { return &Store{host: c.host} }

// TaskQuery selects tasks for [Store.ListTasks]; zero fields do not filter.
type TaskQuery struct {
	Status string `json:"status,omitempty"`
	TreeID string `json:"tree_id,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// TaskList is one page of tasks and the number of tasks matching the query.
type TaskList struct {
	Tasks []*Task `json:"tasks"`
	Total int     `json:"total"`
}

// GetTask returns the task with the given id.
func (s *Store) GetTask(id string) (*Task, error) {
	var t Task
	if err := s.call(map[string]any{"op": "get_task", "id": id}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTasks returns the tasks matching q.
func (s *Store) ListTasks(q TaskQuery) (*TaskList, error) {
	req := map[string]any{"op": "list_tasks"}
	if q.Status != "" {
		req["status"] = q.Status
	}
	if q.TreeID != "" {
		req["tree_id"] = q.TreeID
	}
	if q.Limit > 0 {
		req["limit"] = q.Limit
	}
	var l TaskList
	if err := s.call(req, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CountTasks counts the tasks with the given status ("" counts all).
func (s *Store) CountTasks(status string) (int, error) {
	req := map[string]any{"op": "count_tasks"}
	if status != "" {
		req["status"] = status
	}
	var c struct {
		Count int `json:"count"`
	}
	if err := s.call(req, &c); err != nil {
		return 0, err
	}
	return c.Count, nil
}

// UpdateTask changes fields of a task (e.g. {"priority": 0}) and returns the updated task.
// The host refuses inputs, identity fields and status.
func (s *Store) UpdateTask(id string, fields map[string]any) (*Task, error) {
	var t Task
	if err := s.call(map[string]any{"op": "update_task", "id": id, "fields": fields}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *Store) call(req map[string]any, out any) error {
	op := req["op"]
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("store %s: encode request: %w", op, err)
	}
	raw := s.host.StoreCall(body)
	if len(raw) == 0 {
		return NewError("store_refused", fmt.Sprintf("store %s: the host returned nothing (is the repository capability granted?)", op), nil)
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  *string         `json:"error"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("store %s: decode response: %w", op, err)
	}
	if resp.Error != nil {
		return NewError("store_refused", fmt.Sprintf("store %s: %s", op, *resp.Error), nil)
	}
	if err := json.Unmarshal(resp.Result, out); err != nil {
		return fmt.Errorf("store %s: decode result: %w", op, err)
	}
	return nil
}
