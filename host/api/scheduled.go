package api

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/ical"
	"github.com/apflow-wasm/apflow/host/scheduler"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// The tasks.scheduled.* methods (docs/schedules.md): listing, due query and the
// bookkeeping an external scheduler needs, and the iCalendar export. Owner scoping is
// tasks.list's: a non-admin caller only sees and changes its own tasks.

// schedules returns the store's schedule queries.
func (s *Server) schedules() (store.Schedules, error) {
	sch, ok := s.cfg.Store.(store.Schedules)
	if !ok {
		return nil, fmt.Errorf("the task store %T cannot query schedules", s.cfg.Store)
	}
	return sch, nil
}

type scheduledListParams struct {
	EnabledOnly  *bool  `json:"enabled_only"`
	UserID       string `json:"user_id"`
	ScheduleType string `json:"schedule_type"`
	Status       string `json:"status"`
	Limit        int    `json:"limit"`
	Offset       int    `json:"offset"`
}

// scheduledQuery is the store query of list-like params (enabled_only defaults to true).
func (s *Server) scheduledQuery(ctx context.Context, p scheduledListParams) store.ScheduleQuery {
	q := store.ScheduleQuery{EnabledOnly: p.EnabledOnly == nil || *p.EnabledOnly, UserID: s.userFilter(ctx, p.UserID),
		Type: p.ScheduleType, Status: task.Status(p.Status), Limit: p.Limit, Offset: p.Offset}
	return q
}

func (s *Server) scheduledList(ctx context.Context, c *call) (any, error) {
	var p scheduledListParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	sch, err := s.schedules()
	if err != nil {
		return nil, err
	}
	tasks, _, err := sch.Scheduled(ctx, s.scheduledQuery(ctx, p))
	if err != nil {
		return nil, fmt.Errorf("list scheduled tasks: %w", err)
	}
	return s.resolveLinks(ctx, tasks), nil
}

type scheduledDueParams struct {
	Before string `json:"before"`
	UserID string `json:"user_id"`
	Limit  int    `json:"limit"`
}

func (s *Server) scheduledDue(ctx context.Context, c *call) (any, error) {
	var p scheduledDueParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	before, err := s.timeParam("before", p.Before)
	if err != nil {
		return nil, err
	}
	sch, err := s.schedules()
	if err != nil {
		return nil, err
	}
	due, err := scheduler.DueIdle(ctx, sch, before, s.userFilter(ctx, p.UserID), p.Limit)
	if err != nil {
		return nil, err
	}
	return s.resolveLinks(ctx, due), nil
}

// timeParam reads an optional ISO 8601 param; "" is now.
func (s *Server) timeParam(field, v string) (time.Time, error) {
	if v == "" {
		return s.cfg.Now().UTC(), nil
	}
	return parseTimeParam(field, v)
}

// parseTimeParam parses the ISO 8601 date or date-time v (task.ParseTime's forms) of
// param field; a bad one is an InvalidParams error naming field.
func parseTimeParam(field, v string) (time.Time, error) {
	t, err := task.ParseTime(v)
	if err != nil {
		return time.Time{}, apferr.InvalidParam(field, "not an ISO 8601 date or date-time", "2026-12-24T18:00:00Z", v)
	}
	return t, nil
}

type scheduledInitParams struct {
	TaskID   string `json:"task_id"`
	FromTime string `json:"from_time"`
}

func (s *Server) scheduledInit(ctx context.Context, c *call) (any, error) {
	var p scheduledInitParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	from, err := s.timeParam("from_time", p.FromTime)
	if err != nil {
		return nil, err
	}
	t, err := s.visibleTask(ctx, p.TaskID)
	if err != nil {
		return nil, err
	}
	out, err := scheduler.Init(ctx, s.cfg.Store, t.ID, from)
	if err != nil {
		return nil, err
	}
	if store.Armed(out) {
		s.scheduleChanged()
	}
	return out, nil
}

// scheduleChanged tells the scheduler (Config.ScheduleChanged) that a schedule changed.
func (s *Server) scheduleChanged() {
	if s.cfg.ScheduleChanged != nil {
		s.cfg.ScheduleChanged()
	}
}

type scheduledCompleteParams struct {
	TaskID           string  `json:"task_id"`
	Success          *bool   `json:"success"`
	Error            *string `json:"error"`
	CalculateNextRun *bool   `json:"calculate_next_run"`
}

func (s *Server) scheduledComplete(ctx context.Context, c *call) (any, error) {
	var p scheduledCompleteParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	success := p.Success == nil || *p.Success
	if p.Error != nil && success {
		return nil, apferr.InvalidParam("error", "an error is reported with success false", "success: false", *p.Error)
	}
	t, err := s.visibleTask(ctx, p.TaskID)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	out, err := scheduler.Complete(ctx, s.cfg.Store, t.ID, now, p.CalculateNextRun == nil || *p.CalculateNextRun)
	if err != nil {
		return nil, err
	}
	msg := ""
	if p.Error != nil {
		msg = *p.Error
	}
	log := s.log.With("task_id", out.ID, "run_count", out.RunCount, "next_run_at", out.NextRunAt, "schedule_enabled", out.ScheduleEnabled)
	if success {
		log.Info("external scheduled run recorded")
	} else {
		log.Warn("external scheduled run recorded as failed", "error", msg)
	}
	return out, nil
}

type scheduledICalParams struct {
	UserID       string `json:"user_id"`
	ScheduleType string `json:"schedule_type"`
	EnabledOnly  *bool  `json:"enabled_only"`
	Limit        int    `json:"limit"`
	CalendarName string `json:"calendar_name"`
	BaseURL      string `json:"base_url"`
}

func (s *Server) scheduledICal(ctx context.Context, c *call) (any, error) {
	var p scheduledICalParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	if p.BaseURL != "" {
		if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, apferr.InvalidParam("base_url", "not an http(s) URL", "https://apflow.example.com", p.BaseURL)
		}
	}
	sch, err := s.schedules()
	if err != nil {
		return nil, err
	}
	q := s.scheduledQuery(ctx, scheduledListParams{EnabledOnly: p.EnabledOnly, UserID: p.UserID, ScheduleType: p.ScheduleType, Limit: p.Limit})
	tasks, _, err := sch.Scheduled(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list scheduled tasks: %w", err)
	}
	content, n := ical.Export(s.resolveLinks(ctx, tasks), ical.Options{Name: p.CalendarName, BaseURL: p.BaseURL, Now: s.cfg.Now()})
	return map[string]any{"ical_content": content, "task_count": n}, nil
}

type webhookTriggerParams struct {
	TaskID string `json:"task_id"`
	Async  *bool  `json:"async"`
}

// webhookTrigger is POST /webhook/trigger/{task_id} as a JSON-RPC method: authenticated
// by the call's token like every method, so no signature.
func (s *Server) webhookTrigger(ctx context.Context, c *call) (any, error) {
	var p webhookTriggerParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	return s.trigger(ctx, p.TaskID, p.Async == nil || *p.Async)
}
