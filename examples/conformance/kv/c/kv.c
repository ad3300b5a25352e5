/* The kv conformance plugin, C edition (examples/conformance/kv_test.go). */
#include "apflow.h"
#include <stdlib.h>
#include <string.h>

APFLOW_METADATA("{\"id\":\"kv_c\",\"name\":\"KV (c)\",\"version\":\"1.0.0\",\"capabilities\":[\"kv\"]}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\"}},\"required\":[\"key\"]}")

/* The sequence of examples/conformance/README.md ("kv"); a refused call ends it with that
 * call's error and code. */
static void run(apflow_val input, apflow_builder *out) {
    apflow_val v;
    char *key = NULL, *key2 = NULL, *value = NULL, *list = NULL;
    apflow_kv_error err = {0};
    size_t klen = 0, vlen = 0, llen = 0;
    if (!apflow_get(input, "key", &v) || !(key = apflow_string(v, &klen))) {
        apflow_error(out, "key is required", "invalid_inputs");
        return;
    }
    key2 = malloc(klen + 3);
    if (!key2) goto oom;
    memcpy(key2, key, klen);
    memcpy(key2 + klen, "/2", 3);

    int before = apflow_kv_get(key, &value, NULL, &err);
    if (before < 0) goto refused;
    free(value);
    value = NULL;
    if (apflow_kv_set(key, "{\"n\":1}", 7, 60000, 0, &err) < 0) goto refused;
    int claimed = apflow_kv_set(key, "\"other\"", 7, 0, 1, &err);
    if (claimed < 0) goto refused;
    if (apflow_kv_get(key, &value, &vlen, &err) < 0) goto refused;
    if (apflow_kv_set(key2, "true", 4, 0, 0, &err) < 0) goto refused;
    list = apflow_kv_list(key, NULL, 10, &llen, &err);
    if (!list) goto refused;
    int deleted = apflow_kv_delete(key, &err);
    if (deleted < 0) goto refused;
    char *gone = NULL;
    int after = apflow_kv_get(key, &gone, NULL, &err);
    if (after < 0) goto refused;
    free(gone);

    apflow_val answer, keys;
    apflow_begin_object(out);
    apflow_key(out, "before");
    apflow_boolean(out, before == 1);
    apflow_key(out, "claimed");
    apflow_boolean(out, claimed == 1);
    apflow_key(out, "value");
    if (value) apflow_raw(out, value, vlen); else apflow_null(out);
    apflow_key(out, "keys");
    if (apflow_parse(list, llen, &answer) == 0 && apflow_get(answer, "keys", &keys))
        apflow_raw(out, keys.ptr, keys.len);
    else
        apflow_null(out);
    apflow_key(out, "deleted");
    apflow_boolean(out, deleted == 1);
    apflow_key(out, "after");
    apflow_boolean(out, after == 1);
    apflow_end_object(out);
    goto done;
refused:
    apflow_error(out, err.message ? err.message : "kv call refused", err.code);
    goto done;
oom:
    apflow_error(out, "out of memory", "oom");
done:
    apflow_kv_error_free(&err);
    free(key);
    free(key2);
    free(value);
    free(list);
}

APFLOW_EXECUTE(run)
