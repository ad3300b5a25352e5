package task

import (
	"reflect"
	"testing"
	"time"
)

func TestLinkViews(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	link := &Task{ID: "l", ParentID: "p", TaskTreeID: "tr", UserID: "u", Name: "link", Priority: 1,
		Dependencies: []Dependency{{ID: "d", Required: true}}, OriginType: OriginLink, OriginalTaskID: "o",
		Status: Completed, Progress: 1, CreatedAt: t0, UpdatedAt: t0, CompletedAt: t0, Result: "own"}
	orig := &Task{ID: "o", Name: "orig", UserID: "u", Status: Failed, Error: "boom", Progress: 0.5,
		Inputs: map[string]any{"i": 1}, Params: map[string]any{"p": 2}, Schemas: map[string]any{"method": "m"},
		Result: map[string]any{"r": 3}, StartedAt: t0.Add(time.Hour), CompletedAt: t0.Add(2 * time.Hour),
		Usage: &Usage{DurationMS: 7}, Plugin: "m@1"}
	before := *link

	data := link.WithOriginalData(orig)
	if !reflect.DeepEqual(data.Inputs, orig.Inputs) || !reflect.DeepEqual(data.Params, orig.Params) ||
		!reflect.DeepEqual(data.Schemas, orig.Schemas) || !reflect.DeepEqual(data.Result, orig.Result) {
		t.Fatalf("WithOriginalData did not take the original's data: %+v", data)
	}
	if data.ID != "l" || data.Status != Completed || data.Error != "" || data.Progress != 1 || !data.CompletedAt.Equal(t0) ||
		data.Usage != nil || data.Plugin != "" {
		t.Fatalf("WithOriginalData changed the link's identity or lifecycle: %+v", data)
	}

	shown := link.WithOriginal(orig)
	if shown.ID != "l" || shown.ParentID != "p" || shown.TaskTreeID != "tr" || shown.Name != "link" || shown.Priority != 1 ||
		len(shown.Dependencies) != 1 || shown.OriginType != OriginLink || shown.OriginalTaskID != "o" || !shown.CreatedAt.Equal(t0) {
		t.Fatalf("WithOriginal lost the link's identity: %+v", shown)
	}
	if shown.Status != Failed || shown.Error != "boom" || shown.Progress != 0.5 || !shown.StartedAt.Equal(orig.StartedAt) ||
		!shown.CompletedAt.Equal(orig.CompletedAt) || shown.Usage != orig.Usage || shown.Plugin != "m@1" ||
		!reflect.DeepEqual(shown.Result, orig.Result) {
		t.Fatalf("WithOriginal did not show the original's outcome: %+v", shown)
	}
	if !reflect.DeepEqual(*link, before) {
		t.Fatal("the views modified the link")
	}
}
