/* The C echo executor of the benchmarks: its result is its input, so a task costs what
 * the C kit and the host add around a call. */
#include "apflow.h"

APFLOW_METADATA("{\"id\":\"echo_c\",\"name\":\"Echo (C)\",\"description\":\"Returns its input.\",\"version\":\"1.0.0\",\"tags\":[\"benchmark\"]}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\"}")

static void execute(apflow_val input, apflow_builder *out) {
    apflow_raw(out, input.ptr, input.len);
}

APFLOW_EXECUTE(execute)
