package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/executor"
)

// ExecutorID is the id of the built-in that runs a generation as a task (host/builtin).
// It is left out of the prompt's catalog, so a generated tree never generates trees.
const ExecutorID = "generate_executor"

// treeRules is the part of the system prompt that states the tree format
// (docs/tree-format.md) and the rules of docs/semantics.md a generated tree relies on.
const treeRules = `A task tree is a JSON array of task objects. Each task has:
- "name": a short unique name (letters, digits, "-" and "_"); names stand for the task in references.
- "schemas": {"method": "<executor id>"}: the executor that runs the task; only ids of the catalog below exist.
- "inputs": an object valid against that executor's input schema.
- "parent_id": the name of the task it belongs under; exactly one task (the root) has none.
- "dependencies": the names of the tasks whose results it needs, e.g. ["fetch", {"name": "parse", "required": false}].

Rules:
1. Only dependencies order execution: a task starts when every task it depends on has completed, and tasks that do not depend on each other run in parallel. parent_id only groups tasks; it never orders them.
2. Dependencies must not form a cycle, and a task never depends on itself.
3. Exactly one root. When the tree uses more than one task, the root is an aggregator: "schemas": {"method": "aggregate_results_executor"}, its "dependencies" list the tasks whose results it collects, and the other tasks have the root (or a task under it) as parent_id.
4. A dependency's result is injected into the dependent's inputs before it runs, under the dependency's name; inputs a dependency supplies may be left out, every other required input must be given.
5. Refer to tasks by name everywhere; do not give "id" fields.
6. Every input must satisfy the executor's input schema: required keys, types, enums, ranges.`

// exampleTree is the example of the system prompt: an aggregator root over two parallel tasks.
const exampleTree = `[
  {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["cpu", "memory"]},
  {"name": "cpu", "parent_id": "report", "schemas": {"method": "system_info_executor"}, "inputs": {"resource": "cpu"}},
  {"name": "memory", "parent_id": "report", "schemas": {"method": "system_info_executor"}, "inputs": {"resource": "memory"}}
]`

// systemPrompt is the system message of every mode: the role, the tree format and rules,
// an example, and the catalog. It depends only on the catalog's content: executors are
// listed by id, schemas compacted, so the same catalog gives the same bytes.
func systemPrompt(infos []*executor.Info) string {
	var b strings.Builder
	b.WriteString("You design task trees for apflow, a task orchestrator. Given a requirement, you answer with a task tree that uses only the executors of the catalog.\n\n")
	b.WriteString("# Tree format\n\n")
	b.WriteString(treeRules)
	b.WriteString("\n\nExample (an aggregator root over two tasks that run in parallel; its executor ids are illustrative, use the catalog's):\n\n```json\n")
	b.WriteString(exampleTree)
	b.WriteString("\n```\n\n")
	b.WriteString(catalogSection(catalogInfos(infos)))
	return b.String()
}

// Bounds of the prompt's catalog, so that a plugin's long description or schema, or a
// large catalog, cannot make the prompt unbounded.
const (
	maxDescriptionBytes = 1 << 10  // each executor's description
	maxSchemaBytes      = 4 << 10  // each schema, compacted
	maxCatalogBytes     = 64 << 10 // the executors' entries together
)

// catalogSection lists the executors, each as an entry of executorEntry, until the
// entries would pass maxCatalogBytes; the executors left out are then named by id.
func catalogSection(infos []*executor.Info) string {
	var b strings.Builder
	b.WriteString("# Executor catalog\n")
	var left []string
	size := 0
	for _, in := range infos {
		e := executorEntry(in)
		if len(left) > 0 || size+len(e) > maxCatalogBytes {
			left = append(left, in.ID)
			continue
		}
		size += len(e)
		b.WriteString(e)
	}
	if len(left) > 0 {
		fmt.Fprintf(&b, "\nThe catalog is too long to describe every executor; these exist too, without their schemas: %s\n", strings.Join(left, ", "))
	}
	return b.String()
}

// executorEntry is one executor's part of the catalog, its description and schemas cut
// to their bounds.
func executorEntry(in *executor.Info) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## %s\n", in.ID)
	if in.Description != "" {
		d := oneLine(in.Description)
		if len(d) > maxDescriptionBytes {
			d = cutUTF8(d, maxDescriptionBytes) + " …"
		}
		fmt.Fprintf(&b, "Description: %s\n", d)
	}
	fmt.Fprintf(&b, "Input schema: %s\n", boundedSchema(in.InputSchema))
	fmt.Fprintf(&b, "Output schema: %s\n", boundedSchema(in.OutputSchema))
	return b.String()
}

// boundedSchema is compact(raw), cut at maxSchemaBytes and marked so when cut.
func boundedSchema(raw json.RawMessage) string {
	s := compact(raw)
	if len(s) <= maxSchemaBytes {
		return s
	}
	return cutUTF8(s, maxSchemaBytes) + fmt.Sprintf(" … (schema cut at %d bytes)", maxSchemaBytes)
}

// cutUTF8 returns the longest prefix of s of at most n bytes that ends on a rune boundary.
func cutUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// catalogInfos sorts the executors by id and leaves out the generator itself and hook
// modules (Kind "hook"), which run around tasks, never as one.
func catalogInfos(infos []*executor.Info) []*executor.Info {
	out := make([]*executor.Info, 0, len(infos))
	for _, in := range infos {
		if in != nil && in.ID != ExecutorID && in.Kind != "hook" {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// compact renders a schema on one line; "none" when the executor declares none.
func compact(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return "none (any object)"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return string(t)
	}
	return b.String()
}

// The user messages of each step.
func singlePrompt(requirement string) string {
	return "Requirement:\n" + requirement + "\n\nAnswer with the complete task tree as one JSON array in a ```json fence, and nothing else."
}

func analysePrompt(requirement string) string {
	return "Requirement:\n" + requirement + "\n\nStep 1 of 4, analyse: list the steps the requirement needs, the executor of the catalog each step uses, which steps need the results of which, and which can run in parallel. Answer in short prose; no JSON yet."
}

const designPrompt = "Step 2 of 4, design: give the tree's structure as a JSON array: every task's name, schemas.method, parent_id and dependencies, with an aggregator root when there is more than one task. Leave inputs empty for now."

const fillPrompt = "Step 3 of 4, fill inputs: give the complete tree again with every task's inputs filled in, valid against its executor's input schema. Answer with the complete JSON array in a ```json fence, and nothing else."

// reviewPrompt sends the validator's problems back (step 4, review).
func reviewPrompt(problems string) string {
	return "Step 4 of 4, review: the tree was checked and has these problems:\n" + problems + "\nCorrect every problem and answer with the complete corrected JSON array in a ```json fence, and nothing else."
}
