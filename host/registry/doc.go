// Package registry keeps the plugins of a plugins directory loaded and registered under
// their ids, and swaps versions while the host runs (hot-load).
//
// Every `.wasm` file of the directory is loaded through the sandbox, keyed by its content
// hash, and registered under its metadata id (the file name without `.wasm` when the
// module has no metadata). Adding, replacing or removing a file takes effect on the next
// scan ([Registry.Rescan], or every PollInterval under [Registry.Watch]); [Registry.Add] and
// [Registry.Remove] do the same through the API and CLI and take effect at once.
//
// Guarantees:
//   - A [executor.Handle] from Lookup runs on the version that was current when it was
//     looked up, until it is released; a newer version takes only later lookups. A
//     replaced or removed version is closed once its last handle is released.
//   - A file that fails to load never replaces a working version: the old version stays
//     registered and the failure is reported by [Registry.Problems], and logged when a
//     scan after [Open] finds it (Open's caller shows the problems of the first scan).
//   - Two files declaring the same id: the first by file name wins, the other is reported.
//
// # Metadata cache
//
// Loading a module means compiling it and instantiating it once to read its metadata
// (tens of milliseconds for a Go plugin), which a process that runs one task would pay for
// every plugin of the directory. So the registry keeps, in a metadata cache directory
// (Options.MetadataDir, by default <compilation cache dir>/meta), the
// [sandbox.Description] of every module that loaded, keyed by content hash, and a hash
// index keyed by file identity (path, size, modification time, inode, change time). A
// scan registers a file whose description is cached with [sandbox.Runtime.LoadDescribed]:
// without reading an unchanged file, compiling or instantiating it. The first Lookup or
// Hook of such a plugin compiles and checks it ([sandbox.Module.Ready]); if that fails
// (the file changed behind an identical identity, the cache lies) the lookup returns an
// error naming the plugin and file, the plugin is unregistered, the file reported by
// Problems, its cache entries dropped, and the next scan loads the file in full. Add
// always loads in full, so an invalid upload is refused as before.
package registry
