/* Record metadata: building the user's map, and rendering stored maps as JSON.
 *
 * An ac_meta keeps each entry already encoded (key and value, in deterministic
 * CBOR), sorted by encoded key, so encoding the whole map is one head and a
 * run of copies, and a duplicate key is found where it would be inserted.
 *
 * JSON maps to CBOR one to one, with escapes for what JSON lacks: an object
 * that is exactly {"$bytes": "<hex>"} is a byte string, one that is exactly
 * {"$int": "<decimal>"} is an integer of the full CBOR range (-2^64 .. 2^64-1,
 * wider than JSON parsers' int64), and {"$map": {...}} is the map inside,
 * taken literally, for a map whose one key is one of these names.  Rendering
 * uses the same escapes, so metadata survives JSON -> CBOR -> JSON.  The
 * metadata map itself (the top level) is never an escape. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

/* Far below AC_MAX_RECORD_SIZE, leaving room for the rest of the record and
 * its witnesses, so a metadata map that is accepted always fits a record. */
#define META_MAX_ENCODED 1000000u

/* Level of the metadata map itself: the record map is level 1. */
#define META_LEVEL 2

/* Longest key or path quoted in an error message. */
#define META_QUOTE_MAX 120

/* One map entry: its key's encoding followed by its value's encoding. */
typedef struct meta_item {
    det_buf enc;
    size_t key_len; /* enc.data[0..key_len) is the key */
} meta_item;

struct ac_meta {
    meta_item *items; /* sorted by det_key_cmp of their keys, keys unique */
    size_t count;
    size_t body_len; /* sum of the items' encoded lengths */
    det_buf cache;   /* the whole map, valid when cache_ok */
    bool cache_ok;
};

/* ---------------------------------------------------------------- items */

static void items_free(meta_item *items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        det_buf_free(&items[i].enc);
    free(items);
}

static int item_cmp(const void *va, const void *vb)
{
    const meta_item *a = va, *b = vb;
    return det_key_cmp(a->enc.data, a->key_len, b->enc.data, b->key_len);
}

/* Copies at most META_QUOTE_MAX bytes of s into out (size > META_QUOTE_MAX),
 * cut back to a character boundary so the message stays valid UTF-8. */
static void quote_text(const uint8_t *s, size_t n, char *out)
{
    if (n > META_QUOTE_MAX) {
        n = META_QUOTE_MAX;
        while (n > 0 && (s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

/* The key of an item, for a message. */
static void item_key_text(const meta_item *it, char *out)
{
    size_t pos = 0;
    det_token t;
    if (det_token_read(it->enc.data, it->key_len, &pos, &t) != 0 || t.type != DET_TEXT) {
        out[0] = '\0';
        return;
    }
    quote_text(t.data, (size_t)t.val, out);
}

static int fail_duplicate(const meta_item *it, ac_error *err)
{
    char key[META_QUOTE_MAX + 1];
    item_key_text(it, key);
    return ac_fail(err, AC_EINVAL, -1, "metadata key \"%s\" given twice", key);
}

/* Fails if the sorted `add` items repeat a key among themselves. */
static int check_unique(const meta_item *add, size_t n, ac_error *err)
{
    for (size_t j = 1; j < n; j++)
        if (item_cmp(&add[j - 1], &add[j]) == 0)
            return fail_duplicate(&add[j], err);
    return AC_OK;
}

/* Whether the map, with the `add` items too, stays within META_MAX_ENCODED. */
static int check_size(const ac_meta *meta, const meta_item *add, size_t n, ac_error *err)
{
    size_t add_len = 0;
    for (size_t i = 0; i < n && add_len <= META_MAX_ENCODED; i++)
        add_len += add[i].enc.len; /* stops short of any overflow */
    if (add_len <= META_MAX_ENCODED &&
        meta->body_len + add_len + det_head_len(meta->count + n) <= META_MAX_ENCODED)
        return AC_OK;
    return ac_fail(err, AC_EINVAL, -1,
                   "metadata: more than %u bytes encoded (records are at most %u bytes)",
                   META_MAX_ENCODED, AC_MAX_RECORD_SIZE);
}

/* Merges meta's sorted items and the sorted `add` items into a new array,
 * or fails on a key present in both. */
static int merge_items(const ac_meta *meta, const meta_item *add, size_t n, meta_item **out,
                       ac_error *err)
{
    meta_item *merged = calloc(meta->count + n + 1, sizeof *merged);
    if (merged == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "metadata: out of memory");
    size_t i = 0, j = 0, k = 0;
    while (i < meta->count || j < n) {
        int c = i == meta->count ? 1 : j == n ? -1 : item_cmp(&meta->items[i], &add[j]);
        if (c == 0) {
            free(merged); /* holds copies of the structs only, not their buffers */
            return fail_duplicate(&add[j], err);
        }
        merged[k++] = c < 0 ? meta->items[i++] : add[j++];
    }
    *out = merged;
    return AC_OK;
}

/* Adds the sorted `add` items to meta, all or none: on failure meta is
 * unchanged.  Takes ownership of `add` either way. */
static int meta_commit(ac_meta *meta, meta_item *add, size_t n, ac_error *err)
{
    meta_item *merged = NULL;
    int rc = check_unique(add, n, err);
    if (rc == AC_OK)
        rc = check_size(meta, add, n, err);
    if (rc == AC_OK)
        rc = merge_items(meta, add, n, &merged, err);
    if (rc != AC_OK) {
        items_free(add, n);
        return rc;
    }
    for (size_t j = 0; j < n; j++)
        meta->body_len += add[j].enc.len;
    free(meta->items);
    free(add); /* the buffers now belong to merged */
    meta->items = merged;
    meta->count += n;
    meta->cache_ok = false;
    return AC_OK;
}

/* ---------------------------------------------------------------- public: building */

ac_status ac_meta_new(ac_meta **out, ac_error *err)
{
    if (out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "ac_meta_new: no output pointer");
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "metadata: out of memory");
    return AC_OK;
}

void ac_meta_free(ac_meta *meta)
{
    if (meta == NULL)
        return;
    items_free(meta->items, meta->count);
    det_buf_free(&meta->cache);
    free(meta);
}

size_t ac_meta_count(const ac_meta *meta)
{
    return meta == NULL ? 0 : meta->count;
}

/* Whether the text item encoded at buf[*pos..len) is valid UTF-8: reading it
 * back with the decoder's own check means whatever is accepted here decodes. */
static bool text_item_ok(const uint8_t *buf, size_t len, size_t *pos)
{
    det_token t;
    return det_token_read(buf, len, pos, &t) == 0 && t.type == DET_TEXT;
}

ac_status ac_meta_set_text(ac_meta *meta, const char *key, const char *value, ac_error *err)
{
    if (meta == NULL || key == NULL || value == NULL)
        return ac_fail(err, AC_EINVAL, -1, "ac_meta_set_text: NULL argument");
    meta_item *it = calloc(1, sizeof *it);
    if (it == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "metadata: out of memory");
    det_put_text(&it->enc, key, strlen(key));
    it->key_len = it->enc.len;
    det_put_text(&it->enc, value, strlen(value));
    if (it->enc.failed) {
        items_free(it, 1);
        return ac_fail(err, AC_ENOMEM, -1, "metadata: out of memory");
    }
    size_t pos = 0;
    if (!text_item_ok(it->enc.data, it->key_len, &pos)) {
        items_free(it, 1);
        return ac_fail(err, AC_EINVAL, -1, "metadata: a key is not valid UTF-8");
    }
    if (!text_item_ok(it->enc.data, it->enc.len, &pos)) {
        char k[META_QUOTE_MAX + 1];
        item_key_text(it, k);
        items_free(it, 1);
        return ac_fail(err, AC_EINVAL, -1, "metadata: \"%s\": the value is not valid UTF-8", k);
    }
    return meta_commit(meta, it, 1, err);
}

/* ---------------------------------------------------------------- JSON to CBOR */

/* State of one conversion: where in the document we are, for messages. */
typedef struct conv {
    ac_error *err;
    char path[META_QUOTE_MAX + 8];
    size_t path_len;
} conv;

/* Appends ".key" (or "key" at the top) or "[i]" to the path, truncating
 * rather than overflowing; returns the old length for conv_pop. */
static size_t conv_push(conv *c, const char *key, size_t klen, size_t index)
{
    size_t old = c->path_len, room = sizeof c->path - old;
    int n;
    if (key != NULL)
        n = snprintf(c->path + old, room, "%s%.*s", old ? "." : "",
                     (int)(klen > META_QUOTE_MAX ? META_QUOTE_MAX : klen), key);
    else
        n = snprintf(c->path + old, room, "[%zu]", index);
    if (n > 0)
        c->path_len = (size_t)n >= room ? sizeof c->path - 1 : old + (size_t)n;
    return old;
}

static void conv_pop(conv *c, size_t old)
{
    c->path_len = old;
    c->path[old] = '\0';
}

static int conv_fail(conv *c, const char *what)
{
    return ac_fail(c->err, AC_EINVAL, -1, "metadata: \"%s\": %s", c->path, what);
}

static int json_value(conv *c, json_t *v, int parent_level, det_buf *out);

static void put_int64(det_buf *out, int64_t v)
{
    if (v >= 0)
        det_put_uint(out, (uint64_t)v);
    else
        det_put_negint(out, (uint64_t)(-(v + 1))); /* -1 - v, never overflows */
}

/* {"$int": "<decimal>"}: -?(0|[1-9][0-9]*) within -2^64 .. 2^64-1. */
static int put_big_int(conv *c, json_t *s, det_buf *out)
{
    static const char bad[] = "\"$int\" must be a decimal string from -18446744073709551616 "
                              "to 18446744073709551615";
    if (!json_is_string(s))
        return conv_fail(c, bad);
    const char *p = json_string_value(s);
    size_t n = json_string_length(s);
    bool neg = n > 0 && p[0] == '-';
    p += neg, n -= neg;
    if (n == 0 || (n > 1 && p[0] == '0') || (neg && n == 1 && p[0] == '0'))
        return conv_fail(c, bad);
    if (neg && n == 20 && memcmp(p, "18446744073709551616", 20) == 0) {
        det_put_negint(out, UINT64_MAX); /* -2^64, whose magnitude needs 65 bits */
        return AC_OK;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - d) / 10)
            return conv_fail(c, bad);
        v = v * 10 + d;
    }
    if (neg)
        det_put_negint(out, v - 1); /* v >= 1: "-0" was refused */
    else
        det_put_uint(out, v);
    return AC_OK;
}

/* {"$bytes": "<hex>"}: an even number of hex digits, either case. */
static int put_hex_bytes(conv *c, json_t *s, det_buf *out)
{
    static const char bad[] = "\"$bytes\" must be a string of hex digits (two per byte)";
    if (!json_is_string(s) || json_string_length(s) % 2 != 0)
        return conv_fail(c, bad);
    size_t n = json_string_length(s) / 2;
    uint8_t *raw = malloc(n + 1); /* + 1: malloc(0) may return NULL */
    if (raw == NULL)
        return ac_fail(c->err, AC_ENOMEM, -1, "metadata: out of memory");
    if (ac_hex_decode(json_string_value(s), raw, n, NULL) != AC_OK) {
        free(raw);
        return conv_fail(c, bad);
    }
    det_put_bytes(out, raw, n);
    free(raw);
    return AC_OK;
}

static int put_object(conv *c, json_t *obj, int level, det_buf *out);

/* If obj is exactly {"$bytes": ...}, {"$int": ...} or {"$map": {...}},
 * encodes it and returns AC_OK or an error; returns 1 if it is an ordinary
 * object.  "$map" holds a map taken literally at its own level, so that a
 * map whose one key is "$bytes", "$int" or "$map" can be written too. */
static int put_escape(conv *c, json_t *obj, int level, det_buf *out)
{
    if (json_object_size(obj) != 1)
        return 1;
    json_t *v;
    if ((v = json_object_get(obj, "$bytes")) != NULL)
        return put_hex_bytes(c, v, out);
    if ((v = json_object_get(obj, "$int")) != NULL)
        return put_big_int(c, v, out);
    if ((v = json_object_get(obj, "$map")) != NULL) {
        if (!json_is_object(v))
            return conv_fail(c, "\"$map\" must hold an object");
        if (level > AC_MAX_DEPTH)
            return conv_fail(c, "maps and arrays nest too deep (at most 14 levels inside the "
                                "metadata map)");
        return put_object(c, v, level, out);
    }
    return 1;
}

/* Encodes every member of obj (whose own level is `level`) as a key/value
 * item, sorted in deterministic key order, into a new array. */
static int json_members(conv *c, json_t *obj, int level, meta_item **items, size_t *count)
{
    size_t n = json_object_size(obj), i = 0;
    meta_item *list = calloc(n + 1, sizeof *list);
    if (list == NULL)
        return ac_fail(c->err, AC_ENOMEM, -1, "metadata: out of memory");
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        if (i == n)
            break; /* defensive: the object does not change while iterated */
        meta_item *m = &list[i++];
        det_put_text(&m->enc, key, klen);
        m->key_len = m->enc.len;
        size_t old = conv_push(c, key, klen, 0);
        int rc = json_value(c, json_object_iter_value(it), level, &m->enc);
        conv_pop(c, old);
        if (rc != AC_OK) {
            items_free(list, i);
            return rc;
        }
    }
    qsort(list, i, sizeof *list, item_cmp);
    *items = list;
    *count = i;
    return AC_OK;
}

/* A nested object: a map, one level below its parent. */
static int put_object(conv *c, json_t *obj, int level, det_buf *out)
{
    meta_item *items;
    size_t n;
    int rc = json_members(c, obj, level, &items, &n);
    if (rc != AC_OK)
        return rc;
    det_put_map(out, n);
    for (size_t i = 0; i < n; i++)
        det_put(out, items[i].enc.data, items[i].enc.len);
    items_free(items, n);
    return AC_OK;
}

static int put_array(conv *c, json_t *arr, int level, det_buf *out)
{
    size_t n = json_array_size(arr);
    det_put_array(out, n);
    for (size_t i = 0; i < n; i++) {
        size_t old = conv_push(c, NULL, 0, i);
        int rc = json_value(c, json_array_get(arr, i), level, out);
        conv_pop(c, old);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}

/* A map or array inside a container at parent_level is one level deeper;
 * the format allows AC_MAX_DEPTH levels counting the record map as 1. */
static int put_container(conv *c, json_t *v, int parent_level, det_buf *out)
{
    int level = parent_level + 1;
    if (json_is_object(v)) {
        int rc = put_escape(c, v, level, out);
        if (rc != 1)
            return rc;
    }
    if (level > AC_MAX_DEPTH)
        return conv_fail(c, "maps and arrays nest too deep (at most 14 levels inside the "
                            "metadata map)");
    return json_is_object(v) ? put_object(c, v, level, out) : put_array(c, v, level, out);
}

static int put_scalar(conv *c, json_t *v, det_buf *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        det_put_text(out, json_string_value(v), json_string_length(v));
        return AC_OK;
    case JSON_INTEGER:
        put_int64(out, json_integer_value(v));
        return AC_OK;
    case JSON_TRUE:
        det_put_simple(out, DET_TRUE);
        return AC_OK;
    case JSON_FALSE:
        det_put_simple(out, DET_FALSE);
        return AC_OK;
    case JSON_NULL:
        det_put_simple(out, DET_NULL);
        return AC_OK;
    default: /* JSON_REAL */
        return conv_fail(c, "numbers with a fraction or exponent are not allowed (the format "
                            "has no floats)");
    }
}

/* Appends the CBOR encoding of v to out. */
static int json_value(conv *c, json_t *v, int parent_level, det_buf *out)
{
    int rc = json_is_object(v) || json_is_array(v) ? put_container(c, v, parent_level, out)
                                                   : put_scalar(c, v, out);
    if (rc != AC_OK)
        return rc;
    if (out->failed)
        return ac_fail(c->err, AC_ENOMEM, -1, "metadata: out of memory");
    /* Checked as it grows so a huge document fails before it is all copied. */
    if (out->len > META_MAX_ENCODED)
        return conv_fail(c, "more than 1000000 bytes encoded");
    return AC_OK;
}

ac_status ac_meta_add_json(ac_meta *meta, const char *json, ac_error *err)
{
    if (meta == NULL || json == NULL)
        return ac_fail(err, AC_EINVAL, -1, "ac_meta_add_json: NULL argument");
    json_error_t jerr;
    /* JSON_ALLOW_NUL: text may hold U+0000, as CBOR text may. */
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root == NULL)
        return ac_fail(err, AC_EINVAL, -1, "metadata: invalid JSON: %s (line %d, column %d)",
                       jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return ac_fail(err, AC_EINVAL, -1, "metadata: the JSON must be an object");
    }
    conv c = {.err = err};
    meta_item *items;
    size_t n;
    int rc = json_members(&c, root, META_LEVEL, &items, &n);
    json_decref(root);
    if (rc != AC_OK)
        return rc;
    return meta_commit(meta, items, n, err);
}

/* ---------------------------------------------------------------- encoding */

int meta_encoded(const ac_meta *meta, const uint8_t **out, size_t *len, ac_error *err)
{
    static const uint8_t empty_map[1] = {0xa0};
    if (meta == NULL) {
        *out = empty_map;
        *len = sizeof empty_map;
        return AC_OK;
    }
    /* The cache is not part of the map's value: filling it on first use
     * spares rebuilding the map on every ac_meta_set_text.  Every ac_meta is
     * allocated non-const by ac_meta_new, so writing through it is defined;
     * a handle is used by one thread at a time (see attestchain.h). */
    ac_meta *m = (ac_meta *)meta;
    if (!m->cache_ok) {
        m->cache.len = 0;
        m->cache.failed = false;
        det_put_map(&m->cache, m->count);
        for (size_t i = 0; i < m->count; i++)
            det_put(&m->cache, m->items[i].enc.data, m->items[i].enc.len);
        if (m->cache.failed)
            return ac_fail(err, AC_ENOMEM, -1, "metadata: out of memory");
        m->cache_ok = true;
    }
    *out = m->cache.data;
    *len = m->cache.len;
    return AC_OK;
}

/* ---------------------------------------------------------------- CBOR to JSON */

static int cbor_value(const uint8_t *buf, size_t len, size_t *pos, int depth_left, json_t **out);

/* An integer outside int64 as {"$int": "<decimal>"}; neg: the value is -1 - v. */
static json_t *big_int_json(bool neg, uint64_t v)
{
    char dec[32];
    if (neg && v == UINT64_MAX)
        snprintf(dec, sizeof dec, "-18446744073709551616"); /* 2^64 overflows uint64 */
    else if (neg)
        snprintf(dec, sizeof dec, "-%" PRIu64, v + 1);
    else
        snprintf(dec, sizeof dec, "%" PRIu64, v);
    return json_pack("{s:s}", "$int", dec);
}

static json_t *bytes_json(const uint8_t *p, size_t n)
{
    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    char *hex = malloc(2 * n + 1);
    if (hex == NULL)
        return NULL;
    ac_hex_encode(p, n, hex);
    json_t *j = json_pack("{s:s}", "$bytes", hex);
    free(hex);
    return j;
}

static json_t *scalar_json(const det_token *t)
{
    switch (t->type) {
    case DET_UINT:
        return t->val <= INT64_MAX ? json_integer((json_int_t)t->val) : big_int_json(false, t->val);
    case DET_NEGINT:
        return t->val <= INT64_MAX ? json_integer(-1 - (json_int_t)t->val)
                                   : big_int_json(true, t->val);
    case DET_BYTES:
        return bytes_json(t->data, (size_t)t->val);
    case DET_TEXT:
        return json_stringn((const char *)t->data, (size_t)t->val);
    case DET_TRUE:
        return json_true();
    case DET_FALSE:
        return json_false();
    default:
        return json_null();
    }
}

static int cbor_array(const uint8_t *buf, size_t len, size_t *pos, uint64_t n, int depth_left,
                      json_t *arr)
{
    for (uint64_t i = 0; i < n; i++) {
        json_t *v;
        int rc = cbor_value(buf, len, pos, depth_left, &v);
        if (rc != AC_OK)
            return rc;
        if (json_array_append_new(arr, v) != 0)
            return AC_ENOMEM;
    }
    return AC_OK;
}

static int cbor_map(const uint8_t *buf, size_t len, size_t *pos, uint64_t n, int depth_left,
                    json_t *obj)
{
    size_t prev_start = 0, prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        det_token k;
        if (det_token_read(buf, len, pos, &k) != 0 || k.type != DET_TEXT)
            return AC_ECORRUPT;
        /* Sorted and unique, or keys would silently overwrite each other. */
        size_t klen = k.end - k.start;
        if (i > 0 && det_key_cmp(buf + prev_start, prev_len, buf + k.start, klen) >= 0)
            return AC_ECORRUPT;
        prev_start = k.start, prev_len = klen;
        json_t *v;
        int rc = cbor_value(buf, len, pos, depth_left, &v);
        if (rc != AC_OK)
            return rc;
        if (json_object_setn_new(obj, (const char *)k.data, (size_t)k.val, v) != 0)
            return AC_ENOMEM;
    }
    return AC_OK;
}

/* A map whose one key is an escape's name would read back as that escape. */
static bool looks_escaped(json_t *obj)
{
    return json_object_size(obj) == 1 &&
           (json_object_get(obj, "$bytes") || json_object_get(obj, "$int") ||
            json_object_get(obj, "$map"));
}

/* Wraps *obj as {"$map": obj}. */
static int wrap_map(json_t **obj)
{
    json_t *w = json_object();
    if (w == NULL || json_object_set_new(w, "$map", *obj) != 0) {
        json_decref(w);
        json_decref(*obj);
        *obj = NULL;
        return AC_ENOMEM;
    }
    *obj = w;
    return AC_OK;
}

/* Reads one item at *pos as a new JSON value.  AC_ECORRUPT for anything that
 * is not deterministic CBOR within depth_left levels of nesting. */
static int cbor_value(const uint8_t *buf, size_t len, size_t *pos, int depth_left, json_t **out)
{
    det_token t;
    if (det_token_read(buf, len, pos, &t) != 0)
        return AC_ECORRUPT;
    if (t.type != DET_ARRAY && t.type != DET_MAP) {
        *out = scalar_json(&t);
        return *out == NULL ? AC_ENOMEM : AC_OK;
    }
    /* Every element takes a byte at least: this bounds the loops below. */
    if (depth_left <= 0 || t.val > len - *pos)
        return AC_ECORRUPT;
    json_t *j = t.type == DET_MAP ? json_object() : json_array();
    if (j == NULL)
        return AC_ENOMEM;
    int rc = t.type == DET_MAP ? cbor_map(buf, len, pos, t.val, depth_left - 1, j)
                               : cbor_array(buf, len, pos, t.val, depth_left - 1, j);
    if (rc != AC_OK) {
        json_decref(j);
        return rc;
    }
    *out = j;
    /* The top level (the metadata map itself, read with the most levels
     * left) is never an escape, so it needs no wrapper. */
    bool top = depth_left == AC_MAX_DEPTH - 1;
    return t.type == DET_MAP && !top && looks_escaped(j) ? wrap_map(out) : AC_OK;
}

/* Serializes into memory from malloc, so the caller's ac_free (free) always
 * matches, even if the application gave jansson its own allocator. */
static char *dump_json(const json_t *j)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(j, NULL, 0, flags);
    if (n == 0)
        return NULL;
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (json_dumpb(j, s, n, flags) != n) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

int meta_cbor_to_json(const uint8_t *buf, size_t len, char **json, ac_error *err)
{
    if (buf == NULL || json == NULL)
        return ac_fail(err, AC_EINVAL, -1, "meta_cbor_to_json: NULL argument");
    size_t pos = 0;
    json_t *root = NULL;
    /* The item sits at level 2 of a record at least. */
    int rc = cbor_value(buf, len, &pos, AC_MAX_DEPTH - 1, &root);
    if (rc == AC_OK && pos != len)
        rc = AC_ECORRUPT;
    if (rc != AC_OK) {
        json_decref(root);
        return rc == AC_ENOMEM ? ac_fail(err, rc, -1, "metadata: out of memory")
                               : ac_fail(err, rc, -1, "metadata: not deterministic CBOR");
    }
    *json = dump_json(root);
    json_decref(root);
    if (*json == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "metadata: out of memory");
    return AC_OK;
}
