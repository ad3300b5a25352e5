#include "apflow.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

APFLOW_METADATA("{\"id\":\"word_count\",\"name\":\"Word count\",\"version\":\"0.1.0\"}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},\"url\":{\"type\":\"string\"},\"explode\":{\"type\":\"boolean\"}}}")

static int counts[4];

/* The bug the trap shows: an index far outside memory. */
__attribute__((noinline)) static void explode(size_t n) {
    counts[n * 1000000000u] += 1;
}

static long count_words(const char *s) {
    long n = 0;
    int in_word = 0;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) in_word = 0;
        else if (!in_word) { in_word = 1; n++; }
    }
    return n;
}

static void execute(apflow_val input, apflow_builder *out) {
    apflow_val v;
    int explode_flag = 0;
    if (apflow_get(input, "explode", &v) && apflow_bool(v, &explode_flag) && explode_flag) explode(7);
    char *text = apflow_get(input, "text", &v) ? apflow_string(v, NULL) : NULL;
    char *url = apflow_get(input, "url", &v) ? apflow_string(v, NULL) : NULL;
    if (url) {
        char req[1024];
        int len = snprintf(req, sizeof req, "{\"method\":\"GET\",\"url\":\"%s\"}", url);
        char *answer = apflow_http_request(req, (size_t)len, NULL);
        apflow_val resp, body;
        free(text);
        text = NULL;
        if (answer && apflow_parse(answer, strlen(answer), &resp) >= 0 && apflow_get(resp, "body", &body))
            text = apflow_string(body, NULL);
        free(answer);
        if (!text) { free(url); apflow_error(out, "the http request failed", "http_refused"); return; }
    }
    long n = text ? count_words(text) : 0;
    apflow_logf(APFLOW_INFO, "counted words words=%ld", n);
    apflow_begin_object(out);
    apflow_key(out, "words");
    apflow_int64(out, n);
    apflow_end_object(out);
    free(text);
    free(url);
}

APFLOW_EXECUTE(execute)
