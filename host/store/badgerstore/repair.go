package badgerstore

import (
	"context"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/task"
)

// RepairIndex makes the index entries of task id agree with the task as stored: it
// writes them all again and deletes the status entries the task would have in any other
// status. A store this process wrote never needs it; one whose files and journal were
// mended by hand may (a journal cut at a damaged record replays older values over newer
// ones: docs/configuration.md, "A damaged journal"). The engine's recovery calls it for
// a task the status index lists in a status it does not have.
func (s *Store) RepairIndex(ctx context.Context, id string) error {
	return s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
		t, err := s.readStored(txn, id)
		if err != nil {
			return nil, err
		}
		h := headerOf(t)
		var ws []write
		for _, st := range task.Statuses {
			if st != t.Status {
				ws = append(ws, write{key: statusKey(st, h), del: true})
			}
		}
		for _, e := range indexEntries(t) {
			ws = append(ws, write{key: e.key, value: e.value})
		}
		return ws, nil
	})
}
