// Package jsonrpc is the JSON-RPC 2.0 envelope of the apflow API: the request decoder
// (single requests, batches, notifications), the response and error objects, and the
// mapping from *apferr.Error to JSON-RPC error objects.
//
// Guarantees:
//   - [Decode] never panics on any input (fuzzed) and never allocates more than a small
//     multiple of the input size; it classifies every element of a batch independently,
//     so one malformed element yields one -32600 response and does not spoil the others.
//   - A body that is not JSON, or not valid UTF-8 (so an echoed id is always valid
//     JSON), is a -32700 parse error with id null; an empty batch or an
//     element that is not a request object is -32600 with id null (docs/api.md, "JSON-RPC envelope").
//   - A request without an "id" member is a notification: it is executed but gets no
//     response. A request with "id": null is not a notification.
package jsonrpc
