package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// The shared plugins (migrations/*_plugins.sql): blobs keyed by sha256, one row per
// plugin id with its current sha256 or a tombstone, and a notice on pluginChannel at
// every change. They are methods of Store, not Node: they need no membership of the
// cluster, so a node can load the cluster's plugins before it joins (and shows as a
// node that can execute tasks).

// pluginChannel is the LISTEN channel of changes to the shared plugins; the payload is
// the plugin id.
const pluginChannel = "apflow_plugins"

// ErrNoPluginBlob is matched (errors.Is) by the error of PluginBlob when the database
// holds no module with that sha256.
var ErrNoPluginBlob = errors.New("no plugin with this sha256 in the database")

// PutPlugin makes the module wasm, whose sha256 (hex) is sha, the current version of
// plugin id for every node, recording by (a node id) as who changed it, and notifies
// the nodes. The blob is written once: a module the database already holds is not sent
// again. It replaces the version id had, or its tombstone. It refuses a sha that is not
// the sha256 of wasm.
func (s *Store) PutPlugin(ctx context.Context, id, sha string, wasm []byte, by string) error {
	if id == "" {
		return errors.New("share plugin: the plugin id is empty")
	}
	if got := sha256Hex(wasm); got != sha {
		return fmt.Errorf("share plugin %s: sha256 %s given, the module's is %s", id, sha, got)
	}
	err := s.use(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var have bool
			err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM apflow_plugin_blobs WHERE sha256 = $1)", sha).Scan(&have)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			if !have {
				b.Queue("INSERT INTO apflow_plugin_blobs (sha256, wasm) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING", sha, wasm)
			}
			b.Queue(`INSERT INTO apflow_plugins (plugin_id, sha256, removed, change, changed_by)
				VALUES ($1, $2, false, nextval('apflow_plugin_changes'), $3)
				ON CONFLICT (plugin_id) DO UPDATE SET sha256 = $2, removed = false,
					change = nextval('apflow_plugin_changes'), changed_by = $3, changed_at = now()`, id, sha, by)
			b.Queue("SELECT pg_notify($1, $2)", pluginChannel, id)
			return tx.SendBatch(ctx, b).Close()
		})
	})
	if err != nil {
		return fmt.Errorf("share plugin %s (sha256 %s): %w", id, sha, err)
	}
	return nil
}

// RemovePlugin tombstones plugin id, recording by as who removed it, and notifies the
// nodes. It reports whether id had a current version; removing an id the database does
// not hold, or holds as a tombstone already, changes nothing.
func (s *Store) RemovePlugin(ctx context.Context, id, by string) (bool, error) {
	var removed bool
	err := s.use(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE apflow_plugins SET removed = true,
					change = nextval('apflow_plugin_changes'), changed_by = $2, changed_at = now()
				WHERE plugin_id = $1 AND NOT removed`, id, by)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			removed = true
			_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", pluginChannel, id)
			return err
		})
	})
	if err != nil {
		return false, fmt.Errorf("remove shared plugin %s: %w", id, err)
	}
	return removed, nil
}

// SharedPlugins lists every plugin id the database holds, current or removed, by id.
func (s *Store) SharedPlugins(ctx context.Context) ([]cluster.SharedPlugin, error) {
	var out []cluster.SharedPlugin
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT plugin_id, sha256, removed, change, changed_by, changed_at
			FROM apflow_plugins ORDER BY plugin_id`)
		if err != nil {
			return err
		}
		var p cluster.SharedPlugin
		_, err = pgx.ForEachRow(rows, []any{&p.ID, &p.SHA256, &p.Removed, &p.Change, &p.ChangedBy, &p.ChangedAt}, func() error {
			out = append(out, p)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list the shared plugins: %w", err)
	}
	return out, nil
}

// PluginBlob returns the module whose sha256 (hex) is sha, as stored: the caller checks
// the bytes against sha. It fails with an error matching ErrNoPluginBlob when there is
// none.
func (s *Store) PluginBlob(ctx context.Context, sha string) ([]byte, error) {
	var wasm []byte
	err := s.use(ctx, func() error {
		return s.pool.QueryRow(ctx, "SELECT wasm FROM apflow_plugin_blobs WHERE sha256 = $1", sha).Scan(&wasm)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNoPluginBlob
	}
	if err != nil {
		return nil, fmt.Errorf("read shared plugin sha256 %s: %w", sha, err)
	}
	return wasm, nil
}

// HasPluginBlob reports whether the database holds the module whose sha256 is sha: a
// version some node shared once (blobs are kept when versions are replaced or removed).
func (s *Store) HasPluginBlob(ctx context.Context, sha string) (bool, error) {
	var have bool
	err := s.use(ctx, func() error {
		return s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM apflow_plugin_blobs WHERE sha256 = $1)", sha).Scan(&have)
	})
	if err != nil {
		return false, fmt.Errorf("look up shared plugin sha256 %s: %w", sha, err)
	}
	return have, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
