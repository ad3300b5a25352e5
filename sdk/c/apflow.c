/* apflow.c — implementation of apflow.h (the C kit for apflow-wasm plugins, ABI v1). */
#include "apflow.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================= memory and results ======================= */

APFLOW_EXPORT_(alloc) void *apflow_alloc(size_t size) {
    /* never 0 for size > 0: malloc failure traps instead */
    void *p = malloc(size ? size : 1);
    if (!p) __builtin_trap();
    return p;
}

APFLOW_EXPORT_(dealloc) void apflow_dealloc(void *ptr, size_t size) {
    (void)size;
    free(ptr);
}

static char *last_result; /* kept alive until the next call into the guest */

static void release_last(void) {
    free(last_result);
    last_result = NULL;
}

static uint64_t pack(const void *ptr, size_t len) {
    return ((uint64_t)(uintptr_t)ptr << 32) | (uint64_t)(uint32_t)len;
}

uint64_t apflow_static(const char *doc) {
    release_last();
    size_t n = doc ? strlen(doc) : 0;
    return n ? pack(doc, n) : 0;
}

uint64_t apflow_call(uint8_t *ptr, size_t len, apflow_handler handler) {
    release_last();
    apflow_builder out = {0};
    apflow_val input;
    long rc = apflow_parse((const char *)ptr, len, &input);
    if (rc != 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "invalid input: not JSON (byte %ld)", -1 - rc);
        apflow_error(&out, msg, "E_INPUT");
    } else {
        handler(input, &out);
    }
    free(ptr);
    if (out.failed) apflow_error(&out, "out of memory building the result", "E_NOMEM");
    if (out.len == 0) {
        apflow_builder_free(&out);
        return 0;
    }
    last_result = out.data;
    return pack(out.data, out.len);
}

/* ======================= JSON reader ======================= */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(const char *s, size_t n, size_t *i) {
    while (*i < n && is_ws(s[*i])) (*i)++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long hex4(const char *s, size_t n, size_t i) {
    if (i + 4 > n) return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Validates a string starting at s[*i] == '"'; leaves *i after the closing quote. */
static int scan_string(const char *s, size_t n, size_t *i) {
    (*i)++;
    while (*i < n) {
        unsigned char c = (unsigned char)s[*i];
        if (c == '"') { (*i)++; return 0; }
        if (c < 0x20) return -1;
        if (c != '\\') { (*i)++; continue; }
        if (++(*i) >= n) return -1;
        char e = s[*i];
        if (e == 'u') {
            long hi = hex4(s, n, *i + 1);
            if (hi < 0) return -1;
            *i += 5;
            if (hi >= 0xD800 && hi < 0xDC00) {
                if (*i + 1 >= n || s[*i] != '\\' || s[*i + 1] != 'u') return -1;
                long lo = hex4(s, n, *i + 2);
                if (lo < 0xDC00 || lo >= 0xE000) return -1;
                *i += 6;
            } else if (hi >= 0xDC00 && hi < 0xE000) {
                return -1;
            }
        } else if (strchr("\"\\/bfnrt", e) && e != 0) {
            (*i)++;
        } else {
            return -1;
        }
    }
    return -1;
}

static size_t digits(const char *s, size_t n, size_t *i) {
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') (*i)++;
    return *i - start;
}

static int scan_number(const char *s, size_t n, size_t *i) {
    if (s[*i] == '-') (*i)++;
    size_t start = *i;
    size_t d = digits(s, n, i);
    if (d == 0 || (d > 1 && s[start] == '0')) return -1;
    if (*i < n && s[*i] == '.') {
        (*i)++;
        if (digits(s, n, i) == 0) return -1;
    }
    if (*i < n && (s[*i] == 'e' || s[*i] == 'E')) {
        (*i)++;
        if (*i < n && (s[*i] == '+' || s[*i] == '-')) (*i)++;
        if (digits(s, n, i) == 0) return -1;
    }
    return 0;
}

/* Validates one value at s[*i] (no leading whitespace); *i ends right after it. */
static int scan_value(const char *s, size_t n, size_t *i, int depth, apflow_type *type) {
    if (depth > APFLOW_MAX_DEPTH || *i >= n) return -1;
    char c = s[*i];
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        *type = c == '{' ? APFLOW_OBJECT : APFLOW_ARRAY;
        (*i)++;
        skip_ws(s, n, i);
        if (*i < n && s[*i] == close) { (*i)++; return 0; }
        for (;;) {
            apflow_type t;
            skip_ws(s, n, i);
            if (c == '{') {
                if (*i >= n || s[*i] != '"' || scan_string(s, n, i)) return -1;
                skip_ws(s, n, i);
                if (*i >= n || s[*i] != ':') return -1;
                (*i)++;
                skip_ws(s, n, i);
            }
            if (scan_value(s, n, i, depth + 1, &t)) return -1;
            skip_ws(s, n, i);
            if (*i >= n) return -1;
            if (s[*i] == ',') { (*i)++; continue; }
            if (s[*i] == close) { (*i)++; return 0; }
            return -1;
        }
    }
    if (c == '"') { *type = APFLOW_STRING; return scan_string(s, n, i); }
    if (c == '-' || (c >= '0' && c <= '9')) { *type = APFLOW_NUMBER; return scan_number(s, n, i); }
    static const struct { const char *w; size_t l; apflow_type t; } lits[] = {
        {"null", 4, APFLOW_NULL}, {"true", 4, APFLOW_BOOL}, {"false", 5, APFLOW_BOOL}};
    for (size_t k = 0; k < 3; k++) {
        if (n - *i >= lits[k].l && memcmp(s + *i, lits[k].w, lits[k].l) == 0) {
            *i += lits[k].l;
            *type = lits[k].t;
            return 0;
        }
    }
    return -1;
}

/* Returns the offset of the first invalid UTF-8 byte, or n. */
static size_t utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; }
        else return i;
        if (i + need >= n) return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
            return i;
        i += need + 1;
    }
    return n;
}

long apflow_parse(const char *doc, size_t len, apflow_val *root) {
    size_t bad = utf8_valid((const unsigned char *)doc, len);
    if (bad != len) return -1 - (long)bad;
    size_t i = 0;
    skip_ws(doc, len, &i);
    size_t start = i;
    apflow_type t = APFLOW_INVALID;
    if (scan_value(doc, len, &i, 0, &t)) return -1 - (long)i;
    size_t end = i;
    skip_ws(doc, len, &i);
    if (i != len) return -1 - (long)i;
    root->type = t;
    root->ptr = doc + start;
    root->len = end - start;
    return 0;
}

int apflow_next(apflow_val c, apflow_iter *it, apflow_val *key, apflow_val *value) {
    if (c.type != APFLOW_OBJECT && c.type != APFLOW_ARRAY) return 0;
    const char *s = c.ptr;
    size_t n = c.len, i = it->pos ? it->pos : 1;
    skip_ws(s, n, &i);
    if (i < n && s[i] == ',') i++;
    skip_ws(s, n, &i);
    if (i >= n || s[i] == '}' || s[i] == ']') { it->pos = n; return 0; }
    if (c.type == APFLOW_OBJECT) {
        size_t ks = i;
        if (scan_string(s, n, &i)) return 0;
        if (key) { key->type = APFLOW_STRING; key->ptr = s + ks; key->len = i - ks; }
        skip_ws(s, n, &i);
        i++; /* ':' */
        skip_ws(s, n, &i);
    }
    size_t vs = i;
    apflow_type t;
    if (scan_value(s, n, &i, 0, &t)) return 0;
    value->type = t;
    value->ptr = s + vs;
    value->len = i - vs;
    it->pos = i;
    return 1;
}

int apflow_get(apflow_val object, const char *key, apflow_val *out) {
    apflow_iter it = {0};
    apflow_val k, v;
    int found = 0;
    while (apflow_next(object, &it, &k, &v)) {
        if (apflow_string_eq(k, key)) { *out = v; found = 1; }
    }
    return found;
}

int apflow_bool(apflow_val v, int *out) {
    if (v.type != APFLOW_BOOL) return 0;
    *out = v.ptr[0] == 't';
    return 1;
}

int apflow_int(apflow_val v, int64_t *out) {
    if (v.type != APFLOW_NUMBER) return 0;
    size_t i = 0;
    int neg = v.ptr[0] == '-';
    if (neg) i++;
    uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < v.len; i++) {
        char c = v.ptr[i];
        if (c < '0' || c > '9') return 0; /* fraction or exponent */
        uint64_t d = (uint64_t)(c - '0');
        if (acc > (limit - d) / 10) return 0;
        acc = acc * 10 + d;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 1;
}

int apflow_double(apflow_val v, double *out) {
    if (v.type != APFLOW_NUMBER) return 0;
    char buf[64];
    if (v.len >= sizeof buf) {
        char *tmp = malloc(v.len + 1);
        if (!tmp) return 0;
        memcpy(tmp, v.ptr, v.len);
        tmp[v.len] = 0;
        *out = strtod(tmp, NULL);
        free(tmp);
        return 1;
    }
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = 0;
    *out = strtod(buf, NULL);
    return 1;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *apflow_string(apflow_val v, size_t *len) {
    if (v.type != APFLOW_STRING || v.len < 2) return NULL;
    char *out = malloc(v.len); /* decoding never grows the text */
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 1; i + 1 < v.len; i++) {
        char c = v.ptr[i];
        if (c != '\\') { out[o++] = c; continue; }
        char e = v.ptr[++i];
        switch (e) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(v.ptr, v.len, i + 1);
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                uint32_t lo = (uint32_t)hex4(v.ptr, v.len, i + 3);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: out[o++] = e; /* " \ / */
        }
    }
    out[o] = 0;
    if (len) *len = o;
    return out;
}

int apflow_string_eq(apflow_val v, const char *s) {
    size_t n;
    char *d = apflow_string(v, &n);
    if (!d) return 0;
    int eq = n == strlen(s) && memcmp(d, s, n) == 0;
    free(d);
    return eq;
}

/* ======================= JSON builder ======================= */

static void put(apflow_builder *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) { b->failed = 1; return; }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* Inserts a comma when a value or key follows another one in the same container. */
static void sep(apflow_builder *b) {
    if (b->len == 0) return;
    char last = b->data[b->len - 1];
    if (last != '{' && last != '[' && last != ':') put(b, ",", 1);
}

void apflow_builder_reset(apflow_builder *b) {
    b->len = 0;
    b->failed = 0;
    if (b->data) b->data[0] = 0;
}

void apflow_builder_free(apflow_builder *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void apflow_begin_object(apflow_builder *b) { sep(b); put(b, "{", 1); }
void apflow_end_object(apflow_builder *b) { put(b, "}", 1); }
void apflow_begin_array(apflow_builder *b) { sep(b); put(b, "[", 1); }
void apflow_end_array(apflow_builder *b) { put(b, "]", 1); }

static void quoted(apflow_builder *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0'; u[4] = hex[c >> 4]; u[5] = hex[c & 15];
            } else {
                continue;
            }
        }
        put(b, s + run, i - run);
        if (esc) put(b, esc, strlen(esc)); else put(b, u, 6);
        run = i + 1;
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

void apflow_key(apflow_builder *b, const char *key) {
    sep(b);
    quoted(b, key, strlen(key));
    put(b, ":", 1);
}

void apflow_string_n(apflow_builder *b, const char *s, size_t n) { sep(b); quoted(b, s, n); }
void apflow_str(apflow_builder *b, const char *s) { apflow_string_n(b, s, strlen(s)); }

void apflow_int64(apflow_builder *b, int64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    sep(b);
    put(b, buf, (size_t)n);
}

void apflow_number(apflow_builder *b, double v) {
    if (!isfinite(v)) { apflow_null(b); return; }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%.15g", v); /* shortest form that reads back exactly */
    if (strtod(buf, NULL) != v) n = snprintf(buf, sizeof buf, "%.17g", v);
    sep(b);
    put(b, buf, (size_t)n);
}

void apflow_boolean(apflow_builder *b, int v) { sep(b); put(b, v ? "true" : "false", v ? 4 : 5); }
void apflow_null(apflow_builder *b) { sep(b); put(b, "null", 4); }
void apflow_raw(apflow_builder *b, const char *json, size_t n) { sep(b); put(b, json, n); }

size_t apflow_copy_members(apflow_builder *b, apflow_val object, const char *except) {
    if (object.type != APFLOW_OBJECT) return 0;
    apflow_iter it = {0};
    apflow_val k, v;
    size_t copied = 0;
    while (apflow_next(object, &it, &k, &v)) {
        if (except && apflow_string_eq(k, except)) continue;
        sep(b);
        put(b, k.ptr, k.len); /* the key's JSON text, quotes and escapes included */
        put(b, ":", 1);
        put(b, v.ptr, v.len);
        copied++;
    }
    return copied;
}

void apflow_error(apflow_builder *out, const char *message, const char *code) {
    apflow_builder_reset(out);
    apflow_begin_object(out);
    apflow_key(out, "error");
    apflow_str(out, message);
    if (code) {
        apflow_key(out, "code");
        apflow_str(out, code);
    }
    apflow_end_object(out);
}

/* ======================= host functions ======================= */

#ifdef __wasm__
__attribute__((import_module("apflow"), import_name("log")))
void apflow_host_log(int32_t level, const char *ptr, size_t len);
__attribute__((import_module("apflow"), import_name("progress")))
void apflow_host_progress(double value);
__attribute__((import_module("apflow"), import_name("http_request")))
uint64_t apflow_host_http_request(const char *ptr, size_t len);
__attribute__((import_module("apflow"), import_name("config_get")))
uint64_t apflow_host_config_get(const char *ptr, size_t len);
__attribute__((import_module("apflow"), import_name("sleep_ms")))
int32_t apflow_host_sleep_ms(int64_t ms);
__attribute__((import_module("apflow"), import_name("kv_get")))
uint64_t apflow_host_kv_get(const char *ptr, size_t len);
__attribute__((import_module("apflow"), import_name("kv_set")))
uint64_t apflow_host_kv_set(const char *ptr, size_t len);
__attribute__((import_module("apflow"), import_name("kv_delete")))
uint64_t apflow_host_kv_delete(const char *ptr, size_t len);
__attribute__((import_module("apflow"), import_name("kv_list")))
uint64_t apflow_host_kv_list(const char *ptr, size_t len);
__attribute__((import_module("apflow"), import_name("llm_complete")))
uint64_t apflow_host_llm_complete(const char *ptr, size_t len);
#else
/* Natively (unit tests of a plugin's logic) the host is the mock below: it records log
 * lines, progress and requests, and answers what apflow_mock_respond and
 * apflow_mock_set_config set. It is one process-wide host: tests that use it run one at
 * a time. */
typedef struct { char *a, *b; int n; } mock_entry;
typedef struct { mock_entry *items; size_t len, cap; } mock_list;
static mock_list mock_logs, mock_requests, mock_config, mock_responses, mock_llm_answers, mock_llm_requests;
static size_t mock_llm_next; /* the next queued llm answer */
static double *mock_progress_values;
static size_t mock_progress_len;

static char *mock_dup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int mock_push(mock_list *l, char *a, char *b, int n) {
    if (!a || (b == NULL && l != &mock_logs && l != &mock_requests && l != &mock_llm_answers && l != &mock_llm_requests)) {
        free(a);
        free(b);
        return -1;
    }
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        mock_entry *items = realloc(l->items, cap * sizeof *items);
        if (!items) { free(a); free(b); return -1; }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = (mock_entry){a, b, n};
    return 0;
}

static void mock_clear(mock_list *l) {
    for (size_t i = 0; i < l->len; i++) { free(l->items[i].a); free(l->items[i].b); }
    free(l->items);
    *l = (mock_list){0};
}

void apflow_mock_reset(void) {
    mock_clear(&mock_logs);
    mock_clear(&mock_requests);
    mock_clear(&mock_config);
    mock_clear(&mock_responses);
    mock_clear(&mock_llm_answers);
    mock_clear(&mock_llm_requests);
    mock_llm_next = 0;
    free(mock_progress_values);
    mock_progress_values = NULL;
    mock_progress_len = 0;
}

int apflow_mock_set_config(const char *key, const char *value) {
    return mock_push(&mock_config, strdup(key), strdup(value), 0);
}

int apflow_mock_respond(const char *method, const char *url, int status, const char *body) {
    size_t m = strlen(method), u = strlen(url);
    char *k = malloc(m + u + 2);
    if (!k) return -1;
    for (size_t i = 0; i < m; i++) k[i] = (char)(method[i] >= 'a' && method[i] <= 'z' ? method[i] - 32 : method[i]);
    k[m] = ' ';
    memcpy(k + m + 1, url, u + 1);
    return mock_push(&mock_responses, k, strdup(body ? body : ""), status);
}

size_t apflow_mock_log_count(void) { return mock_logs.len; }

const char *apflow_mock_log(size_t i, int *level) {
    if (i >= mock_logs.len) return NULL;
    if (level) *level = mock_logs.items[i].n;
    return mock_logs.items[i].a;
}

size_t apflow_mock_progress_count(void) { return mock_progress_len; }

double apflow_mock_progress(size_t i) { return i < mock_progress_len ? mock_progress_values[i] : -1; }

size_t apflow_mock_request_count(void) { return mock_requests.len; }

const char *apflow_mock_request(size_t i) { return i < mock_requests.len ? mock_requests.items[i].a : NULL; }

int apflow_mock_llm(const char *answer_json) { return mock_push(&mock_llm_answers, strdup(answer_json), NULL, 0); }

size_t apflow_mock_llm_request_count(void) { return mock_llm_requests.len; }

const char *apflow_mock_llm_request(size_t i) { return i < mock_llm_requests.len ? mock_llm_requests.items[i].a : NULL; }

/* The mock's answer to an llm_complete request: the next queued answer, or an error. */
static char *mock_llm_answer(const char *req, size_t req_len, size_t *len) {
    mock_push(&mock_llm_requests, mock_dup(req, req_len), NULL, 0);
    const char *answer = "{\"error\":\"no mock llm response\",\"code\":\"llm_not_configured\"}";
    if (mock_llm_next < mock_llm_answers.len) answer = mock_llm_answers.items[mock_llm_next++].a;
    if (len) *len = strlen(answer);
    return strdup(answer);
}

static void apflow_host_log(int32_t level, const char *ptr, size_t len) {
    fprintf(stderr, "[%d] %.*s\n", level, (int)len, ptr);
    mock_push(&mock_logs, mock_dup(ptr, len), NULL, level);
}

static void apflow_host_progress(double value) {
    double *v = realloc(mock_progress_values, (mock_progress_len + 1) * sizeof *v);
    if (!v) return;
    mock_progress_values = v;
    mock_progress_values[mock_progress_len++] = value;
}

/* The mock's answer to a request document: the response set for its method and URL, or
 * an error naming them. */
static char *mock_http_answer(const char *req, size_t req_len, size_t *len) {
    mock_push(&mock_requests, mock_dup(req, req_len), NULL, 0);
    apflow_val doc, v;
    char *method = NULL, *url = NULL;
    if (apflow_parse(req, req_len, &doc) == 0) {
        if (apflow_get(doc, "method", &v)) method = apflow_string(v, NULL);
        if (apflow_get(doc, "url", &v)) url = apflow_string(v, NULL);
    }
    char key[2048];
    snprintf(key, sizeof key, "%s %s", method ? method : "GET", url ? url : "");
    for (char *c = key; *c && *c != ' '; c++) if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 32);
    free(method);
    free(url);
    apflow_builder b = {0};
    apflow_begin_object(&b);
    const mock_entry *r = NULL;
    for (size_t i = mock_responses.len; i-- > 0;) {
        if (strcmp(mock_responses.items[i].a, key) == 0) { r = &mock_responses.items[i]; break; }
    }
    if (r) {
        apflow_key(&b, "status");
        apflow_int64(&b, r->n);
        apflow_key(&b, "headers");
        apflow_begin_object(&b);
        apflow_end_object(&b);
        apflow_key(&b, "body");
        apflow_str(&b, r->b);
    } else {
        char msg[2100];
        snprintf(msg, sizeof msg, "no mock response for %s", key);
        apflow_key(&b, "error");
        apflow_str(&b, msg);
    }
    apflow_end_object(&b);
    char *out = b.failed ? NULL : mock_dup(b.data, b.len);
    if (out && len) *len = b.len;
    apflow_builder_free(&b);
    return out;
}

static char *mock_config_get(const char *key, size_t *len) {
    for (size_t i = mock_config.len; i-- > 0;) {
        if (strcmp(mock_config.items[i].a, key) == 0) {
            if (len) *len = strlen(mock_config.items[i].b);
            return strdup(mock_config.items[i].b);
        }
    }
    return NULL;
}

static int32_t apflow_host_sleep_ms(int64_t ms) {
    return ms < 0 || ms > APFLOW_MAX_SLEEP_MS ? APFLOW_SLEEP_INVALID : APFLOW_SLEEP_OK;
}
/* Natively the kv functions answer nothing: the calls fail with kv_unavailable. */
static uint64_t apflow_host_kv_get(const char *ptr, size_t len) { (void)ptr; (void)len; return 0; }
static uint64_t apflow_host_kv_set(const char *ptr, size_t len) { (void)ptr; (void)len; return 0; }
static uint64_t apflow_host_kv_delete(const char *ptr, size_t len) { (void)ptr; (void)len; return 0; }
static uint64_t apflow_host_kv_list(const char *ptr, size_t len) { (void)ptr; (void)len; return 0; }
#endif

/* Takes over a buffer the host allocated with our alloc; returns it NUL-terminated. */
static char *take(uint64_t packed, size_t *len) {
    if (packed == 0) return NULL;
    char *p = (char *)(uintptr_t)(uint32_t)(packed >> 32);
    size_t n = (size_t)(uint32_t)packed;
    char *s = realloc(p, n + 1);
    if (!s) { free(p); return NULL; }
    s[n] = 0;
    if (len) *len = n;
    return s;
}

void apflow_log(int level, const char *message) { apflow_host_log(level, message, strlen(message)); }

void apflow_logf(int level, const char *format, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(buf, sizeof buf, format, ap);
    va_end(ap);
    if (n < 0) return;
    apflow_host_log(level, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void apflow_progress(double value) { apflow_host_progress(value); }

char *apflow_http_request(const char *request_json, size_t request_len, size_t *len) {
#ifdef __wasm__
    return take(apflow_host_http_request(request_json, request_len), len);
#else
    return mock_http_answer(request_json, request_len, len);
#endif
}

char *apflow_config_get(const char *key, size_t *len) {
#ifdef __wasm__
    return take(apflow_host_config_get(key, strlen(key)), len);
#else
    return mock_config_get(key, len);
#endif
}

char *apflow_llm_complete(const char *request_json, size_t len, size_t *out_len) {
#ifdef __wasm__
    return take(apflow_host_llm_complete(request_json, len), out_len);
#else
    return mock_llm_answer(request_json, len, out_len);
#endif
}

int apflow_sleep_ms(int64_t ms) { return apflow_host_sleep_ms(ms); }

void apflow_kv_error_free(apflow_kv_error *err) {
    if (!err) return;
    free(err->message);
    err->message = NULL;
}

/* Fills err with code "kv_<code>" and a copy of message; returns -1. */
static int kv_refused(apflow_kv_error *err, const char *code, size_t code_len, const char *message) {
    if (!err) return -1;
    size_t room = sizeof err->code - 4;
    if (code_len > room) code_len = room;
    memcpy(err->code, "kv_", 3);
    memcpy(err->code + 3, code, code_len);
    err->code[3 + code_len] = 0;
    free(err->message);
    err->message = strdup(message);
    return -1;
}

/* Sends the request in b to a kv host function and parses the answer into *answer.
 * Returns the answer's text (malloc'd; the caller frees it), or NULL when refused (*err
 * filled). */
static char *kv_call(uint64_t (*fn)(const char *, size_t), const char *name, apflow_builder *b, size_t *len,
                     apflow_val *answer, apflow_kv_error *err) {
    if (b->failed) {
        apflow_builder_free(b);
        kv_refused(err, "bad_request", 11, "out of memory building the kv request");
        return NULL;
    }
    size_t n = 0;
    char *doc = take(fn(b->data, b->len), &n);
    apflow_builder_free(b);
    if (!doc) {
        char msg[64];
        snprintf(msg, sizeof msg, "%s: no answer from the host", name);
        kv_refused(err, "unavailable", 11, msg);
        return NULL;
    }
    apflow_val e, c;
    if (apflow_parse(doc, n, answer) != 0) {
        free(doc);
        kv_refused(err, "unavailable", 11, "malformed answer from the host");
        return NULL;
    }
    if (apflow_get(*answer, "error", &e)) {
        char *msg = apflow_string(e, NULL);
        const char *code = "unavailable";
        size_t code_len = 11;
        if (apflow_get(*answer, "code", &c) && c.type == APFLOW_STRING && c.len >= 2) {
            code = c.ptr + 1; /* codes are plain ASCII words: no escapes */
            code_len = c.len - 2;
        }
        kv_refused(err, code, code_len, msg ? msg : "kv call refused");
        free(msg);
        free(doc);
        return NULL;
    }
    if (len) *len = n;
    return doc;
}

/* Returns the boolean member `key` of answer (0 when absent). */
static int answer_bool(apflow_val answer, const char *key) {
    apflow_val v;
    int b = 0;
    return apflow_get(answer, key, &v) && apflow_bool(v, &b) && b;
}

int apflow_kv_get(const char *key, char **value_json, size_t *value_len, apflow_kv_error *err) {
    apflow_builder b = {0};
    apflow_begin_object(&b);
    apflow_key(&b, "key");
    apflow_str(&b, key);
    apflow_end_object(&b);
    apflow_val answer, v;
    char *doc = kv_call(apflow_host_kv_get, "kv_get", &b, NULL, &answer, err);
    if (!doc) return -1;
    if (!answer_bool(answer, "found") || !apflow_get(answer, "value", &v)) {
        free(doc);
        return 0;
    }
    char *out = malloc(v.len + 1);
    if (!out) {
        free(doc);
        return kv_refused(err, "unavailable", 11, "out of memory reading the kv value");
    }
    memcpy(out, v.ptr, v.len);
    out[v.len] = 0;
    if (value_len) *value_len = v.len;
    *value_json = out;
    free(doc);
    return 1;
}

int apflow_kv_set(const char *key, const char *value_json, size_t value_len, int64_t ttl_ms, int if_absent,
                  apflow_kv_error *err) {
    apflow_builder b = {0};
    apflow_begin_object(&b);
    apflow_key(&b, "key");
    apflow_str(&b, key);
    apflow_key(&b, "value");
    apflow_raw(&b, value_json, value_len);
    if (ttl_ms != 0) {
        apflow_key(&b, "ttl_ms");
        apflow_int64(&b, ttl_ms);
    }
    if (if_absent) {
        apflow_key(&b, "if_absent");
        apflow_boolean(&b, 1);
    }
    apflow_end_object(&b);
    apflow_val answer;
    char *doc = kv_call(apflow_host_kv_set, "kv_set", &b, NULL, &answer, err);
    if (!doc) return -1;
    int stored = answer_bool(answer, "stored");
    free(doc);
    return stored;
}

int apflow_kv_delete(const char *key, apflow_kv_error *err) {
    apflow_builder b = {0};
    apflow_begin_object(&b);
    apflow_key(&b, "key");
    apflow_str(&b, key);
    apflow_end_object(&b);
    apflow_val answer;
    char *doc = kv_call(apflow_host_kv_delete, "kv_delete", &b, NULL, &answer, err);
    if (!doc) return -1;
    int deleted = answer_bool(answer, "deleted");
    free(doc);
    return deleted;
}

char *apflow_kv_list(const char *prefix, const char *after, int limit, size_t *len, apflow_kv_error *err) {
    apflow_builder b = {0};
    apflow_begin_object(&b);
    if (prefix && *prefix) {
        apflow_key(&b, "prefix");
        apflow_str(&b, prefix);
    }
    if (after && *after) {
        apflow_key(&b, "after");
        apflow_str(&b, after);
    }
    if (limit != 0) {
        apflow_key(&b, "limit");
        apflow_int64(&b, limit);
    }
    apflow_end_object(&b);
    apflow_val answer;
    return kv_call(apflow_host_kv_list, "kv_list", &b, len, &answer, err);
}

const char *apflow_sleep_code(int status) {
    switch (status) {
    case APFLOW_SLEEP_OK: return NULL;
    case APFLOW_SLEEP_CANCELLED: return "cancelled";
    case APFLOW_SLEEP_DEADLINE: return "deadline_exceeded";
    default: return "sleep_refused";
    }
}

const char *apflow_sleep_message(int status) {
    switch (status) {
    case APFLOW_SLEEP_OK: return NULL;
    case APFLOW_SLEEP_CANCELLED: return "sleep ended: the task was cancelled";
    case APFLOW_SLEEP_DEADLINE: return "sleep ended: the task's deadline passed";
    case APFLOW_SLEEP_INVALID: return "sleep refused: negative or longer than the longest task timeout";
    case APFLOW_SLEEP_NOT_GRANTED: return "sleep refused: capability clock not granted to this plugin";
    default: return "sleep_ms: unknown status";
    }
}
