/* Publishing a chain as a static C2SP tlog-tiles directory (docs/format.md
 * section 14): entry bundles, hash tiles, the page that shows the chain and
 * checks proofs in a browser, export.json, and the signed checkpoint last.
 *
 * Decision: an export is incremental and never takes back what it
 * published.  It starts from the checkpoint the directory already holds
 * (which must be of this log and a prefix of this chain), writes only the
 * bundles and tiles the new size adds (a full one never again; the partial
 * ones of every published size stay, as tlog-tiles requires), each file
 * atomically (temporary file, rename), makes them durable with one syncfs,
 * and only then replaces `checkpoint`: a reader never sees a checkpoint whose
 * tiles are not all there.  The hashes come from merkle.bin only after its
 * root at the published size was found equal to the signed one.
 *
 * An export is bound by making files, not by its bytes: every core writes
 * bundles (each thread its own run of them, read with its own scanner), and
 * a new file is written unnamed (O_TMPFILE) and linked in whole, one change
 * to its directory instead of a temporary name and a rename. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"
#include "web_assets.h"

#define ENTRY_MAX 0xFFFFu /* an entry bundle's 2-byte length */

#define BUNDLES_PER_TASK 64 /* a thread's run of entry bundles */

typedef struct exporter {
    ac_chain *c;
    int dfd;
    const char *out;
    ac_export_stats st;
    long pid; /* names the temporary files */
} exporter;

/* What one thread writes with: the directory it made last (files come in
 * order, so most share it), and its counts. */
typedef struct writer {
    exporter *x;
    char made[AC_TILE_PATH_MAX + 16];
    uint64_t files, bytes;
    bool no_link; /* O_TMPFILE or the link of one failed here: rename only */
} writer;

/* mkdir -p of the directories of `path` (relative to the export). */
static int make_parents(writer *wr, const char *path, ac_error *err)
{
    exporter *x = wr->x;
    char buf[AC_TILE_PATH_MAX + 16];
    snprintf(buf, sizeof buf, "%s", path);
    char *last = strrchr(buf, '/');
    if (last == NULL)
        return AC_OK;
    *last = '\0';
    if (strcmp(buf, wr->made) == 0)
        return AC_OK;
    snprintf(wr->made, sizeof wr->made, "%s", buf);
    *last = '/';
    for (char *p = strchr(buf, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdirat(x->dfd, buf, 0755) != 0 && errno != EEXIST)
            return ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot create", x->out, buf);
        *p = '/';
    }
    return AC_OK;
}

/* A new file, written unnamed in its directory and linked in whole.
 * AC_OK; AC_EEXIST when the name is taken or the filesystem cannot do it
 * (the caller then writes and renames); or a write error. */
static int link_new_file(writer *wr, const char *path, const void *data, size_t len,
                         ac_error *err)
{
    exporter *x = wr->x;
    char dir[AC_TILE_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    int fd = openat(x->dfd, slash != NULL ? dir : ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        wr->no_link = true;
        return AC_EEXIST;
    }
    int rc = AC_OK;
    if (write_full(fd, data, len) != 0)
        rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot write", x->out, path);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    /* linkat never replaces a name: one already there is for the rename.
     * Without /proc, or where linking is refused, every file would fail the
     * same way: the rest go straight to the rename. */
    if (rc == AC_OK && linkat(AT_FDCWD, self, x->dfd, path, AT_SYMLINK_FOLLOW) != 0) {
        wr->no_link |= errno == ENOENT || errno == EPERM || errno == EXDEV;
        rc = errno == EEXIST || wr->no_link
                 ? AC_EEXIST
                 : ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot link into place", x->out, path);
    }
    if (close(fd) != 0 && rc == AC_OK)
        rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot write", x->out, path);
    return rc;
}

/* Writes one file atomically (no fsync: one syncfs covers them all). */
static int put_file(writer *wr, const char *path, const void *data, size_t len, ac_error *err)
{
    exporter *x = wr->x;
    int rc = make_parents(wr, path, err);
    if (rc == AC_OK)
        rc = wr->no_link ? AC_EEXIST : link_new_file(wr, path, data, len, err);
    if (rc == AC_EEXIST) {
        /* Replaced, or no O_TMPFILE here: a temporary name, then a rename. */
        char tmp[AC_TILE_PATH_MAX + 32];
        snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, x->pid);
        rc = AC_OK;
        int fd = openat(x->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 || write_full(fd, data, len) != 0)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot write", x->out, tmp);
        if (fd >= 0 && close(fd) != 0 && rc == AC_OK)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot write", x->out, tmp);
        if (rc == AC_OK && renameat(x->dfd, tmp, x->dfd, path) != 0)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot rename into place", x->out, path);
        if (rc != AC_OK)
            (void)unlinkat(x->dfd, tmp, 0);
    }
    if (rc != AC_OK) {
        wr->made[0] = '\0'; /* the next file makes its directories again */
        return rc;
    }
    wr->files++;
    wr->bytes += len;
    return AC_OK;
}

static bool exists(exporter *x, const char *path)
{
    struct stat sb;
    return fstatat(x->dfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Whether the file holds exactly these bytes (the page files are written
 * only when they changed). */
static bool same_file(exporter *x, const char *path, const void *data, size_t len)
{
    int fd = openat(x->dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    uint8_t *buf = malloc(len + 1);
    ssize_t n = buf ? read(fd, buf, len + 1) : -1;
    close(fd);
    bool same = n == (ssize_t)len && memcmp(buf, data, len) == 0;
    free(buf);
    return same;
}

/* ---------------------------------------------------------------- the old export */

/* The size the directory published before (0: none), checked to be this
 * log's and a prefix of this chain. */
static int old_size(exporter *x, const char *origin, uint64_t size, uint64_t *out,
                    ac_error *err)
{
    *out = 0;
    int fd = openat(x->dfd, "checkpoint", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? AC_OK
                               : ac_fail_errno(err, AC_EIO, -1, "%s/checkpoint: cannot read",
                                               x->out);
    uint8_t *buf = malloc(AC_NOTE_MAX_SIZE);
    ssize_t n = buf ? read(fd, buf, AC_NOTE_MAX_SIZE) : -1;
    close(fd);
    ac_checkpoint *cp = NULL;
    int rc = n > 0 ? ac_checkpoint_parse(buf, (size_t)n, &cp, NULL) : AC_ECORRUPT;
    free(buf);
    if (rc != AC_OK)
        return ac_fail(err, AC_EINVAL, -1, "%s/checkpoint is not a checkpoint: export into an "
                       "empty directory, or one this chain was exported to", x->out);
    uint64_t was = ac_checkpoint_size(cp);
    uint8_t root[AC_HASH_SIZE];
    if (strcmp(ac_checkpoint_origin(cp), origin) != 0)
        rc = ac_fail(err, AC_EINVAL, -1, "%s holds the export of another log (%.80s)", x->out,
                     ac_checkpoint_origin(cp));
    else if (was > size)
        rc = ac_fail(err, AC_EINVAL, -1, "%s publishes %llu records already, more than the "
                     "newest checkpoint here (%llu): an export never goes back", x->out,
                     (unsigned long long)was, (unsigned long long)size);
    else if ((rc = tree_root_checked(x->c, was, root, err)) == AC_OK &&
             memcmp(root, ac_checkpoint_root(cp), AC_HASH_SIZE) != 0)
        rc = ac_fail(err, AC_ECORRUPT, (int64_t)was - 1, "%s publishes another history of "
                     "%llu records than this chain's: refusing to overwrite it", x->out,
                     (unsigned long long)was);
    ac_checkpoint_free(cp);
    if (rc == AC_OK)
        *out = was;
    return rc;
}

/* ---------------------------------------------------------------- bundles and tiles */

/* The hash tiles of every level that the size adds to. */
static int write_tiles(writer *wr, uint64_t from, uint64_t size, ac_error *err)
{
    exporter *x = wr->x;
    uint8_t *buf = malloc((size_t)AC_TILE_WIDTH * AC_HASH_SIZE);
    if (buf == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    int rc = AC_OK;
    for (unsigned level = 0; rc == AC_OK && level < 8 && (size >> (8 * level)) > 0; level++) {
        uint64_t hashes = size >> (8 * level), had = from >> (8 * level);
        for (uint64_t t = had / AC_TILE_WIDTH; rc == AC_OK && t * AC_TILE_WIDTH < hashes; t++) {
            uint64_t left = hashes - t * AC_TILE_WIDTH;
            unsigned width = left >= AC_TILE_WIDTH ? AC_TILE_WIDTH : (unsigned)left;
            char path[AC_TILE_PATH_MAX];
            rc = ac_tile_path(0, level, t, width, path, err);
            if (rc != AC_OK ||
                (width == AC_TILE_WIDTH && (t + 1) * AC_TILE_WIDTH <= had && exists(x, path)))
                continue;
            rc = ac_tile_read(level, t, width, tree_read, x->c, buf, err);
            if (rc == AC_OK)
                rc = put_file(wr, path, buf, (size_t)width * AC_HASH_SIZE, err);
        }
    }
    free(buf);
    return rc;
}

/* The entry bundles first_bundle.. up to `size` records (or to bundle
 * `end_bundle`), the first of whose records is at `off`. */
static int write_bundle_run(writer *wr, uint64_t first_bundle, uint64_t end_bundle,
                            uint64_t off, uint64_t from, uint64_t size, ac_error *err)
{
    exporter *x = wr->x;
    ac_chain *c = x->c;
    uint64_t first = first_bundle * AC_TILE_WIDTH;
    uint64_t end = end_bundle * AC_TILE_WIDTH < size ? end_bundle * AC_TILE_WIDTH : size;
    scanner s;
    int rc = scan_init(&s, c->fd, c->dir, off, first, c->f.st.chain_size, 4u << 20, err);
    uint8_t *bundle = NULL;
    size_t used = 0, cap = 0;
    unsigned width = 0;
    for (uint64_t i = first; rc == AC_OK && i < end;) {
        scan_frame f;
        if ((rc = scan_next_record(&s, &f, err)) != AC_OK)
            break;
        if (f.len > ENTRY_MAX) {
            rc = ac_fail(err, AC_EINVAL, (int64_t)i, "%s: record %llu is %u bytes, over the %u "
                         "an entry bundle can hold: this chain cannot be exported", c->dir,
                         (unsigned long long)i, f.len, ENTRY_MAX);
            break;
        }
        if (cap - used < 2 + (size_t)f.len) {
            /* At most AC_TILE_WIDTH entries of ENTRY_MAX + 2 bytes. */
            size_t want = cap ? 2 * cap : 256 * 1024;
            while (want - used < 2 + (size_t)f.len)
                want *= 2;
            uint8_t *p = realloc(bundle, want);
            if (p == NULL) {
                rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
                break;
            }
            bundle = p;
            cap = want;
        }
        bundle[used] = (uint8_t)(f.len >> 8);
        bundle[used + 1] = (uint8_t)f.len;
        memcpy(bundle + used + 2, f.body, f.len);
        used += 2 + (size_t)f.len;
        width++;
        i++;
        if (width == AC_TILE_WIDTH || i == end) {
            char path[AC_TILE_PATH_MAX];
            uint64_t n = (i - 1) / AC_TILE_WIDTH;
            rc = ac_tile_path(1, 0, n, width, path, err);
            /* A full bundle is never written again (only one below the old
             * size can be there already). */
            if (rc == AC_OK && !(width == AC_TILE_WIDTH && (n + 1) * AC_TILE_WIDTH <= from &&
                                 exists(x, path)))
                rc = put_file(wr, path, bundle, used, err);
            used = 0;
            width = 0;
        }
    }
    free(bundle);
    scan_free(&s);
    return rc;
}

/* The bundles from the one holding record `from` up to `size`, in runs of
 * BUNDLES_PER_TASK, one run per task of the pool. */
typedef struct bundle_tasks {
    exporter *x;
    uint64_t from, size, first_bundle, end_bundle;
    uint64_t *off;  /* per task: where its first record is */
    writer *wr;     /* per task */
    int *rc;        /* per task */
    ac_error *err;  /* per task */
} bundle_tasks;

static void bundle_task(void *ctx, size_t i, ac_hasher *h, uint8_t *scratch)
{
    bundle_tasks *t = ctx;
    (void)h;
    (void)scratch;
    uint64_t first = t->first_bundle + i * BUNDLES_PER_TASK;
    uint64_t end = t->end_bundle - first > BUNDLES_PER_TASK ? first + BUNDLES_PER_TASK
                                                            : t->end_bundle;
    t->rc[i] = write_bundle_run(&t->wr[i], first, end, t->off[i], t->from, t->size, &t->err[i]);
}

/* The bundles on every thread of the pool, while this one writes the
 * tiles; a failure of the tiles is the one reported, else the first
 * bundle's. */
static int write_bundles_and_tiles(exporter *x, writer *main_wr, uint64_t from, uint64_t size,
                                   ac_error *err)
{
    ac_chain *c = x->c;
    bundle_tasks t = {.x = x, .from = from, .size = size,
                      .first_bundle = from / AC_TILE_WIDTH,
                      .end_bundle = (size + AC_TILE_WIDTH - 1) / AC_TILE_WIDTH};
    size_t ntasks = (size_t)((t.end_bundle - t.first_bundle + BUNDLES_PER_TASK - 1) /
                             BUNDLES_PER_TASK);
    t.off = calloc(ntasks + 1, sizeof *t.off);
    t.wr = calloc(ntasks + 1, sizeof *t.wr);
    t.rc = calloc(ntasks + 1, sizeof *t.rc);
    t.err = calloc(ntasks + 1, sizeof *t.err);
    pool *p = pool_new(ntasks < 2 ? 1 : c->threads);
    int rc = t.off && t.wr && t.rc && t.err && p ? AC_OK
                                                 : ac_fail(err, AC_ENOMEM, -1, "out of memory");
    for (size_t i = 0; rc == AC_OK && i < ntasks; i++) {
        uint64_t first = (t.first_bundle + i * BUNDLES_PER_TASK) * AC_TILE_WIDTH, len;
        t.wr[i].x = x;
        if (first > 0)
            rc = index_lookup(c, first, &t.off[i], &len, err);
    }
    if (rc == AC_OK) {
        pool_post(p, bundle_task, &t, ntasks, 1);
        rc = write_tiles(main_wr, from, size, err);
        pool_finish(p, c->hasher, NULL);
    }
    for (size_t i = 0; i < ntasks && t.wr != NULL; i++) {
        x->st.files_written += t.wr[i].files;
        x->st.bytes_written += t.wr[i].bytes;
        if (rc == AC_OK && t.rc[i] != AC_OK) {
            rc = t.rc[i];
            if (err != NULL)
                *err = t.err[i];
        }
    }
    pool_free(p);
    free(t.off);
    free(t.wr);
    free(t.rc);
    free(t.err);
    return rc;
}

/* ---------------------------------------------------------------- the page */

static int write_page(writer *wr, const char *origin, const uint8_t key[AC_PUBKEY_SIZE],
                      uint64_t size, ac_error *err)
{
    exporter *x = wr->x;
    int rc = AC_OK;
    for (size_t i = 0; rc == AC_OK && i < AC_WEB_FILE_COUNT; i++)
        if (!same_file(x, ac_web_files[i].name, ac_web_files[i].data, ac_web_files[i].size))
            rc = put_file(wr, ac_web_files[i].name, ac_web_files[i].data, ac_web_files[i].size,
                          err);
    if (rc != AC_OK)
        return rc;
    /* export.json: what the page pins (docs/web.md). */
    ac_vkey *v = NULL;
    char *vkey = NULL;
    if ((rc = ac_vkey_new(origin, AC_VKEY_ED25519, key, &v, err)) == AC_OK)
        rc = ac_vkey_string(v, &vkey, err);
    ac_vkey_free(v);
    json_t *o = json_object(), *vkeys = json_array(), *rot = json_array();
    bool ok = rc == AC_OK && o && vkeys && rot &&
              json_object_set_new(o, "attestchain_export", json_integer(1)) == 0 &&
              json_object_set_new(o, "origin", json_string(origin)) == 0 &&
              json_array_append_new(vkeys, json_string(vkey)) == 0;
    for (size_t i = 0; ok && i < x->c->f.nrot && x->c->f.rot[i].index < size; i++)
        ok = json_array_append_new(rot, json_integer((json_int_t)x->c->f.rot[i].index)) == 0;
    ok = ok && json_object_set(o, "vkeys", vkeys) == 0 &&
         json_object_set_new(o, "witnesses", json_array()) == 0 &&
         json_object_set(o, "rotations", rot) == 0;
    char *text = ok ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(vkeys);
    json_decref(rot);
    json_decref(o);
    ac_free(vkey);
    if (rc != AC_OK)
        return rc;
    if (text == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    size_t len = strlen(text);
    text[len++] = '\n'; /* json_dumps leaves room: it NUL-terminates */
    if (!same_file(x, "export.json", text, len))
        rc = put_file(wr, "export.json", text, len, err);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- the export */

static int publish(exporter *x, ac_error *err)
{
    ac_chain *c = x->c;
    int rc = state_sync(c, err);
    if (rc == AC_OK)
        rc = state_check_committed(c, err);
    if (rc != AC_OK)
        return rc;
    char origin[AC_NOTE_MAX_NAME + 1];
    kept_cp *k = NULL;
    size_t nk = 0;
    if ((rc = kept_load(c, origin, &k, &nk, err)) != AC_OK)
        return rc;
    /* The newest kept checkpoint signed by the key authorized at its size;
     * a signed one larger than the chain means records were lost. */
    uint64_t count = c->f.st.record_count;
    const kept_cp *cp = kept_newest_signed(c, k, nk, origin, 1, count);
    const kept_cp *beyond = kept_newest_signed(c, k, nk, origin, count + 1, UINT64_MAX);
    uint8_t key[AC_PUBKEY_SIZE];
    if (beyond != NULL)
        rc = ac_fail(err, AC_ECORRUPT, (int64_t)count, "%s: checkpoints/%llu is larger than the "
                     "chain: records were lost; run verify", c->dir,
                     (unsigned long long)beyond->size);
    else if (cp == NULL)
        rc = ac_fail(err, AC_ENOTFOUND, -1, "%s: no signed checkpoint to publish: make one with "
                     "'attestchain checkpoint' (or export with -k KEY)", c->dir);
    else
        checkpoint_key(&c->f, cp->size, key);
    uint64_t size = cp ? cp->size : 0, from = 0;
    uint8_t root[AC_HASH_SIZE];
    if (rc == AC_OK)
        rc = old_size(x, origin, size, &from, err);
    /* The cache's hashes go out only once its root is the signed one. */
    for (int attempt = 0; rc == AC_OK; attempt++) {
        rc = tree_sync(c, err);
        if (rc == AC_OK && ac_merkle_tree_hash(size, tree_read, c, root, NULL) == AC_OK &&
            memcmp(root, ac_checkpoint_root(cp->cp), AC_HASH_SIZE) == 0)
            break;
        if (rc == AC_OK && attempt > 0)
            rc = ac_fail(err, AC_ECORRUPT, (int64_t)size - 1, "%s: chain.bin does not give the "
                         "root of the checkpoint of %llu records; run verify", c->dir,
                         (unsigned long long)size);
        if (rc == AC_OK)
            tree_forget(c);
    }
    writer wr = {.x = x};
    if (rc == AC_OK)
        rc = write_bundles_and_tiles(x, &wr, from, size, err);
    if (rc == AC_OK)
        rc = write_page(&wr, origin, key, size, err);
    /* Every tile durable before the checkpoint that names them. */
    if (rc == AC_OK && syncfs(x->dfd) != 0)
        rc = ac_fail_errno(err, AC_EIO, -1, "%s: cannot sync", x->out);
    if (rc == AC_OK && !same_file(x, "checkpoint", cp->bytes, cp->len)) {
        rc = put_file(&wr, "checkpoint", cp->bytes, cp->len, err);
        if (rc == AC_OK && fsync(x->dfd) != 0)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s: cannot sync", x->out);
    }
    x->st.files_written += wr.files;
    x->st.bytes_written += wr.bytes;
    x->st.size = size;
    x->st.old_size = from;
    kept_free(k, nk);
    return rc;
}

ac_status ac_chain_export(ac_chain *c, const char *out_dir, ac_export_stats *stats, ac_error *err)
{
    if (c == NULL || out_dir == NULL || *out_dir == '\0')
        return ac_fail(err, AC_EINVAL, -1, "no chain or no directory to export to");
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        return ac_fail_errno(err, AC_EIO, -1, "%s: cannot create", out_dir);
    exporter x = {.c = c, .out = out_dir, .pid = (long)getpid()};
    x.dfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x.dfd < 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s: cannot open as a directory", out_dir);
    int rc = publish(&x, err);
    close(x.dfd);
    if (stats != NULL)
        *stats = x.st;
    return rc;
}
