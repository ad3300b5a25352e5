package store

import (
	"errors"
	"slices"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestEncodeNew(t *testing.T) {
	t.Parallel()
	errEncode := errors.New("cannot encode")
	invalid := func(err error) bool { return apferr.CodeOf(err) == apferr.InvalidParams }
	exists := func(err error) bool { return apferr.CodeOf(err) == apferr.CodeOf(Exists("a")) }
	mk := func(id string) *task.Task { return &task.Task{ID: id, Status: task.Pending} }
	for _, c := range []struct {
		name    string
		tasks   []*task.Task
		failOn  string // id whose encoding fails
		want    []string
		wantErr func(error) bool
		encoded []string // ids encode was called with
	}{
		{name: "InOrder", tasks: []*task.Task{mk("b"), mk("a")}, want: []string{"b", "a"}, encoded: []string{"b", "a"}},
		{name: "CheckedBeforeEncoding", tasks: []*task.Task{mk("a"), nil},
			wantErr: invalid},
		{name: "RepeatedID", tasks: []*task.Task{mk("a"), mk("a")}, wantErr: exists},
		{name: "EncodeErrorStops", tasks: []*task.Task{mk("a"), mk("b"), mk("c")}, failOn: "b",
			wantErr: func(err error) bool { return err == errEncode }, encoded: []string{"a", "b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var encoded []string
			got, err := EncodeNew(c.tasks, func(t *task.Task) (string, error) {
				encoded = append(encoded, t.ID)
				if t.ID == c.failOn {
					return "", errEncode
				}
				return t.ID, nil
			})
			if c.wantErr == nil {
				if err != nil || !slices.Equal(got, c.want) {
					t.Errorf("EncodeNew = %v, %v; want %v", got, err, c.want)
				}
			} else if !c.wantErr(err) || got != nil {
				t.Errorf("EncodeNew = %v, %v; want nil and another error", got, err)
			}
			if !slices.Equal(encoded, c.encoded) {
				t.Errorf("encoded %v, want %v", encoded, c.encoded)
			}
		})
	}
}
