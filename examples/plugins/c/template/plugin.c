/* A starting point for a C executor: copy this folder, rename the id and the handler. */
#include "apflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

APFLOW_METADATA("{\"id\":\"template_c\",\"name\":\"Template (C)\",\"description\":\"Greets someone\",\"version\":\"0.1.0\",\"tags\":[\"template\"]}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1}},\"required\":[\"name\"]}")
APFLOW_OUTPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"greeting\":{\"type\":\"string\"}},\"required\":[\"greeting\"]}")

static void execute(apflow_val input, apflow_builder *out) {
    apflow_val v;
    char *name = apflow_get(input, "name", &v) ? apflow_string(v, NULL) : NULL;
    if (!name) {
        apflow_error(out, "name must be a string", "invalid_inputs");
        return;
    }
    apflow_logf(APFLOW_INFO, "greeting %s", name);
    size_t size = strlen(name) + sizeof "Hello, !";
    char *greeting = malloc(size);
    if (!greeting) {
        free(name);
        apflow_error(out, "out of memory", "E_NOMEM");
        return;
    }
    snprintf(greeting, size, "Hello, %s!", name);
    apflow_begin_object(out);
    apflow_key(out, "greeting");
    apflow_str(out, greeting);
    apflow_end_object(out);
    free(greeting);
    free(name);
}

APFLOW_EXECUTE(execute)
