/* The sleep conformance plugin, C edition (examples/conformance/sleep_test.go). */
#include "apflow.h"

APFLOW_METADATA("{\"id\":\"sleep_c\",\"name\":\"Sleep (c)\",\"version\":\"1.0.0\",\"capabilities\":[\"clock\"]}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"ms\":{\"type\":\"integer\"}},\"required\":[\"ms\"]}")

/* Sleeps input.ms milliseconds; {"slept":true}, or the sleep's error and code. */
static void run(apflow_val input, apflow_builder *out) {
    apflow_val v;
    int64_t ms = 0;
    if (!apflow_get(input, "ms", &v) || !apflow_int(v, &ms)) {
        apflow_error(out, "ms is required", "invalid_inputs");
        return;
    }
    int s = apflow_sleep_ms(ms);
    if (s != APFLOW_SLEEP_OK) {
        apflow_error(out, apflow_sleep_message(s), apflow_sleep_code(s));
        return;
    }
    apflow_begin_object(out);
    apflow_key(out, "slept");
    apflow_boolean(out, 1);
    apflow_end_object(out);
}

APFLOW_EXECUTE(run)
