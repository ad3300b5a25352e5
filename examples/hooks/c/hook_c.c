/*
 * hook_c — an example hook written with the C kit (docs/hooks.md).
 *
 *   pre_hook   returns the task's inputs plus "_hooked_by": "c", every other member copied
 *              verbatim (apflow_copy_members). When an earlier hook of the chain already set
 *              _hooked_by, it appends ("rust,c"), so the chain's order shows in the result.
 *              When the inputs contain "fail_hook": true (or "fail_hook": "c") it fails
 *              instead: a hook failure the host records in hook_errors; nothing changes.
 *   post_hook  logs "post <task name>" at info level and returns {}.
 *   get_hook_config  limits both to tasks of the executor "echo".
 *
 * Hook only: no execute, metadata "kind":["hook"]. No grants needed.
 */
#include "apflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LANG "c"

APFLOW_METADATA("{\"id\":\"hook_c\",\"name\":\"Hook (C)\",\"description\":\"Stamps _hooked_by on the inputs of echo tasks, logs them\",\"version\":\"1.0.0\",\"kind\":[\"hook\"]}")
APFLOW_HOOK_CONFIG("{\"executors\":[\"echo\"]}")

/* task_field returns a malloc'd copy of string field `name` of the input's task, or NULL. */
static char *task_field(apflow_val input, const char *name) {
    apflow_val task, v;
    if (!apflow_get(input, "task", &task) || !apflow_get(task, name, &v)) return NULL;
    return apflow_string(v, NULL);
}

static int wants_failure(apflow_val inputs) {
    apflow_val v;
    int b = 0;
    if (!apflow_get(inputs, "fail_hook", &v)) return 0;
    return (apflow_bool(v, &b) && b) || apflow_string_eq(v, LANG);
}

static void pre_hook(apflow_val input, apflow_builder *out) {
    apflow_val inputs, prev;
    if (!apflow_get(input, "inputs", &inputs) || inputs.type != APFLOW_OBJECT) {
        apflow_error(out, LANG " hook: the pre_hook input has no inputs object", NULL);
        return;
    }
    if (wants_failure(inputs)) {
        char *id = task_field(input, "id");
        char msg[320];
        snprintf(msg, sizeof msg, LANG " hook: fail_hook is set on task %.255s", id ? id : "?");
        free(id);
        apflow_error(out, msg, NULL);
        return;
    }
    size_t prev_len = 0;
    char *before = apflow_get(inputs, "_hooked_by", &prev) ? apflow_string(prev, &prev_len) : NULL;
    apflow_begin_object(out);
    apflow_key(out, "inputs");
    apflow_begin_object(out);
    apflow_copy_members(out, inputs, "_hooked_by");
    apflow_key(out, "_hooked_by");
    if (before) {
        char *by = malloc(prev_len + sizeof "," LANG);
        if (!by) {
            free(before);
            apflow_error(out, "out of memory", "E_NOMEM");
            return;
        }
        memcpy(by, before, prev_len);
        memcpy(by + prev_len, "," LANG, sizeof "," LANG);
        apflow_string_n(out, by, prev_len + sizeof "," LANG - 1);
        free(by);
        free(before);
    } else {
        apflow_str(out, LANG);
    }
    apflow_end_object(out);
    apflow_end_object(out);
}

static void post_hook(apflow_val input, apflow_builder *out) {
    char *name = task_field(input, "name");
    apflow_logf(APFLOW_INFO, "post %s", name ? name : "");
    free(name);
    apflow_begin_object(out);
    apflow_end_object(out);
}

APFLOW_HOOK(pre_hook, pre_hook)
APFLOW_HOOK(post_hook, post_hook)
