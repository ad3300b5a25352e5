// Package badgerstore is the durable task store: an implementation of store.Store on
// Badger v4 (pure Go, embedded, one data directory).
//
// Guarantees, beyond those of package store:
//   - Durability: with the default options every commit is synced before the call
//     returns, so a nil error means the change survives kill -9 and power loss. Badger
//     runs unsynced; the store syncs its own journal of each commit's writes, replays it
//     at Open and checkpoints it (journal.go, docs/decisions.md §20).
//   - Group commit: all writes go through one committer goroutine that applies every
//     write queued at that moment, in order, in one Badger transaction and commits it
//     with one sync of the journal. Concurrent Update calls therefore share commits; each write's own
//     checks fail only that write.
//   - One process per data directory: a second Open of a directory in use fails with
//     an error matching ErrLocked ("data dir <dir> is in use by another apflow process").
//   - A journal the disk damaged (a record that fails its checksum before one that
//     checks) fails Open with an error matching ErrJournalDamaged, and Open applies
//     none of it: it reads the journal through before applying any record.
//   - Index entries are written in the same transaction as the task, so indexes never
//     disagree with the tasks, whatever the crash point.
//
// Key layout. Strings in keys are escaped (0x00 becomes 0x00 0xFF) and terminated by
// 0x00 0x01, so no string's encoding is a prefix of another's and byte order follows
// string order; numbers are 8 bytes big-endian with the sign bit flipped (ascending) or
// all bits inverted (descending).
//
//	t <id>                                      task: binary fields, then the rest of its wire form as JSON (value.go)
//	a <created desc> <seq desc> <id>            every task, newest first
//	r <created desc> <seq desc> <id>            roots only
//	s <status> <created desc> <seq desc> <id>   by status
//	u <user> <created desc> <seq desc> <id>     by user (tasks with a user)
//	g <tree> <seq> <id>                         by tree, in submission order
//	p <parent> <priority> <seq> <id>            children, in execution order
//	d <dependency id> <dependent id>            dependents
//	x <create> <chunk>                          keys of one committed chunk of a Create in progress
//	y <write> <chunk>                           previous values of one chunk of a big write in progress
//	k <scope> <key>                             idempotency key record (store.KeyRecord), JSON
//	n <next_run_at> <id>                        armed schedules (store.Armed), by next run: Due
//	c <no next run> <next_run_at> <id>          scheduled tasks, next run first, none last: Scheduled
//	m <name>                                    metadata (the schedule indexes are complete; the value log's last consolidation)
//	V <scope> <plugin> <key>                    plugin key-value entry (store.KV): expiry, value
//	W <scope> <plugin>                          usage of one key-value space: bytes, keys
//	l <task>                                    a task's log head: next seq, lines, bytes; its lines too while they are few (logs.go)
//	L <task> <seq>                              a line of a task's log that outgrew its head (or an earlier build's), JSON
//
// Every index entry's value is a small header (id, created_at, seq, user, tree, parent,
// name, executor; binary, about 65 bytes: header.encode), so List and Count filter and
// count on index entries alone and decode only the tasks of the returned page. Only the
// entries of the indexes a status filter is combined with carry the status too (status,
// tree, user, schedules): a status change then rewrites the task, moves its status entry
// and rewrites its tree and user entries, and no other (every task, roots, parent,
// dependents: an aggregator of 100,000 tasks rewrites none of its 100,000 dependents
// entries); a status filter over one of those others (a parent's pending children) looks
// up each candidate's status entry. Their entries written before that rule may carry a
// status, never read. Entries written before the name and the executor were added end
// after the parent; a filter on executor or name (store.Filter.Method and Name) decodes
// the tasks of those. created_at is indexed in microseconds, the precision the wire form
// stores. An Update rewrites exactly the entries whose key or header changed, in the
// task's transaction.
//
// A task's value is compact (about 200 bytes for a small completed task, value.go), so
// small tasks live in the LSM tree with the keys and index entries, and a commit of only
// such values writes the memtable's write-ahead log; larger tasks (over
// Options.ValueThreshold) live in Badger's value log, and a commit that writes one writes
// the value log too (see Options.ValueThreshold for the trade-off). Either way the
// commit waits for one sync, the journal's. A transaction is
// bounded by Badger to 15% of Options.MemTableSize in bytes (a value in the value log
// counted as 12 bytes) and one key per 96 bytes of it: with the defaults
// about 1.2 MB and 13,000 keys, so a Create of a few hundred tasks fits in one commit. In
// memory there is no value log: every value counts whole. A larger Create is
// committed in chunks and stays atomic and invisible until whole (see Create; the x
// markers let Open undo one a crash interrupted). A Delete or UpdateMany over the limit
// (deleting or archiving a large tree) is committed alone in chunks, with readers held
// off and undo records that Open replays after a crash (bigwrite.go), so it stays
// atomic; only a single value larger than Badger takes fails, with an error saying so.
// The value log is garbage-collected every Options.GCInterval, and by Close when short
// processes have left it to grow (maintenance.go).
//
// Decoding. The committer keeps a bounded cache of decoded tasks (Options.DecodeCacheSize)
// validated byte for byte against the stored value (the committer's own reads also trust
// an entry a commit marked as stored, skipping the read: decodeCache), and keeps the task it has just
// written as its decoded form when canonicalize vouches for it, so an update decodes
// nothing in the common case and its caller is not handed bytes to decode again. The
// tasks a Create stores beyond the decoded ones are kept as their stored bytes, up to
// 8 MiB (some 40,000 small tasks), until the committer first reads them (their first
// update) or a later Create needs the room: the run of a tree that fits reads none of
// its tasks back.
package badgerstore
