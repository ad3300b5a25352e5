/* The llm conformance plugin, C edition (examples/conformance/llm_test.go). */
#include "apflow.h"
#include <stdlib.h>
#include <string.h>

APFLOW_METADATA("{\"id\":\"llm_c\",\"name\":\"LLM (c)\",\"version\":\"1.0.0\",\"capabilities\":[\"llm\"]}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\"}},\"required\":[\"prompt\"]}")

/* Copies member `key` of `from` into out under the same key (null when absent). */
static void copy(apflow_builder *out, apflow_val from, const char *key) {
    apflow_val v;
    apflow_key(out, key);
    if (apflow_get(from, key, &v)) apflow_raw(out, v.ptr, v.len); else apflow_null(out);
}

/* Asks the completion of examples/conformance/README.md ("llm"); a refused call ends the
 * task with the host's message and code. */
static void run(apflow_val input, apflow_builder *out) {
    apflow_val prompt, answer, e, c, usage;
    if (!apflow_get(input, "prompt", &prompt) || prompt.type != APFLOW_STRING) {
        apflow_error(out, "prompt is required", "invalid_inputs");
        return;
    }
    apflow_builder req = {0};
    apflow_begin_object(&req);
    apflow_key(&req, "messages");
    apflow_begin_array(&req);
    apflow_begin_object(&req);
    apflow_key(&req, "role");
    apflow_str(&req, "system");
    apflow_key(&req, "content");
    apflow_str(&req, "conformance");
    apflow_end_object(&req);
    apflow_begin_object(&req);
    apflow_key(&req, "role");
    apflow_str(&req, "user");
    apflow_key(&req, "content");
    apflow_raw(&req, prompt.ptr, prompt.len);
    apflow_end_object(&req);
    apflow_end_array(&req);
    apflow_key(&req, "max_tokens");
    apflow_int64(&req, 16);
    apflow_key(&req, "temperature");
    apflow_raw(&req, "0.5", 3);
    apflow_key(&req, "json");
    apflow_boolean(&req, 1);
    apflow_end_object(&req);
    if (req.failed) {
        apflow_builder_free(&req);
        apflow_error(out, "out of memory", "oom");
        return;
    }
    size_t n = 0;
    char *doc = apflow_llm_complete(req.data, req.len, &n);
    apflow_builder_free(&req);
    if (!doc || apflow_parse(doc, n, &answer) != 0) {
        apflow_error(out, "llm_complete: no answer from the host", "llm_provider_error");
        free(doc);
        return;
    }
    if (apflow_get(answer, "error", &e)) {
        char *msg = apflow_string(e, NULL);
        char *code = apflow_get(answer, "code", &c) ? apflow_string(c, NULL) : NULL;
        apflow_error(out, msg ? msg : "llm_complete failed", code ? code : "llm_provider_error");
        free(msg);
        free(code);
        free(doc);
        return;
    }
    apflow_begin_object(out);
    copy(out, answer, "content");
    copy(out, answer, "model");
    copy(out, answer, "stop_reason");
    if (!apflow_get(answer, "usage", &usage)) usage = answer;
    copy(out, usage, "input_tokens");
    copy(out, usage, "output_tokens");
    apflow_end_object(out);
    free(doc);
}

APFLOW_EXECUTE(run)
