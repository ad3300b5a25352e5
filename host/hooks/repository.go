package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Repository serves the store_call host function of hooks granted `repository`
// (docs/abi.md, "store_call"; docs/hooks.md, "The hook repository"). It implements
// sandbox.Repository. The sandbox refuses store_call to ungranted plugins before the
// Repository is reached.
//
// Ops: get_task {id}; list_tasks {status, tree_id, user_id, limit ≤ 1000, offset};
// count_tasks {status, tree_id, user_id}; update_task {id, fields} with fields among
// name, priority, params and schemas (see [UpdatableFields]). Every error is a sentence
// naming the op, the task and the field.
type Repository struct {
	st  store.Store
	now func() time.Time
}

// NewRepository returns a Repository on st; now stamps updated_at (nil: time.Now).
func NewRepository(st store.Store, now func() time.Time) *Repository {
	if now == nil {
		now = time.Now
	}
	return &Repository{st: st, now: now}
}

// request is a store_call request; unknown members are refused so that a typo is not
// silently ignored.
type request struct {
	Op     string                     `json:"op"`
	ID     string                     `json:"id"`
	Status string                     `json:"status"`
	TreeID string                     `json:"tree_id"`
	UserID string                     `json:"user_id"`
	Limit  *int                       `json:"limit"`
	Offset int                        `json:"offset"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// Call performs one request and returns its result value.
func (r *Repository) Call(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
	var req request
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("store_call: invalid request: %v", err)
	}
	var (
		out any
		err error
	)
	switch req.Op {
	case "get_task":
		out, err = r.getTask(ctx, &req)
	case "list_tasks":
		out, err = r.listTasks(ctx, &req)
	case "count_tasks":
		out, err = r.countTasks(ctx, &req)
	case "update_task":
		out, err = r.updateTask(ctx, &req)
	case "":
		return nil, errors.New(`store_call: field "op" is required (get_task, list_tasks, count_tasks or update_task)`)
	default:
		return nil, fmt.Errorf("store_call: unknown op %q (get_task, list_tasks, count_tasks or update_task)", req.Op)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func (r *Repository) getTask(ctx context.Context, req *request) (*task.Task, error) {
	if req.ID == "" {
		return nil, errors.New(`get_task: field "id" is required`)
	}
	t, err := r.st.Get(ctx, req.ID)
	if err != nil {
		return nil, fmt.Errorf("get_task %s: %w", req.ID, err)
	}
	return t, nil
}

// filter builds the store filter of list_tasks and count_tasks.
func (r *Repository) filter(op string, req *request) (store.Filter, error) {
	f := store.Filter{TreeID: req.TreeID, UserID: req.UserID}
	if req.Status != "" {
		s := task.Status(req.Status)
		if !s.Valid() {
			return f, fmt.Errorf("%s: field \"status\": %q is not a task status (pending, in_progress, completed, failed, cancelled)", op, req.Status)
		}
		f.Status = s
	}
	if req.ID != "" || req.Fields != nil {
		return f, fmt.Errorf("%s: fields \"id\" and \"fields\" belong to get_task and update_task", op)
	}
	return f, nil
}

// taskList is the list_tasks result.
type taskList struct {
	Tasks []*task.Task `json:"tasks"`
	Total int          `json:"total"`
}

func (r *Repository) listTasks(ctx context.Context, req *request) (*taskList, error) {
	f, err := r.filter("list_tasks", req)
	if err != nil {
		return nil, err
	}
	f.Limit = store.DefaultLimit
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > store.MaxLimit {
			return nil, fmt.Errorf("list_tasks: field \"limit\": must be 1..%d, got %d", store.MaxLimit, *req.Limit)
		}
		f.Limit = *req.Limit
	}
	if req.Offset < 0 {
		return nil, fmt.Errorf("list_tasks: field \"offset\": must not be negative, got %d", req.Offset)
	}
	f.Offset = req.Offset
	tasks, total, err := r.st.List(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list_tasks: %w", err)
	}
	if tasks == nil {
		tasks = []*task.Task{}
	}
	return &taskList{Tasks: tasks, Total: total}, nil
}

func (r *Repository) countTasks(ctx context.Context, req *request) (map[string]int, error) {
	f, err := r.filter("count_tasks", req)
	if err != nil {
		return nil, err
	}
	if req.Limit != nil || req.Offset != 0 {
		return nil, errors.New(`count_tasks: fields "limit" and "offset" belong to list_tasks`)
	}
	n, err := r.st.Count(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("count_tasks: %w", err)
	}
	return map[string]int{"count": n}, nil
}
