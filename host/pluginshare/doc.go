// Package pluginshare keeps a cluster node's plugins in step with the plugins shared
// through the cluster's database: a plugin uploaded to one node is stored in the
// database, content-addressed by its sha256, and every node loads it.
//
// A [Syncer] stands between the API and two parties it consumes through interfaces
// declared here: the node's plugin registry ([Local], host/registry) and the database
// ([Shared], host/store/pgstore). As the API's plugin manager, its Add installs a module
// on this node first (a module that does not load is refused with the registry's
// InvalidParams error, and nothing reaches the database) and then stores it in the
// database as the id's current version; its Remove tombstones the id in the database,
// then removes it here. Its sync loop ([Syncer.Run]) makes a pass at start, at every
// notice of a change and every poll interval: it installs each shared plugin whose
// sha256 differs from the version this node has (reading the module from the database
// and checking its bytes against the sha256 first), and removes the tombstoned ones
// this node has.
//
// Guarantees:
//   - Convergence: every node ends with the version the database holds for each shared
//     id, whatever order uploads happen in, on whichever nodes, and whether or not the
//     notices arrive (passes also run every poll interval). Two uploads of one id racing
//     on two nodes leave the database with one of them, and every node with that one.
//   - Tasks running when a version is replaced or removed finish on the version they
//     started with (the registry pins versions); only later lookups see the change.
//   - A removal reaches every node, including nodes that were down when it happened: the
//     tombstone stays in the database.
//   - A module whose bytes do not hash to the sha256 it is stored under is never loaded.
//   - Add, Remove and passes are serialised on a node, so a pass never undoes an upload
//     it overlaps.
//
// Pitfalls:
//   - The database wins for the ids it holds: a node whose plugins directory provides a
//     shared id with another module gets the shared version (its file replaced), and a
//     file of a shared id deleted from one node's directory comes back at the next pass.
//     Remove a shared plugin through the API (`apflow plugins remove --server`).
//   - Plugins deployed to a node's own directory that the database never held are left
//     alone, even when a tombstone names their id: a tombstone removes a node's version
//     only when that version is one the database holds (a blob some node shared).
//   - A shared version that fails to load on a node (a module built for host functions
//     this node lacks, an id reserved here, a bad blob) is logged with its id and the
//     reason, and tried again only when the id's sha256 changes in the database, or when
//     the node restarts. The node keeps the version it had, if any.
//   - Add installs on this node before writing the database: if the write fails, the
//     module stays installed here only and Add's error says so; the next pass puts back
//     the database's version of the id, if it has one.
//   - Blobs are kept when versions are replaced or removed (so tombstones can be matched
//     against them); nothing deletes them.
package pluginshare
