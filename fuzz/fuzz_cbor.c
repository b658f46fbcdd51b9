/* fuzz_cbor: the deterministic CBOR reader (det_token_read, det_item_skip,
 * det_map_find) on arbitrary bytes.
 *
 * Beyond memory safety it checks the property the format rests on, one byte
 * form per value: every token the reader accepts is re-encoded by the
 * library's own encoder to exactly the bytes it was read from.  And items
 * delimit themselves: an item accepted at the start of the input is accepted
 * again, with the same extent, when the input is cut right after it. */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

/* The library's encoding of the token, compared with the bytes it came from. */
static void check_reencode(const uint8_t *buf, const det_token *t)
{
    det_buf b = {0};
    switch (t->type) {
    case DET_UINT: det_put_uint(&b, t->val); break;
    case DET_NEGINT: det_put_negint(&b, t->val); break;
    case DET_BYTES: det_put_bytes(&b, t->data, (size_t)t->val); break;
    case DET_TEXT: det_put_text(&b, (const char *)t->data, (size_t)t->val); break;
    case DET_ARRAY: det_put_array(&b, (size_t)t->val); break;
    case DET_MAP: det_put_map(&b, (size_t)t->val); break;
    case DET_FALSE:
    case DET_TRUE:
    case DET_NULL: det_put_simple(&b, t->type); break;
    }
    FUZZ_CHECK(!b.failed, "encoder out of memory");
    size_t n = t->end - t->start;
    /* An empty string's encoder writes only the head: b.data may then be
     * the head alone, which is still the whole token. */
    FUZZ_CHECK(b.len == n && memcmp(b.data, buf + t->start, n) == 0,
               "token at %zu (type %d, %zu bytes) is not the shortest/only form (re-encoded to %zu "
               "bytes)",
               t->start, (int)t->type, n, b.len);
    det_buf_free(&b);
}

/* Reads every token in turn until one is refused. */
static void walk_tokens(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        det_token t;
        size_t before = pos;
        if (det_token_read(data, size, &pos, &t) != 0) {
            FUZZ_CHECK(pos == before, "a refused token moved the position");
            return;
        }
        FUZZ_CHECK(t.start == before && t.end == pos && pos > before && pos <= size,
                   "token extent %zu..%zu from %zu, input %zu", t.start, t.end, before, size);
        if (t.type == DET_BYTES || t.type == DET_TEXT) {
            FUZZ_CHECK(t.val <= t.end - t.start && t.data == data + t.end - t.val,
                       "string payload outside its token");
            if (t.type == DET_TEXT)
                FUZZ_CHECK(det_utf8_valid(t.data, (size_t)t.val), "text accepted with bad UTF-8");
        }
        check_reencode(data, &t);
    }
}

/* The keys of an accepted top-level map, each looked up again. */
static void check_map_lookups(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    det_token m;
    if (det_token_read(data, size, &pos, &m) != 0 || m.type != DET_MAP)
        return;
    for (uint64_t i = 0; i < m.val; i++) {
        det_token k;
        FUZZ_CHECK(det_token_read(data, size, &pos, &k) == 0 && k.type == DET_TEXT,
                   "a checked map has a key that does not read");
        size_t value_at = pos, found = 0;
        char key[64];
        if (k.val < sizeof key && memchr(k.data, 0, (size_t)k.val) == NULL) {
            memcpy(key, k.data, (size_t)k.val);
            key[k.val] = '\0';
            FUZZ_CHECK(det_map_find(data, size, key, &found) == 0 && found == value_at,
                       "det_map_find(\"%s\") gave %zu, the value is at %zu", key, found, value_at);
        }
        FUZZ_CHECK(det_item_skip(data, size, &pos, AC_MAX_DEPTH) == 0,
                   "a checked map has a value that does not skip");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk_tokens(data, size);

    /* Depth limits: what is accepted with less room is accepted with more,
     * and ends at the same place. */
    size_t end_full = 0, end_one = 0;
    int full = det_item_skip(data, size, &end_full, AC_MAX_DEPTH);
    int one = det_item_skip(data, size, &end_one, 1);
    if (one == 0)
        FUZZ_CHECK(full == 0 && end_one == end_full, "depth 1 accepted, depth 16 did not");
    if (full != 0)
        return 0;
    FUZZ_CHECK(end_full > 0 && end_full <= size, "item extent %zu of %zu", end_full, size);

    size_t again = 0;
    FUZZ_CHECK(det_item_skip(data, end_full, &again, AC_MAX_DEPTH) == 0 && again == end_full,
               "the item is not self-delimiting (%zu then %zu)", end_full, again);
    /* Nothing shorter than the item is a whole item. */
    if (end_full > 1) {
        size_t cut = 0;
        FUZZ_CHECK(det_item_skip(data, end_full - 1, &cut, AC_MAX_DEPTH) != 0,
                   "a truncated item was accepted");
    }
    check_map_lookups(data, end_full);
    size_t vpos;
    (void)det_map_find(data, end_full, "version", &vpos);
    (void)det_map_find(data, end_full, "", &vpos);
    return 0;
}
