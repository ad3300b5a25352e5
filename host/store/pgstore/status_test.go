package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/cluster"
)

func TestReadStatusListsNodesRunsAndQueue(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, time.Minute)
	create(t, sa, mk("root", "", 0), mk("x", "root", 1), mk("y", "root", 2), mk("z", "root", 3))
	queue(t, a, "x", "y", "z")
	if _, err := b.Claim(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	for _, read := range []struct {
		name string
		fn   func(context.Context) (st cluster.Status, err error)
	}{
		{"ReadStatus", func(ctx context.Context) (cluster.Status, error) { return ReadStatus(ctx, sa.opts.DSN, time.Minute) }},
		{"Node.Status", a.Status},
	} {
		st, err := read.fn(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", read.name, err)
		}
		if st.SchemaVersion != SchemaVersion() || st.AliveNodes() != 2 || len(st.Nodes) != 2 {
			t.Errorf("%s: schema %d, nodes %+v; want schema %d, a and b alive", read.name, st.SchemaVersion, st.Nodes, SchemaVersion())
		}
		if nb, ok := st.Node("b"); !ok || nb.Claims != 1 || st.SchemaMismatch(nb) {
			t.Errorf("%s: node b %+v, want 1 claim, same schema", read.name, nb)
		}
		if len(st.Runs) != 1 || st.Runs[0].NodeID != "a" || st.Runs[0].RootID != "root" || st.Runs[0].Executing != 1 {
			t.Errorf("%s: runs %+v, want root's run on a with 1 task executing", read.name, st.Runs)
		}
		if st.Queued != 2 || st.Claimed != 1 {
			t.Errorf("%s: queued %d, claimed %d; want 2 and 1", read.name, st.Queued, st.Claimed)
		}
	}
}

func TestReadStatusChangesNothingAndRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	dsn := pg.Database(t)
	// An empty database: no schema, and none is created.
	_, err := ReadStatus(t.Context(), dsn, 0)
	if err == nil || !strings.Contains(err.Error(), "no apflow schema") {
		t.Fatalf("ReadStatus on an empty database: %v, want an error saying it has no apflow schema", err)
	}
	s := open(t, Options{DSN: dsn})
	var tables int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE tablename = 'apflow_nodes'").Scan(&tables); err != nil || tables != 1 {
		t.Fatalf("after Open: %d apflow_nodes tables (%v)", tables, err)
	}
	next := SchemaVersion() + 1
	if _, err := s.pool.Exec(t.Context(), "INSERT INTO apflow_schema_version (version, name) VALUES ($1, 'from the future')", next); err != nil {
		t.Fatal(err)
	}
	_, err = ReadStatus(t.Context(), dsn, 0)
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", next)) || !strings.Contains(err.Error(), fmt.Sprintf("up to %d", next-1)) {
		t.Fatalf("ReadStatus on a newer schema: %v, want ErrSchemaTooNew naming both versions", err)
	}
}
