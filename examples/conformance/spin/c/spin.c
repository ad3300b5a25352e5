/* The spin conformance plugin, C edition (examples/conformance/spin_test.go). */
#include "apflow.h"

APFLOW_METADATA("{\"id\":\"spin_c\",\"name\":\"Spin (c)\",\"version\":\"1.0.0\"}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"mode\":{\"type\":\"string\"}},\"required\":[\"mode\"]}")

static volatile int64_t sink;

/* A call tree of 2^n calls, never more than n deep. */
__attribute__((noinline)) static void tree(int n) {
    sink = sink + 1;
    if (n == 0) return;
    tree(n - 1);
    tree(n - 1);
}

/* Never returns: "loop" spins in a loop, "tree" calls a tree of 2^60 calls. */
static void run(apflow_val input, apflow_builder *out) {
    apflow_val v;
    if (!apflow_get(input, "mode", &v)) {
        apflow_error(out, "mode is required", "invalid_inputs");
        return;
    }
    if (apflow_string_eq(v, "tree")) {
        tree(60);
    } else {
        for (;;) sink = sink + 1;
    }
    apflow_null(out);
}

APFLOW_EXECUTE(run)
