/* The conformance plugin, C edition. Specification: examples/conformance/README.md. */
#include "apflow.h"

#include <stdlib.h>
#include <string.h>

APFLOW_METADATA("{\"id\":\"conformance_c\",\"name\":\"Conformance (c)\",\"description\":\"ABI v1 conformance plugin\",\"version\":\"1.0.0\",\"tags\":[\"conformance\"],\"capabilities\":[\"http\"]}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},\"numbers\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},\"fail\":{\"type\":\"boolean\"},\"url\":{\"type\":\"string\"}},\"required\":[\"text\"]}")
APFLOW_OUTPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"length\":{\"type\":\"integer\"},\"upper\":{\"type\":\"string\"},\"sum\":{\"type\":\"integer\"},\"count\":{\"type\":\"integer\"},\"lang\":{\"type\":\"string\"},\"http_status\":{\"type\":\"integer\"},\"http_body\":{\"type\":\"string\"},\"http_error\":{\"type\":\"string\"}},\"required\":[\"length\",\"upper\",\"sum\",\"count\",\"lang\"]}")

/* Calls http_request GET url and adds http_status/http_body or http_error to out. */
static void fetch(const char *url, apflow_builder *out) {
    apflow_builder req = {0};
    apflow_begin_object(&req);
    apflow_key(&req, "method");
    apflow_str(&req, "GET");
    apflow_key(&req, "url");
    apflow_str(&req, url);
    apflow_end_object(&req);
    size_t n = 0;
    char *answer = req.failed ? NULL : apflow_http_request(req.data, req.len, &n);
    apflow_builder_free(&req);
    apflow_val doc, v;
    if (!answer) {
        apflow_key(out, "http_error");
        apflow_str(out, "no response");
    } else if (apflow_parse(answer, n, &doc) != 0) {
        apflow_key(out, "http_error");
        apflow_str(out, "malformed host answer");
    } else if (apflow_get(doc, "error", &v)) {
        apflow_key(out, "http_error");
        size_t mlen = 0;
        char *msg = apflow_string(v, &mlen); /* NULL when the error is not a string */
        if (msg) apflow_string_n(out, msg, mlen);
        else apflow_string_n(out, v.ptr, v.len); /* anything else: its JSON text */
        free(msg);
    } else {
        int64_t status = 0;
        if (apflow_get(doc, "status", &v)) apflow_int(v, &status);
        apflow_key(out, "http_status");
        apflow_int64(out, status);
        apflow_key(out, "http_body");
        size_t blen = 0;
        char *body = apflow_get(doc, "body", &v) ? apflow_string(v, &blen) : NULL;
        apflow_string_n(out, body ? body : "", body ? blen : 0);
        free(body);
    }
    free(answer);
}

static void execute(apflow_val input, apflow_builder *out) {
    apflow_val v, item;
    size_t len = 0;
    char *text = apflow_get(input, "text", &v) ? apflow_string(v, &len) : NULL;
    if (!text) {
        apflow_error(out, "text must be a string", "E_INPUT");
        return;
    }
    int64_t sum = 0, count = 0, n;
    if (apflow_get(input, "numbers", &v)) {
        apflow_iter it = {0};
        while (apflow_next(v, &it, NULL, &item)) {
            if (!apflow_int(item, &n)) {
                free(text);
                apflow_error(out, "numbers must be integers", "E_INPUT");
                return;
            }
            sum = (int64_t)((uint64_t)sum + (uint64_t)n);
            count++;
        }
    }
    apflow_logf(APFLOW_INFO, "conformance: processing %zu bytes", len);
    apflow_progress(0.5);
    int fail = 0;
    if (apflow_get(input, "fail", &v) && apflow_bool(v, &fail) && fail) {
        free(text);
        apflow_error(out, "requested failure", "E_REQUESTED");
        return;
    }
    apflow_begin_object(out);
    apflow_key(out, "length");
    apflow_int64(out, (int64_t)len);
    for (size_t i = 0; i < len; i++) {
        if (text[i] >= 'a' && text[i] <= 'z') text[i] = (char)(text[i] - 'a' + 'A');
    }
    apflow_key(out, "upper");
    apflow_string_n(out, text, len);
    free(text);
    apflow_key(out, "sum");
    apflow_int64(out, sum);
    apflow_key(out, "count");
    apflow_int64(out, count);
    apflow_key(out, "lang");
    apflow_str(out, "c");
    size_t ulen = 0;
    char *url = apflow_get(input, "url", &v) ? apflow_string(v, &ulen) : NULL;
    if (url && ulen > 0) fetch(url, out);
    free(url);
    apflow_progress(1.0);
    apflow_end_object(out);
}

APFLOW_EXECUTE(execute)
