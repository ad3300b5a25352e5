/* Native unit tests of the C kit's JSON reader and builder: cc -I.. apflow_test.c ../apflow.c */
#include "apflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static int parses(const char *doc) {
    apflow_val v;
    return apflow_parse(doc, strlen(doc), &v) == 0;
}

static void test_validation(void) {
    const char *good[] = {"null", " true ", "[1,-2,3.5,1e2,\"x\"]", "{\"a\":{\"b\":[]},\"c\":{}}",
                          "\"\\u00e9\\ud83d\\ude00\\n\"", "0", "-0.5E+3", "\"h\xc3\xa9\""};
    const char *bad[] = {"", "nul", "[1,]", "{\"a\":1,}", "01", "-", "1.", "1e", "\"abc", "\"\\x\"",
                         "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "{a:1}", "[1 2]", "1 2", "\"\\u12\"",
                         "\"\xff\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\""};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!parses(good[i])) { fprintf(stderr, "rejected %s\n", good[i]); failures++; }
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parses(bad[i])) { fprintf(stderr, "accepted %s\n", bad[i]); failures++; }
    }
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    CHECK(apflow_parse(deep, 600, &(apflow_val){0}) != 0);
}

static void test_lookup(void) {
    const char *doc = "{ \"te\\u0078t\" : \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\", \"n\":[1, -2 ,9223372036854775807],"
                      " \"f\":true, \"d\":2.5, \"o\":{\"x\":null}, \"n\":[7] }";
    apflow_val root, v, item;
    CHECK(apflow_parse(doc, strlen(doc), &root) == 0);
    CHECK(root.type == APFLOW_OBJECT);
    CHECK(apflow_get(root, "text", &v) && v.type == APFLOW_STRING);
    size_t n;
    char *s = apflow_string(v, &n);
    CHECK(s && strcmp(s, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80") == 0 && n == 11);
    free(s);
    CHECK(apflow_get(root, "n", &v) && v.type == APFLOW_ARRAY); /* last duplicate wins */
    apflow_iter it = {0};
    int64_t i64 = 0, count = 0;
    while (apflow_next(v, &it, NULL, &item)) { CHECK(apflow_int(item, &i64)); count++; }
    CHECK(count == 1 && i64 == 7);
    int b = 0;
    CHECK(apflow_get(root, "f", &v) && apflow_bool(v, &b) && b == 1);
    double d = 0;
    CHECK(apflow_get(root, "d", &v) && apflow_double(v, &d) && d == 2.5 && !apflow_int(v, &i64));
    CHECK(!apflow_get(root, "missing", &v));
    CHECK(apflow_get(root, "o", &v) && apflow_get(v, "x", &item) && item.type == APFLOW_NULL);
    const char *big = "[9223372036854775807,-9223372036854775808,9223372036854775808]";
    CHECK(apflow_parse(big, strlen(big), &root) == 0);
    it = (apflow_iter){0};
    CHECK(apflow_next(root, &it, NULL, &item) && apflow_int(item, &i64) && i64 == INT64_MAX);
    CHECK(apflow_next(root, &it, NULL, &item) && apflow_int(item, &i64) && i64 == INT64_MIN);
    CHECK(apflow_next(root, &it, NULL, &item) && !apflow_int(item, &i64));
    CHECK(!apflow_next(root, &it, NULL, &item));
}

static void test_builder(void) {
    apflow_builder b = {0};
    apflow_begin_object(&b);
    apflow_key(&b, "s");
    apflow_str(&b, "q\"\\\n\x01\xc3\xa9");
    apflow_key(&b, "a");
    apflow_begin_array(&b);
    apflow_int64(&b, -5);
    apflow_number(&b, 0.1);
    apflow_number(&b, 1.0 / 3.0);
    apflow_boolean(&b, 0);
    apflow_null(&b);
    apflow_begin_object(&b);
    apflow_end_object(&b);
    apflow_end_array(&b);
    apflow_key(&b, "r");
    apflow_raw(&b, "{\"x\":1}", 7);
    apflow_end_object(&b);
    CHECK(strcmp(b.data, "{\"s\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\",\"a\":[-5,0.1,0.33333333333333331,false,null,{}],\"r\":{\"x\":1}}") == 0);
    apflow_val v;
    CHECK(apflow_parse(b.data, b.len, &v) == 0);
    apflow_error(&b, "bad \"thing\"", "E_X");
    CHECK(strcmp(b.data, "{\"error\":\"bad \\\"thing\\\"\",\"code\":\"E_X\"}") == 0);
    apflow_builder_free(&b);
}

static void test_copy_members(void) {
    static const struct {
        const char *in, *except, *want;
        size_t copied;
    } cases[] = {
        {"{ \"a\" : {\"b\":[1, 2]}, \"big\":123456789012345678901234567890,\"f\":1e2,\"k\":1}", "k",
         "{\"a\":{\"b\":[1, 2]},\"big\":123456789012345678901234567890,\"f\":1e2,\"_x\":true}", 3},
        {"{\"\\u006b\":1,\"q\\\"\":\"\\u00e9\"}", "k", "{\"q\\\"\":\"\\u00e9\",\"_x\":true}", 1},
        {"{\"a\":1}", NULL, "{\"a\":1,\"_x\":true}", 1},
        {"{}", "k", "{\"_x\":true}", 0},
        {"[1,2]", NULL, "{\"_x\":true}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        apflow_val root;
        CHECK(apflow_parse(cases[i].in, strlen(cases[i].in), &root) == 0);
        apflow_builder b = {0};
        apflow_begin_object(&b);
        size_t n = apflow_copy_members(&b, root, cases[i].except);
        apflow_key(&b, "_x");
        apflow_boolean(&b, 1);
        apflow_end_object(&b);
        if (strcmp(b.data, cases[i].want) != 0 || n != cases[i].copied) {
            fprintf(stderr, "copy_members case %zu: got %s (%zu), want %s (%zu)\n", i, b.data, n, cases[i].want, cases[i].copied);
            failures++;
        }
        apflow_val v;
        CHECK(apflow_parse(b.data, b.len, &v) == 0);
        apflow_builder_free(&b);
    }
}

/* Retries op up to 3 times, sleeping 100 ms then 200 ms before each retry; a failed
 * sleep ends the loop with its status. Returns 0 on success, the sleep status, or -1. */
static int calls_left_failing;
static int flaky_op(void) { return calls_left_failing-- > 0 ? -1 : 0; }
static int retry_with_backoff(int64_t *waits, int *nwaits) {
    int64_t wait = 100;
    for (int attempt = 1;; attempt++) {
        if (flaky_op() == 0) return 0;
        if (attempt == 3) return -1;
        int s = apflow_sleep_ms(wait);
        if (s != APFLOW_SLEEP_OK) return s;
        waits[(*nwaits)++] = wait;
        wait *= 2;
    }
}

static void test_sleep(void) {
    CHECK(apflow_sleep_ms(0) == APFLOW_SLEEP_OK);
    CHECK(apflow_sleep_ms(APFLOW_MAX_SLEEP_MS) == APFLOW_SLEEP_OK);
    CHECK(apflow_sleep_ms(-1) == APFLOW_SLEEP_INVALID);
    CHECK(apflow_sleep_ms(APFLOW_MAX_SLEEP_MS + 1) == APFLOW_SLEEP_INVALID);
    CHECK(apflow_sleep_code(APFLOW_SLEEP_OK) == NULL && apflow_sleep_message(APFLOW_SLEEP_OK) == NULL);
    CHECK(strcmp(apflow_sleep_code(APFLOW_SLEEP_CANCELLED), "cancelled") == 0);
    CHECK(strcmp(apflow_sleep_code(APFLOW_SLEEP_DEADLINE), "deadline_exceeded") == 0);
    CHECK(strcmp(apflow_sleep_code(APFLOW_SLEEP_INVALID), "sleep_refused") == 0);
    CHECK(strcmp(apflow_sleep_code(APFLOW_SLEEP_NOT_GRANTED), "sleep_refused") == 0);
    CHECK(strstr(apflow_sleep_message(APFLOW_SLEEP_DEADLINE), "deadline") != NULL);
    CHECK(strstr(apflow_sleep_message(APFLOW_SLEEP_NOT_GRANTED), "clock") != NULL);

    apflow_builder b = {0};
    apflow_error(&b, apflow_sleep_message(APFLOW_SLEEP_CANCELLED), apflow_sleep_code(APFLOW_SLEEP_CANCELLED));
    CHECK(strcmp(b.data, "{\"error\":\"sleep ended: the task was cancelled\",\"code\":\"cancelled\"}") == 0);
    apflow_builder_free(&b);

    int64_t waits[4];
    int n = 0;
    calls_left_failing = 2;
    CHECK(retry_with_backoff(waits, &n) == 0 && n == 2 && waits[0] == 100 && waits[1] == 200);
    n = 0;
    calls_left_failing = 5;
    CHECK(retry_with_backoff(waits, &n) == -1 && n == 2);
}

/* Natively the kv functions have no host: every call is refused with kv_unavailable and
 * the error is ready for apflow_error(). */
static void test_kv(void) {
    apflow_kv_error err = {0};
    char *value = NULL;
    CHECK(apflow_kv_get("k", &value, NULL, &err) == -1 && value == NULL);
    CHECK(strcmp(err.code, "kv_unavailable") == 0 && err.message && strstr(err.message, "kv_get") != NULL);
    CHECK(apflow_kv_set("k", "1", 1, 0, 0, &err) == -1 && strcmp(err.code, "kv_unavailable") == 0);
    CHECK(apflow_kv_delete("k", &err) == -1);
    size_t len = 0;
    CHECK(apflow_kv_list("p/", NULL, 10, &len, &err) == NULL);
    apflow_builder b = {0};
    apflow_error(&b, err.message, err.code);
    CHECK(strcmp(b.data, "{\"error\":\"kv_list: no answer from the host\",\"code\":\"kv_unavailable\"}") == 0);
    apflow_builder_free(&b);
    apflow_kv_error_free(&err);
    CHECK(err.message == NULL);
    apflow_kv_error_free(&err);
}

/* Natively the host is the mock: it answers what a test set and records what happened. */
static void test_mock(void) {
    apflow_mock_reset();
    CHECK(apflow_config_get("k", NULL) == NULL);
    CHECK(apflow_mock_set_config("k", "v1") == 0 && apflow_mock_set_config("k", "v2") == 0);
    size_t n = 0;
    char *v = apflow_config_get("k", &n);
    CHECK(v && strcmp(v, "v2") == 0 && n == 2);
    free(v);
    CHECK(apflow_mock_respond("post", "https://a.example/p", 201, "say \"hi\"") == 0);
    const char *req = "{\"method\":\"POST\",\"url\":\"https://a.example/p\",\"body\":\"x\"}";
    char *answer = apflow_http_request(req, strlen(req), &n);
    CHECK(answer && strcmp(answer, "{\"status\":201,\"headers\":{},\"body\":\"say \\\"hi\\\"\"}") == 0);
    free(answer);
    const char *other = "{\"url\":\"https://a.example/q\"}";
    answer = apflow_http_request(other, strlen(other), NULL);
    CHECK(answer && strcmp(answer, "{\"error\":\"no mock response for GET https://a.example/q\"}") == 0);
    free(answer);
    CHECK(apflow_mock_request_count() == 2 && strcmp(apflow_mock_request(0), req) == 0);
    apflow_logf(APFLOW_WARN, "careful %d", 7);
    apflow_progress(0.5);
    int level = -1;
    CHECK(apflow_mock_log_count() == 1 && strcmp(apflow_mock_log(0, &level), "careful 7") == 0 && level == APFLOW_WARN);
    CHECK(apflow_mock_progress_count() == 1 && apflow_mock_progress(0) == 0.5);
    apflow_mock_reset();
    CHECK(apflow_mock_log_count() == 0 && apflow_mock_request_count() == 0 && apflow_config_get("k", NULL) == NULL);
}

/* apflow_llm_complete answers the queued documents in order and records its requests. */
static void test_llm(void) {
    apflow_mock_reset();
    const char *ok = "{\"content\":\"hello\",\"model\":\"fake\",\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}";
    const char *spent = "{\"error\":\"spent\",\"code\":\"llm_budget_exceeded\"}";
    CHECK(apflow_mock_llm(ok) == 0 && apflow_mock_llm(spent) == 0);
    const char *req = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    size_t n = 0;
    char *answer = apflow_llm_complete(req, strlen(req), &n);
    CHECK(answer && strcmp(answer, ok) == 0 && n == strlen(ok));
    apflow_val doc, v;
    CHECK(answer && apflow_parse(answer, n, &doc) == 0 && apflow_get(doc, "content", &v));
    free(answer);
    answer = apflow_llm_complete(req, strlen(req), NULL);
    CHECK(answer && strcmp(answer, spent) == 0);
    free(answer);
    answer = apflow_llm_complete(req, strlen(req), NULL);
    CHECK(answer && strstr(answer, "\"code\":\"llm_not_configured\"") != NULL);
    free(answer);
    CHECK(apflow_mock_llm_request_count() == 3 && strcmp(apflow_mock_llm_request(0), req) == 0);
    CHECK(apflow_mock_llm_request(3) == NULL);
    apflow_mock_reset();
    CHECK(apflow_mock_llm_request_count() == 0);
}

int main(void) {
    test_validation();
    test_lookup();
    test_builder();
    test_copy_members();
    test_sleep();
    test_kv();
    test_mock();
    test_llm();
    apflow_mock_reset();
    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
