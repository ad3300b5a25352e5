// Package schemas embeds the JSON Schemas that describe apflow-wasm's file formats and
// API, so that the host validates against exactly the documents it publishes.
package schemas

import "embed"

// FS holds every schema file of this directory, by file name (e.g. "config.schema.json").
//
//go:embed *.json
var FS embed.FS
