/*
 * apflow.h — the C kit for apflow-wasm plugins (ABI v1, docs/abi.md).
 *
 * Build a plugin (one link of your sources plus apflow.c):
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I sdk/c \
 *         -o my_plugin.wasm my_plugin.c sdk/c/apflow.c
 *
 * Guarantees:
 *   - apflow.c exports `alloc` and `dealloc`, backed by malloc/free (wasi-libc), so any
 *     buffer the host hands over may be released with free().
 *   - The input buffer of a call is freed by the kit when the handler returns; do not keep
 *     apflow_val views of it past the handler.
 *   - A result stays valid until the next call into the guest, then the kit frees it.
 *   - Input that is not valid JSON never reaches the handler: the kit answers
 *     {"error":"invalid input: …","code":"E_INPUT"}.
 *   - Not thread-safe (WebAssembly plugins are single-threaded).
 *
 * Declaring a plugin (each at file scope, once per module):
 *
 *   APFLOW_METADATA("{\"id\":\"greet\",\"version\":\"1.0.0\"}")
 *   APFLOW_INPUT_SCHEMA("{\"type\":\"object\"}")
 *   APFLOW_OUTPUT_SCHEMA("{\"type\":\"object\"}")     (optional)
 *   APFLOW_EXECUTE(my_execute)                        (executor)
 *   APFLOW_HOOK(pre_hook, my_pre_hook)                (hook exports: pre_hook, post_hook,
 *                                                      on_tree_created, …)
 *   APFLOW_HOOK_CONFIG("{\"executors\":[\"greet\"]}")  (optional)
 *
 * A module may declare any subset: a hook-only module omits APFLOW_EXECUTE and
 * APFLOW_INPUT_SCHEMA and says "kind":["hook"] in its metadata (docs/abi.md). A pre_hook
 * answers {"inputs": {...}} to replace the task's inputs (apflow_copy_members() keeps the
 * existing ones verbatim), {} to change nothing, or apflow_error() for a hook failure.
 *
 * where a handler is `void my_execute(apflow_val input, apflow_builder *out)`: it writes
 * exactly one JSON value into `out` (or calls apflow_error()).
 */
#ifndef APFLOW_H
#define APFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------- JSON reader: validated views into a document, no copies ---------- */

/** JSON value types. */
typedef enum {
    APFLOW_INVALID = 0,
    APFLOW_NULL,
    APFLOW_BOOL,
    APFLOW_NUMBER,
    APFLOW_STRING,
    APFLOW_ARRAY,
    APFLOW_OBJECT
} apflow_type;

/** A view of one JSON value inside a validated document: `ptr`/`len` span its text. */
typedef struct {
    apflow_type type;
    const char *ptr;
    size_t len;
} apflow_val;

/** Iteration state for apflow_next(); zero-initialise before the first call. */
typedef struct {
    size_t pos;
} apflow_iter;

/** Maximum nesting depth accepted by apflow_parse(). */
#define APFLOW_MAX_DEPTH 128

/**
 * Validates `len` bytes as one complete JSON document (RFC 8259, UTF-8 checked, depth
 * limited) and sets *root to its top-level value. Returns 0 on success, or -1 - offset of
 * the first bad byte.
 */
long apflow_parse(const char *doc, size_t len, apflow_val *root);

/** Sets *out to member `key` of an object (last duplicate wins). Returns 1 if found. */
int apflow_get(apflow_val object, const char *key, apflow_val *out);

/**
 * Steps through an array's items or an object's members: returns 1 and sets *value (and
 * *key, when non-NULL and iterating an object) until the end, then 0.
 */
int apflow_next(apflow_val container, apflow_iter *it, apflow_val *key, apflow_val *value);

/** Sets *out to the boolean. Returns 1 when `v` is a boolean. */
int apflow_bool(apflow_val v, int *out);

/** Sets *out to the integer. Returns 1 when `v` is an integer literal that fits int64. */
int apflow_int(apflow_val v, int64_t *out);

/** Sets *out to the number. Returns 1 when `v` is a number. */
int apflow_double(apflow_val v, double *out);

/**
 * Decodes a string value (escapes resolved, surrogate pairs combined) into a new
 * NUL-terminated buffer from malloc; the decoded byte length goes to *len when non-NULL.
 * Returns NULL when `v` is not a string or memory is exhausted. Free with free().
 */
char *apflow_string(apflow_val v, size_t *len);

/** Whether a string value equals `s` (after decoding). */
int apflow_string_eq(apflow_val v, const char *s);

/* ---------- JSON builder ---------- */

/**
 * A growing JSON text. Commas and colons are inserted for you: call apflow_key() before
 * each member value, and the value functions in order. Zero-initialise, or use
 * apflow_builder_reset(). `failed` is set when memory ran out (the result is then an error).
 */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} apflow_builder;

void apflow_builder_reset(apflow_builder *b);           /* empty it, keep capacity */
void apflow_builder_free(apflow_builder *b);            /* release its memory */
void apflow_begin_object(apflow_builder *b);
void apflow_end_object(apflow_builder *b);
void apflow_begin_array(apflow_builder *b);
void apflow_end_array(apflow_builder *b);
void apflow_key(apflow_builder *b, const char *key);   /* key of the next member */
void apflow_string_n(apflow_builder *b, const char *s, size_t n); /* escaped string value */
void apflow_str(apflow_builder *b, const char *s);     /* NUL-terminated string value */
void apflow_int64(apflow_builder *b, int64_t v);
void apflow_number(apflow_builder *b, double v);        /* round-trips; non-finite becomes null */
void apflow_boolean(apflow_builder *b, int v);
void apflow_null(apflow_builder *b);
void apflow_raw(apflow_builder *b, const char *json, size_t n); /* pre-serialised value */

/**
 * Writes every member of `object` (a view from the reader) into the object being built in
 * `b`, keys and values copied verbatim — numbers of any size, strings and nested values
 * unchanged — except the members whose key equals `except` (NULL: copy all). Use it
 * between apflow_begin_object() and apflow_end_object(), e.g. to return a pre-hook's
 * inputs plus one key. Returns the number of members copied; does nothing (0) when
 * `object` is not an object.
 */
size_t apflow_copy_members(apflow_builder *b, apflow_val object, const char *except);

/** Replaces whatever `out` holds with {"error": message} (+ "code" when code != NULL). */
void apflow_error(apflow_builder *out, const char *message, const char *code);

/* ---------- Host functions (import module "apflow") ---------- */

enum { APFLOW_TRACE = 0, APFLOW_DEBUG = 1, APFLOW_INFO = 2, APFLOW_WARN = 3, APFLOW_ERROR = 4 };

/** One line in the task's log. */
void apflow_log(int level, const char *message);

/** printf-style apflow_log (lines longer than 1 KiB are truncated). */
void apflow_logf(int level, const char *format, ...) __attribute__((format(printf, 2, 3)));

/** The task's progress, clamped by the host to 0..1. */
void apflow_progress(double value);

/**
 * Performs an HTTP request (`http` grant): `request_json` is
 * {"method","url","headers","body","timeout_ms"}. Returns the host's answer
 * ({"status","headers","body"} or {"error"}) as a NUL-terminated malloc'd string (length in
 * *len when non-NULL), or NULL when the host returned nothing. Free with free().
 */
char *apflow_http_request(const char *request_json, size_t request_len, size_t *len);

/**
 * The value of a granted config key or secret as a NUL-terminated malloc'd string, or NULL
 * when not granted or not set. Free with free().
 */
char *apflow_config_get(const char *key, size_t *len);

/**
 * Asks the operator's language model (`llm` grant; the provider's keys stay in the host):
 * `request_json` is {"messages":[{"role","content"}],"max_tokens","temperature","json"}
 * (docs/abi.md). Returns the host's answer, {"content","model","stop_reason","usage":
 * {"input_tokens","output_tokens"}} or {"error","code"} with code "llm_not_granted",
 * "llm_not_configured", "llm_budget_exceeded", "llm_provider_error" or "invalid_request",
 * as a NUL-terminated malloc'd string (length in *out_len when non-NULL), or NULL when the
 * host returned nothing. Free with free(). The tokens count in the task's usage.
 */
char *apflow_llm_complete(const char *request_json, size_t len, size_t *out_len);

#ifndef __wasm__
/*
 * Natively (unit tests of a plugin's logic, off-wasm) the host functions are served by a
 * mock: apflow_http_request answers the response set for its method and URL with
 * apflow_mock_respond ({"status","headers":{},"body"}), or {"error":"no mock response for
 * METHOD URL"}; apflow_config_get answers the values set with apflow_mock_set_config
 * (NULL otherwise); log lines, progress values and request documents are recorded. One
 * process-wide host: run the tests that use it one at a time. Setters return 0, or -1
 * when out of memory.
 */
void apflow_mock_reset(void);                                  /* forget everything */
int apflow_mock_set_config(const char *key, const char *value); /* the last set wins */
int apflow_mock_respond(const char *method, const char *url, int status, const char *body);
size_t apflow_mock_log_count(void);
const char *apflow_mock_log(size_t i, int *level);             /* NULL past the end */
size_t apflow_mock_progress_count(void);
double apflow_mock_progress(size_t i);
size_t apflow_mock_request_count(void);
const char *apflow_mock_request(size_t i);                     /* the request document */
/* apflow_llm_complete answers the documents queued with apflow_mock_llm (an answer or an
 * {"error","code"} document), one per call in order, and {"error":"no mock llm
 * response","code":"llm_not_configured"} when none is left; its requests are recorded. */
int apflow_mock_llm(const char *answer_json);
size_t apflow_mock_llm_request_count(void);
const char *apflow_mock_llm_request(size_t i);                 /* the request document */
#endif

/** Statuses of apflow_sleep_ms (the sleep_ms host function, docs/abi.md). */
enum {
    APFLOW_SLEEP_OK = 0,          /* the whole time was slept */
    APFLOW_SLEEP_CANCELLED = 1,   /* the task was cancelled during the sleep: it is over */
    APFLOW_SLEEP_DEADLINE = 2,    /* the task's deadline passed during the sleep: it is over */
    APFLOW_SLEEP_INVALID = 3,     /* negative or longer than the longest task timeout */
    APFLOW_SLEEP_NOT_GRANTED = 4  /* the plugin lacks the clock grant */
};

/** The longest sleep the native stand-in of apflow_sleep_ms accepts (the host's default
 * ceiling of a task's timeout; the host refuses sleeps above its operator's ceiling). */
#define APFLOW_MAX_SLEEP_MS 3600000

/**
 * Sleeps `ms` milliseconds through the host (`clock` grant): the sleep for polling and
 * retry with backoff. Returns APFLOW_SLEEP_OK after the whole wait; APFLOW_SLEEP_CANCELLED
 * or APFLOW_SLEEP_DEADLINE as soon as the task is cancelled or its deadline passes (never
 * sleeping past it: the task is over and fails as cancelled or timed out whatever the
 * handler writes, so return at once); APFLOW_SLEEP_INVALID or APFLOW_SLEEP_NOT_GRANTED when
 * nothing was slept. WASI's nanosleep also waits with the clock grant, but a cancel or
 * deadline ends the call inside it, and without the grant it returns at once. Natively it
 * returns at once (APFLOW_SLEEP_INVALID for what the host refuses by default).
 */
int apflow_sleep_ms(int64_t ms);

/** The error code of a sleep status: "cancelled", "deadline_exceeded", "sleep_refused"
 * (NULL for APFLOW_SLEEP_OK). */
const char *apflow_sleep_code(int status);

/** A message saying what a sleep status means (NULL for APFLOW_SLEEP_OK); with
 * apflow_sleep_code, ready for apflow_error(). */
const char *apflow_sleep_message(int status);

/* ---------- Key-value storage (kv grant, docs/kv.md) ---------- */

/**
 * Why a kv call was refused: `code` is "kv_" and the host's code ("kv_not_granted",
 * "kv_quota_exceeded", "kv_too_large", "kv_bad_key", "kv_bad_request",
 * "kv_unavailable"), `message` the host's message (malloc'd). Ready for apflow_error();
 * release with apflow_kv_error_free().
 */
typedef struct {
    char code[40];
    char *message;
} apflow_kv_error;

/** Frees err->message (safe on a zeroed or already freed error). */
void apflow_kv_error_free(apflow_kv_error *err);

/**
 * Reads `key` from the plugin's key-value space. Returns 1 and sets *value_json to the
 * value's JSON text (NUL-terminated, malloc'd, length in *value_len when non-NULL; free
 * with free()) when the key has a live entry, 0 when it has none (or it expired), -1 when
 * the call was refused (*err filled).
 */
int apflow_kv_get(const char *key, char **value_json, size_t *value_len, apflow_kv_error *err);

/**
 * Stores the JSON value `value_json` (`value_len` bytes) under `key`, replacing the key's
 * entry; it expires after `ttl_ms` milliseconds, or never with 0. With `if_absent`, it
 * stores only when the key has no live entry, atomically (a claim). Returns 1 when stored,
 * 0 when not (if_absent and the key is taken), -1 when refused (*err filled: over the
 * quota or max_value_bytes nothing is written).
 */
int apflow_kv_set(const char *key, const char *value_json, size_t value_len, int64_t ttl_ms, int if_absent,
                  apflow_kv_error *err);

/** Deletes `key`'s entry. Returns 1 when there was a live one, 0 when not, -1 when refused. */
int apflow_kv_delete(const char *key, apflow_kv_error *err);

/**
 * Lists up to `limit` keys (0: the host's default of 100, at most 1000), in byte order,
 * that start with `prefix` and come after `after` ("" or NULL for none). Returns the host's
 * answer {"keys":[…],"more":bool,"next":"…"} (NUL-terminated, malloc'd, length in *len;
 * parse it with apflow_parse, free with free()), or NULL when refused (*err filled).
 */
char *apflow_kv_list(const char *prefix, const char *after, int limit, size_t *len, apflow_kv_error *err);

/* ---------- Exports ---------- */

typedef void (*apflow_handler)(apflow_val input, apflow_builder *out);

/** Runs one (ptr, len) -> i64 export; used by APFLOW_EXECUTE and APFLOW_HOOK. */
uint64_t apflow_call(uint8_t *ptr, size_t len, apflow_handler handler);

/** Returns a packed result for a static document; used by the declaration macros. */
uint64_t apflow_static(const char *doc);

#ifdef __wasm__
#define APFLOW_EXPORT_(name) __attribute__((export_name(#name), used))
#else
#define APFLOW_EXPORT_(name) __attribute__((used))
#endif

#define APFLOW_STATIC_EXPORT_(name, doc) \
    APFLOW_EXPORT_(name) uint64_t apflow_export_##name(void) { return apflow_static(doc); }

#define APFLOW_METADATA(doc) APFLOW_STATIC_EXPORT_(get_metadata, doc)
#define APFLOW_INPUT_SCHEMA(doc) APFLOW_STATIC_EXPORT_(get_input_schema, doc)
#define APFLOW_OUTPUT_SCHEMA(doc) APFLOW_STATIC_EXPORT_(get_output_schema, doc)
#define APFLOW_HOOK_CONFIG(doc) APFLOW_STATIC_EXPORT_(get_hook_config, doc)

#define APFLOW_HOOK(name, handler) \
    APFLOW_EXPORT_(name) uint64_t apflow_export_##name(uint8_t *ptr, size_t len) { \
        return apflow_call(ptr, len, handler); \
    }
#define APFLOW_EXECUTE(handler) APFLOW_HOOK(execute, handler)

#ifdef __cplusplus
}
#endif
#endif /* APFLOW_H */
