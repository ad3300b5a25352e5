// Package dashboard is the web dashboard of apflow serve: static pages, embedded in the
// binary, that show trees running, tasks and their logs, plugins and the system, and act
// on them.
//
// # What it is
//
// Handler serves the files of assets/ (HTML, CSS and JavaScript modules written for the
// browser as they are: no build step, no Node at run time, nothing loaded from outside
// the server). The server mounts it at /ui/ (api.Config.Dashboard).
//
// # Guarantees
//
//   - The pages hold no data. Everything they show or do goes through the API's own
//     routes (JSON-RPC on /tasks and /system, GET /events, /plugins, /healthz,
//     /metrics) with the user's token, so the API's authentication and visibility rules
//     apply unchanged, anything the dashboard does a script can do, and it works against
//     any node of a cluster. The files themselves need no token: without one the pages
//     ask for it.
//   - Responses carry a Content-Security-Policy that allows scripts, styles, images and
//     connections from the server's own origin only, and refuses framing.
//   - Each file has a strong ETag (its sha256), so a browser revalidates instead of
//     downloading again; gzip is served when the browser accepts it.
//
// # A tour of assets/
//
//	index.html         the shell: navigation, the view, the sign-in dialog
//	app.css            light and dark themes (prefers-color-scheme, or the toggle)
//	js/app.js          hash routes (#/runs, #/tree/ID, #/task/ID, #/submit, #/plugins, #/system)
//	js/api.js          JSON-RPC calls, the event stream, uploads; the token
//	js/runs.js         the list of trees
//	js/tree.js         a tree: graph, timeline, critical path, live over /events
//	js/task.js         a task: inputs, result, error, usage, logs; its actions
//	js/submit.js       paste or upload a tree, checked before it is sent
//	js/plugins.js      executors and hooks, schemas as forms, upload, run one
//	js/system.js       health, nodes, metrics over time, schedules
//	js/graph.js        the tree's layout, drawing, Gantt and critical path
//	js/schema.js       JSON Schema validation in the browser
//	js/form.js         forms generated from JSON Schemas
//
// The JavaScript modules are unit-tested with node (js/*.test.mjs, TestJSUnits), the
// pages in headless Chromium from cmd/apflow's browser tests.
package dashboard
