package task

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRunMarkerWireForm checks the wire form of Task.Run and its round trip.
func TestRunMarkerWireForm(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	tests := []struct {
		name string
		run  *RunMarker
		want string // the "run" member
	}{
		{"no run", nil, `null`},
		{"whole tree", &RunMarker{StartedAt: at}, `{"task_id":null,"full":false,"started_at":"2025-03-04T05:06:07.123456Z"}`},
		{"sub-task, full", &RunMarker{TaskID: "t1", Full: true, StartedAt: at}, `{"task_id":"t1","full":true,"started_at":"2025-03-04T05:06:07.123456Z"}`},
		{"no start time", &RunMarker{TaskID: "t1"}, `{"task_id":"t1","full":false,"started_at":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := &Task{ID: "r", Status: Pending, Run: tc.run}
			raw, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if got := string(m["run"]); got != tc.want {
				t.Fatalf("run = %s, want %s", got, tc.want)
			}
			var back Task
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Run, tc.run) {
				t.Fatalf("round trip: %+v, want %+v", back.Run, tc.run)
			}
		})
	}
}

func TestRunMarkerDecodeErrorsAndClone(t *testing.T) {
	t.Parallel()
	var tk Task
	err := json.Unmarshal([]byte(`{"id":"r","run":{"started_at":"yesterday"}}`), &tk)
	if err == nil || !strings.Contains(err.Error(), "run.started_at") {
		t.Fatalf("bad run.started_at: err = %v", err)
	}
	if err := json.Unmarshal([]byte(`{"id":"r"}`), &tk); err != nil || tk.Run != nil {
		t.Fatalf("absent run: %+v, %v", tk.Run, err)
	}
	orig := &Task{ID: "r", Run: &RunMarker{TaskID: "a"}}
	c := orig.Clone()
	c.Run.TaskID = "b"
	if orig.Run.TaskID != "a" {
		t.Fatal("Clone shares the run marker")
	}
}
