/* The head state (docs/format.md section 6): kept in memory as a fold of the
 * chain, saved in state.cbor, and believed only as far as signatures by the
 * authorized keys vouch for it.  A state.cbor is taken without a scan only
 * when it covers exactly the file as it was when it was written (size and
 * change time) and when record 0, every rotation at the offsets it names and
 * the head all decode at their places with valid signatures by the key
 * authorized there: O(rotations) reads.  Anything else is rebuilt from
 * chain.bin by a walk that checks every record's framing, decoding and link
 * and the signatures that authority rests on.  What a state.cbor says was
 * committed is evidence: no command but an explicit recovery lowers it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

/* state.cbor is small; a larger file is not ours to believe. */
#define STATE_MAX_BYTES (64u << 10)
/* Rotation offsets kept in state.cbor; a chain with more rescans on open. */
#define STATE_MAX_ROTATIONS 4096u

/* ---------------------------------------------------------------- state.cbor */

enum { S_SIGNER, S_CHAIN_ID, S_HEAD_HASH, S_CHAIN_SIZE, S_CREATED_AT, S_HEAD_INDEX,
       S_HEAD_OFFSET, S_RECORD_COUNT, S_CHAIN_CTIME, S_LAST_APPEND_AT, S_ROTATIONS, S_KEYS };

/* In deterministic order: shorter first, then bytewise.  The last two are
 * this implementation's extension keys (other readers ignore them). */
static const char *const state_keys[S_KEYS] = {
    "signer", "chain_id", "head_hash", "chain_size", "created_at", "head_index",
    "head_offset", "record_count", "chain_ctime_ns", "last_append_at", "rotation_offsets",
};

typedef struct state_file {
    ac_state st;
    uint64_t ctime_ns;
    uint64_t *rot_offs;
    size_t nrot;
    unsigned seen; /* bit k: key k present with the right type */
} state_file;

static uint64_t *state_uint(state_file *s, int k)
{
    switch (k) {
    case S_CHAIN_SIZE: return &s->st.chain_size;
    case S_CREATED_AT: return &s->st.created_at;
    case S_HEAD_INDEX: return &s->st.head_index;
    case S_HEAD_OFFSET: return &s->st.head_offset;
    case S_RECORD_COUNT: return &s->st.record_count;
    case S_CHAIN_CTIME: return &s->ctime_ns;
    case S_LAST_APPEND_AT: return &s->st.last_append_at;
    default: return NULL;
    }
}

static uint8_t *state_bytes(state_file *s, int k)
{
    switch (k) {
    case S_SIGNER: return s->st.signer;
    case S_CHAIN_ID: return s->st.chain_id;
    case S_HEAD_HASH: return s->st.head_hash;
    default: return NULL;
    }
}

static void state_encode(const state_file *in, det_buf *b)
{
    state_file s = *in;
    det_put_map(b, S_KEYS);
    for (int k = 0; k < S_KEYS; k++) {
        det_put_text(b, state_keys[k], strlen(state_keys[k]));
        uint64_t *u = state_uint(&s, k);
        if (k == S_ROTATIONS) {
            det_put_array(b, s.nrot);
            for (size_t i = 0; i < s.nrot; i++)
                det_put_uint(b, s.rot_offs[i]);
        } else if (u != NULL) {
            det_put_uint(b, *u);
        } else {
            det_put_bytes(b, state_bytes(&s, k), AC_HASH_SIZE);
        }
    }
}

/* The rotation offsets: an array of uints, strictly increasing. */
static int decode_rotations(const uint8_t *buf, size_t len, size_t pos, state_file *out)
{
    det_token t;
    if (det_token_read(buf, len, &pos, &t) != 0 || t.type != DET_ARRAY ||
        t.val > STATE_MAX_ROTATIONS)
        return -1;
    out->rot_offs = malloc((t.val ? t.val : 1) * sizeof *out->rot_offs);
    if (out->rot_offs == NULL)
        return -1;
    for (uint64_t i = 0; i < t.val; i++) {
        det_token v;
        if (det_token_read(buf, len, &pos, &v) != 0 || v.type != DET_UINT ||
            (i > 0 && v.val <= out->rot_offs[i - 1]))
            return -1;
        out->rot_offs[out->nrot++] = v.val;
    }
    return 0;
}

/* Parses state.cbor: unknown keys are ignored; `seen` tells which of ours
 * were there.  -1 if it is not a deterministic CBOR map at all. */
static int state_decode(const uint8_t *buf, size_t len, state_file *out)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    det_token head;
    if (det_item_skip(buf, len, &pos, AC_MAX_DEPTH) != 0 || pos != len)
        return -1;
    pos = 0;
    if (det_token_read(buf, len, &pos, &head) != 0 || head.type != DET_MAP)
        return -1;
    for (int k = 0; k < S_KEYS; k++) {
        size_t vpos;
        det_token t;
        if (det_map_find(buf, len, state_keys[k], &vpos) != 0)
            continue;
        if (k == S_ROTATIONS) {
            if (decode_rotations(buf, len, vpos, out) == 0)
                out->seen |= 1u << k;
            continue;
        }
        if (det_token_read(buf, len, &vpos, &t) != 0)
            continue;
        uint64_t *u = state_uint(out, k);
        if (u != NULL && t.type == DET_UINT) {
            *u = t.val;
            out->seen |= 1u << k;
        } else if (u == NULL && t.type == DET_BYTES && t.val == AC_HASH_SIZE) {
            memcpy(state_bytes(out, k), t.data, AC_HASH_SIZE);
            out->seen |= 1u << k;
        }
    }
    return 0;
}

static void state_file_free(state_file *s)
{
    free(s->rot_offs);
    s->rot_offs = NULL;
}

/* Reads and parses state.cbor.  1 parsed, 0 no such file, -1 a file that
 * is not a state (too large, not a map, not a regular file). */
static int state_load(ac_chain *c, state_file *out)
{
    memset(out, 0, sizeof *out);
    int fd = openat(c->dirfd, AC_STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat sb;
    uint8_t *buf = NULL;
    ssize_t n = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        sb.st_size <= (off_t)STATE_MAX_BYTES && (buf = malloc((size_t)sb.st_size)) != NULL)
        n = read(fd, buf, (size_t)sb.st_size);
    close(fd);
    int rc = n == sb.st_size && n > 0 && state_decode(buf, (size_t)n, out) == 0 ? 1 : -1;
    free(buf);
    return rc;
}

#define ALL_KEYS ((1u << S_KEYS) - 1)
#define PLAIN_KEYS ((1u << S_SIGNER) | (1u << S_CHAIN_ID) | (1u << S_HEAD_HASH) | \
                    (1u << S_HEAD_INDEX) | (1u << S_RECORD_COUNT) | (1u << S_CREATED_AT) | \
                    (1u << S_LAST_APPEND_AT))

static uint64_t ctime_ns(const struct stat *sb)
{
    return (uint64_t)sb->st_ctim.tv_sec * 1000000000u + (uint64_t)sb->st_ctim.tv_nsec;
}

/* ---------------------------------------------------------------- trusting a state.cbor */

/* One record read at `off` (the frame must end by `size`), decoded, with
 * chain_index `index` unless index is UINT64_MAX, its hash in `hash`. */
static int read_rec(ac_chain *c, uint64_t off, uint64_t size, uint8_t **body, uint32_t *len,
                    ac_rec *rec, uint8_t hash[AC_HASH_SIZE])
{
    if (frame_read_at(c->fd, off, size, body, len) != AC_OK)
        return -1;
    if (rec_decode(*body, *len, rec, NULL) != 0 ||
        hasher_digest(c->hasher, *body, *len, hash) != AC_OK) {
        free(*body);
        return -1;
    }
    return 0;
}

/* Folds record 0, the rotations and the head that `sf` names into `f`, each
 * checked as a verifier would: whether the state can be believed. */
static bool state_vouched(ac_chain *c, const state_file *sf, uint64_t size, fold *f)
{
    const ac_state *st = &sf->st;
    if (st->record_count == 0 || st->head_index + 1 != st->record_count ||
        st->chain_size != size || st->head_offset >= size)
        return false;
    uint8_t *body, hash[AC_HASH_SIZE], id[AC_HASH_SIZE];
    uint32_t len;
    ac_rec rec;
    /* Record 0: the chain's identity and first authority. */
    if (read_rec(c, 0, size, &body, &len, &rec, hash) != 0)
        return false;
    fold_in in = {.off = 0, .body = body, .len = len, .decoded = true, .rec = rec, .sig = -1};
    memcpy(in.hash, hash, AC_HASH_SIZE);
    in.rotation = rec_rotation(&rec, in.new_key);
    const char *detail;
    int rc;
    bool ok = rec_chain_id(body, len, c->hasher, id, NULL) == AC_OK &&
              memcmp(id, st->chain_id, AC_HASH_SIZE) == 0 && rec.claimed_ts == st->created_at;
    memcpy(in.chain_id, id, AC_HASH_SIZE);
    ok = ok && fold_step(f, &in, &detail, &rc) == AC_REASON_NONE && rc == AC_OK;
    free(body);
    /* Each rotation after it: at its offset, signed by the key authorized
     * before it.  Links between them are not read: the head's signature
     * covers the hash chain, and verify checks it. */
    for (size_t i = 0; ok && i < sf->nrot; i++) {
        uint64_t off = sf->rot_offs[i];
        if (off == 0)
            continue; /* record 0 was a rotation: folded above */
        if (off > st->head_offset || read_rec(c, off, size, &body, &len, &rec, hash) != 0)
            return false;
        uint8_t new_key[AC_PUBKEY_SIZE];
        ok = rec.chain_index >= f->st.record_count && rec.chain_index <= st->head_index &&
             rec_rotation(&rec, new_key) == 1 &&
             memcmp(rec.signer, f->st.signer, AC_PUBKEY_SIZE) == 0 &&
             fold_check_sig(f, body, len, &rec, f->st.signer) == 1 &&
             fold_rotate(f, rec.chain_index, off, new_key) == AC_OK;
        f->st.record_count = rec.chain_index + 1;
        free(body);
    }
    if (!ok)
        return false;
    /* The head: where the state says, ending the file, signed by the key
     * authorized there, naming who signs next. */
    if (read_rec(c, st->head_offset, size, &body, &len, &rec, hash) != 0)
        return false;
    uint8_t key[AC_PUBKEY_SIZE], next[AC_PUBKEY_SIZE];
    fold_key_at(f, st->head_index, key);
    int rot = rec_rotation(&rec, next);
    bool head_rotation_listed = sf->nrot > 0 && sf->rot_offs[sf->nrot - 1] == st->head_offset;
    ok = st->head_offset + 4 + len == size && rec.chain_index == st->head_index &&
         memcmp(hash, st->head_hash, AC_HASH_SIZE) == 0 && rec.claimed_ts == st->last_append_at &&
         memcmp(rec.signer, key, AC_PUBKEY_SIZE) == 0 && (rot == 1) == head_rotation_listed &&
         memcmp(f->st.signer, st->signer, AC_PUBKEY_SIZE) == 0 &&
         (st->head_index == 0 || fold_check_sig(f, body, len, &rec, key) == 1);
    free(body);
    if (ok) {
        ac_state keep = f->st;
        f->st = *st;
        memcpy(f->st.signer, keep.signer, AC_PUBKEY_SIZE);
    }
    return ok;
}

/* ---------------------------------------------------------------- rebuilding */

typedef struct offsets {
    uint64_t *v;
    size_t n, cap;
    bool failed;
} offsets;

static int note_offset(void *ctx, const fold_in *in)
{
    offsets *o = ctx;
    if (o->failed)
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 4096;
        uint64_t *p = realloc(o->v, cap * sizeof *p);
        if (p == NULL) {
            o->failed = true; /* only the index loses them */
            return 0;
        }
        o->v = p;
        o->cap = cap;
    }
    o->v[o->n++] = in->off;
    return 0;
}

static void remember_damage(ac_chain *c, const walk_end *e, ac_error *err)
{
    c->damaged = true;
    c->damage_index = e->index;
    ac_fail(&c->damage, AC_ECORRUPT, (int64_t)e->index,
            "%s/" AC_CHAIN_FILE ": record %llu is damaged (%s, offset %llu); run verify, "
            "and restore chain.bin from a copy", c->dir, (unsigned long long)e->index,
            e->detail ? e->detail : ac_reason_name(e->reason), (unsigned long long)e->off);
    if (err != NULL)
        *err = c->damage;
}

/* Checks the head's signature after a walk that added records: with the
 * links, it vouches for every record the walk did not verify. */
static int check_new_head(ac_chain *c, fold *f, walk_end *e)
{
    uint8_t *body;
    uint32_t len;
    int rc = frame_read_at(c->fd, f->st.head_offset, f->st.chain_size, &body, &len);
    if (rc != AC_OK)
        return rc;
    ac_rec rec;
    uint8_t key[AC_PUBKEY_SIZE];
    fold_key_at(f, f->st.head_index, key);
    int ok = rec_decode(body, len, &rec, NULL) == 0 ? fold_check_sig(f, body, len, &rec, key) : 0;
    free(body);
    if (ok < 0)
        return AC_ENOMEM;
    if (ok == 0)
        *e = (walk_end){.kind = WALK_FAILED, .reason = AC_REASON_SIGNATURE,
                        .detail = "signature does not verify", .index = f->st.head_index,
                        .off = f->st.head_offset};
    return AC_OK;
}

/* Walks from what c->f covers to `size`, at the rebuild's depth.  On damage
 * the fold ends before the damaged record, so that the good records stay
 * readable, and the damage is kept to refuse appends. */
static int roll(ac_chain *c, uint64_t size, ac_error *err)
{
    fold start;
    int rc = fold_copy(&start, &c->f);
    if (rc != AC_OK)
        return ac_fail(err, rc, -1, "out of memory");
    offsets offs = {0};
    walk_opts o = {.end = UINT64_MAX, .threads = c->threads, .each = note_offset, .ctx = &offs};
    walk_end e;
    uint64_t first = c->f.st.record_count;
    rc = chain_walk(c, &c->f, size, &o, &e, err);
    if (rc == AC_OK && c->f.st.record_count > first && e.kind != WALK_FAILED)
        rc = check_new_head(c, &c->f, &e);
    if (rc == AC_OK && e.kind == WALK_FAILED && e.reason == AC_REASON_SIGNATURE &&
        e.index == c->f.st.head_index && e.index >= first) {
        /* The head itself failed: fold again up to the record before it. */
        fold_free(&c->f);
        c->f = start;
        memset(&start, 0, sizeof start);
        walk_end e2;
        o.end = e.index == 0 ? 0 : e.index - 1;
        offs.n = 0;
        if (e.index > first)
            rc = chain_walk(c, &c->f, size, &o, &e2, err);
    }
    fold_free(&start);
    if (rc != AC_OK) {
        free(offs.v);
        return rc == AC_ENOMEM ? ac_fail(err, rc, -1, "out of memory") : rc;
    }
    if (offs.n > 0 && !offs.failed)
        index_note(c, first, offs.v, offs.n);
    free(offs.v);
    c->state_stale |= c->f.st.record_count > first && !c->readonly;
    c->torn_off = c->torn_len = 0;
    if (e.kind == SCAN_TORN) {
        c->torn_off = e.off;
        c->torn_len = e.tail_len;
    } else if (e.kind == WALK_FAILED) {
        remember_damage(c, &e, err);
        return AC_ECORRUPT;
    }
    return AC_OK;
}

int state_sync(ac_chain *c, ac_error *err)
{
    int rc = chain_open_file(c, false, err);
    if (rc != AC_OK)
        return rc;
    struct stat sb = {0};
    if (c->fd >= 0 && fstat(c->fd, &sb) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": cannot stat", c->dir);
    uint64_t size = (uint64_t)sb.st_size, ct = ctime_ns(&sb);
    /* Nothing changed since the last look: the same answer. */
    if (c->have_state && size == c->seen_size && ct == c->seen_ctime) {
        if (c->damaged && err != NULL)
            *err = c->damage;
        return c->damaged ? AC_ECORRUPT : AC_OK;
    }
    c->seen_size = size;
    c->seen_ctime = ct;
    c->damaged = false;
    if (c->have_state && size == c->f.st.chain_size) {
        c->torn_off = c->torn_len = 0;
        return AC_OK;
    }
    if (c->have_state && size > c->f.st.chain_size)
        return roll(c, size, err); /* frames appended since: only they are read */
    /* Otherwise: a state.cbor that vouches for itself, or a rebuild. */
    fold_free(&c->f);
    fold_init(&c->f);
    c->have_state = true;
    state_file sf;
    if (state_load(c, &sf) == 1 && sf.seen == ALL_KEYS && sf.ctime_ns == ct &&
        state_vouched(c, &sf, size, &c->f)) {
        state_file_free(&sf);
        c->torn_off = c->torn_len = 0;
        return AC_OK;
    }
    state_file_free(&sf);
    fold_free(&c->f);
    fold_init(&c->f);
    return roll(c, size, err);
}

void state_forget(ac_chain *c)
{
    c->have_state = false;
    c->damaged = false;
    fold_free(&c->f);
    fold_init(&c->f);
}

/* ---------------------------------------------------------------- evidence of loss */

void state_claim_read(ac_chain *c, state_claim *out)
{
    memset(out, 0, sizeof *out);
    state_file sf;
    int r = state_load(c, &sf);
    state_file_free(&sf);
    c->state_gone = r == 0; /* trusted only under the lock (lock_chain) */
    if (r != 1 || !(sf.seen & (1u << S_RECORD_COUNT)))
        return;
    out->present = true;
    out->has_chain_id = (sf.seen & (1u << S_CHAIN_ID)) != 0;
    memcpy(out->chain_id, sf.st.chain_id, AC_HASH_SIZE);
    out->records = sf.st.record_count;
    /* Python-written states carry only the count: use what there is. */
    out->size = sf.seen & (1u << S_CHAIN_SIZE) ? sf.st.chain_size : 0;
}

int state_claim_loss(const state_claim *cl, const ac_state *held, ac_loss *loss)
{
    memset(loss, 0, sizeof *loss);
    loss->records = held->record_count;
    loss->size = held->chain_size;
    if (!cl->present)
        return 0;
    /* Another chain's state says nothing about this one; on an empty
     * chain.bin any state is evidence (the chain id is gone with it). */
    if (held->record_count > 0 &&
        (!cl->has_chain_id || memcmp(cl->chain_id, held->chain_id, AC_HASH_SIZE) != 0))
        return 0;
    loss->committed_records = cl->records;
    loss->committed_size = cl->size;
    return cl->records > loss->records || cl->size > loss->size;
}

int state_committed(ac_chain *c, const ac_state *held, ac_loss *loss)
{
    state_claim cl;
    state_claim_read(c, &cl);
    return state_claim_loss(&cl, held, loss);
}

int state_check_committed(ac_chain *c, ac_error *err)
{
    ac_loss loss;
    if (!state_committed(c, &c->f.st, &loss))
        return AC_OK;
    return ac_fail(err, AC_ECORRUPT, (int64_t)loss.records,
                   "%s/" AC_CHAIN_FILE ": holds %llu records but " AC_STATE_FILE " says %llu were "
                   "committed: records were lost and appending would fork the chain; restore "
                   "chain.bin from a copy, or run 'attestchain recover --accept-loss'",
                   c->dir, (unsigned long long)loss.records,
                   (unsigned long long)loss.committed_records);
}

/* ---------------------------------------------------------------- writing */

static int write_state(ac_chain *c, ac_error *err)
{
    c->state_gone = false; /* there will be one */
    struct stat sb;
    if (fstat(c->fd, &sb) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": cannot stat", c->dir);
    state_file sf = {.st = c->f.st, .ctime_ns = ctime_ns(&sb)};
    uint64_t *offs = NULL;
    if (c->f.nrot <= STATE_MAX_ROTATIONS && c->f.nrot > 0) {
        offs = malloc(c->f.nrot * sizeof *offs);
        if (offs == NULL)
            return ac_fail(err, AC_ENOMEM, -1, "out of memory");
        for (size_t i = 0; i < c->f.nrot; i++)
            offs[i] = c->f.rot[i].offset;
        sf.rot_offs = offs;
        sf.nrot = c->f.nrot;
    } else if (c->f.nrot > STATE_MAX_ROTATIONS) {
        sf.ctime_ns = 0; /* too many to list: the next open rebuilds */
    }
    det_buf b = {0};
    state_encode(&sf, &b);
    free(offs);
    if (b.failed) {
        det_buf_free(&b);
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    }
    static const char tmp[] = AC_STATE_FILE ".tmp";
    /* A leftover temporary file (or a link planted there) is removed, not
     * followed. */
    (void)unlinkat(c->dirfd, tmp, 0);
    int fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    int rc = AC_OK;
    if (fd < 0) {
        rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot create; check the directory's "
                           "permissions", c->dir, tmp);
    } else {
        if (write_full(fd, b.data, b.len) != 0 || fsync(fd) != 0)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot write", c->dir, tmp);
        close(fd);
        if (rc == AC_OK && renameat(c->dirfd, tmp, c->dirfd, AC_STATE_FILE) != 0)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/" AC_STATE_FILE ": cannot rename into place",
                               c->dir);
        if (rc != AC_OK)
            unlinkat(c->dirfd, tmp, 0);
    }
    det_buf_free(&b);
    if (rc == AC_OK)
        c->owes_state = c->state_stale = false;
    return rc;
}

int state_save(ac_chain *c, ac_error *err)
{
    if (c->readonly || c->f.st.record_count == 0 || c->damaged || c->torn_len > 0)
        return AC_OK;
    ac_loss loss;
    if (state_committed(c, &c->f.st, &loss))
        return AC_OK; /* evidence of loss stays until an explicit recovery */
    return write_state(c, err);
}

int state_remove(ac_chain *c, ac_error *err)
{
    /* Absent when this append read the claim, under the lock: one system
     * call less on every durable append. */
    if (c->state_gone) {
        c->owes_state = true;
        return AC_OK;
    }
    if (unlinkat(c->dirfd, AC_STATE_FILE, 0) == 0) {
        if (fsync(c->dirfd) != 0)
            return ac_fail_errno(err, AC_EIO, -1, "%s: cannot sync directory", c->dir);
    } else if (errno != ENOENT) {
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_STATE_FILE ": cannot remove", c->dir);
    }
    c->owes_state = true;
    return AC_OK;
}

int state_recover(ac_chain *c, ac_loss *loss, char *kept, size_t kept_size, ac_error *err)
{
    kept[0] = '\0';
    if (!state_committed(c, &c->f.st, loss))
        return AC_OK;
    if (c->damaged)
        return ac_fail(err, AC_ECORRUPT, (int64_t)c->damage_index, "%s", c->damage.message);
    snprintf(kept, kept_size, AC_STATE_FILE ".lost-%" PRIu64, ac_now_us());
    /* The old state is kept beside the new one: the loss stays on record. */
    if (linkat(c->dirfd, AC_STATE_FILE, c->dirfd, kept, 0) != 0 || fsync(c->dirfd) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot keep the old " AC_STATE_FILE,
                             c->dir, kept);
    int rc = c->f.st.record_count > 0 ? write_state(c, err) : state_remove(c, err);
    if (rc == AC_OK && fsync(c->dirfd) != 0)
        rc = ac_fail_errno(err, AC_EIO, -1, "%s: cannot sync directory", c->dir);
    c->owes_state = false;
    return rc;
}
