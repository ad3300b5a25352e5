/*
 * checksum: CRC-32 (IEEE), FNV-1a 64 and Base64 of a string.
 *
 * Input  {"text": "...", "algorithms": ["crc32", "fnv1a64", "base64"]}  (algorithms optional,
 *        default all three)
 * Output {"bytes": n, "crc32": "cbf43926", "fnv1a64": "…", "base64": "…"}
 * Checksums are lower-case hex of the UTF-8 bytes of text.
 */
#include "apflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

APFLOW_METADATA("{\"id\":\"checksum\",\"name\":\"Checksums\",\"description\":\"CRC-32, FNV-1a 64 and Base64 of a string\",\"version\":\"1.0.0\",\"tags\":[\"text\",\"example\"]}")
APFLOW_INPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},\"algorithms\":{\"type\":\"array\",\"items\":{\"enum\":[\"crc32\",\"fnv1a64\",\"base64\"]}}},\"required\":[\"text\"]}")
APFLOW_OUTPUT_SCHEMA("{\"type\":\"object\",\"properties\":{\"bytes\":{\"type\":\"integer\"},\"crc32\":{\"type\":\"string\"},\"fnv1a64\":{\"type\":\"string\"},\"base64\":{\"type\":\"string\"}},\"required\":[\"bytes\"]}")

static uint32_t crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Base64 (RFC 4648, padded) into a new malloc'd buffer; its length in *out_len. */
static char *base64(const unsigned char *p, size_t n, size_t *out_len) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = 4 * ((n + 2) / 3);
    char *o = malloc(len + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        o[j++] = tbl[(v >> 18) & 63];
        o[j++] = tbl[(v >> 12) & 63];
        o[j++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        o[j++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    o[j] = 0;
    *out_len = j;
    return o;
}

/* Whether `name` is requested (no "algorithms" key means all). */
static int wanted(apflow_val input, const char *name) {
    apflow_val algs, item;
    if (!apflow_get(input, "algorithms", &algs) || algs.type != APFLOW_ARRAY) return 1;
    apflow_iter it = {0};
    while (apflow_next(algs, &it, NULL, &item)) {
        if (apflow_string_eq(item, name)) return 1;
    }
    return 0;
}

static void execute(apflow_val input, apflow_builder *out) {
    apflow_val v;
    size_t n = 0;
    char *text = apflow_get(input, "text", &v) ? apflow_string(v, &n) : NULL;
    if (!text) {
        apflow_error(out, "text must be a string", "invalid_inputs");
        return;
    }
    const unsigned char *p = (const unsigned char *)text;
    char hex[17];
    apflow_begin_object(out);
    apflow_key(out, "bytes");
    apflow_int64(out, (int64_t)n);
    if (wanted(input, "crc32")) {
        snprintf(hex, sizeof hex, "%08x", crc32(p, n));
        apflow_key(out, "crc32");
        apflow_str(out, hex);
    }
    apflow_progress(0.33);
    if (wanted(input, "fnv1a64")) {
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv1a64(p, n));
        apflow_key(out, "fnv1a64");
        apflow_str(out, hex);
    }
    apflow_progress(0.66);
    if (wanted(input, "base64")) {
        size_t blen = 0;
        char *b64 = base64(p, n, &blen);
        if (!b64) {
            free(text);
            apflow_error(out, "out of memory", "E_NOMEM");
            return;
        }
        apflow_key(out, "base64");
        apflow_string_n(out, b64, blen);
        free(b64);
    }
    apflow_end_object(out);
    apflow_logf(APFLOW_INFO, "checksum: %zu bytes", n);
    apflow_progress(1.0);
    free(text);
}

APFLOW_EXECUTE(execute)
