package badgerstore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/task"
)

func Example() {
	dir, err := os.MkdirTemp("", "apflow-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	now := time.Now()
	root := &task.Task{ID: "root", TaskTreeID: "root", Name: "root", Status: task.Pending, CreatedAt: now}
	child := &task.Task{ID: "child", ParentID: "root", TaskTreeID: "root", Name: "child", Status: task.Pending, Seq: 1, CreatedAt: now}
	if err := s.Create(ctx, []*task.Task{root, child}); err != nil {
		panic(err)
	}
	// A nil error means the change is on disk.
	if _, err := s.Update(ctx, "child", func(t *task.Task) error { return t.Start(time.Now()) }); err != nil {
		panic(err)
	}
	running, total, err := s.List(ctx, store.Filter{Status: task.InProgress})
	if err != nil {
		panic(err)
	}
	fmt.Println(total, running[0].ID, running[0].Attempts)
	// Output: 1 child 1
}
