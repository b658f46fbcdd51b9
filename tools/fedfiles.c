/* Files that mirror and witness keep: written durably (temporary file,
 * fsync, rename, fsync of the directory), one process at a time (flock),
 * and evidence of a fork checked before it is kept, so that nothing is
 * written as evidence that would not convince a third party. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "federation.h"

int refuse(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fail_msg("%s", buf);
    return EXIT_INVALID;
}

int set_error(ac_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    memset(err, 0, sizeof *err);
    err->code = code;
    err->index = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

static int write_all_fd(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
}

int write_durable(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096], tmp[4160];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return fail_msg("%s: path too long", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return fail_msg("%s: cannot create: %s", tmp, strerror(errno));
    bool ok = write_all_fd(fd, data, len) == 0 && fsync(fd) == 0;
    int e = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0 && sync_dir(dir) == 0)
        return EXIT_GOOD;
    e = errno ? errno : e;
    unlink(tmp);
    return fail_msg("%s: cannot write: %s", path, strerror(e));
}

int lock_dir(const char *dir, const char *name, const char *who, int *fd)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return fail_msg("%s: path too long", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (*fd < 0)
        return fail_msg("%s: cannot open: %s", path, strerror(errno));
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int st = fail_msg("%s: cannot lock (another %s?): %s", path, who, strerror(errno));
            close(*fd);
            return st;
        }
    }
    return EXIT_GOOD;
}

int make_subdir(const char *dir, const char *sub, char *out, size_t out_size)
{
    if ((size_t)snprintf(out, out_size, "%s/%s", dir, sub) >= out_size)
        return fail_msg("%s: path too long", dir);
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        return fail_msg("%s: cannot create: %s", out, strerror(errno));
    struct stat sb;
    if (lstat(out, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fail_msg("%s: not a directory", out);
    return EXIT_GOOD;
}

int keep_evidence(const char *dir, const char *evidence, size_t len, const ac_vkey *const *keys,
                  size_t nkeys)
{
    ac_evidence_info info;
    ac_error err;
    int v = ac_evidence_verify((const uint8_t *)evidence, len, keys, nkeys, &info, &err);
    if (v != 1)
        return fail_msg("evidence of the fork could not be made: %s", err.message);
    char sub[4096], name[64];
    int st = make_subdir(dir, "evidence", sub, sizeof sub);
    if (st != EXIT_GOOD)
        return st;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name, sizeof name, "fork-%lld-%09ld", (long long)ts.tv_sec, ts.tv_nsec);
    if ((st = write_durable(sub, name, evidence, len)) != EXIT_GOOD)
        return st;
    fprintf(stderr, TOOL_NAME ": FORK: the log's key signed two histories; evidence kept in ");
    put_clean(stderr, sub);
    fprintf(stderr, "/%s (check it with 'attestchain evidence verify')\n", name);
    return EXIT_INVALID;
}

int keep_checkpoint_fork(const char *dir, const ac_checkpoint *a, const ac_checkpoint *b,
                         const uint8_t *old_root, const uint8_t (*proof)[AC_HASH_SIZE],
                         size_t count, const ac_vkey *const *keys, size_t nkeys)
{
    size_t alen, blen, len;
    const uint8_t *ab = ac_checkpoint_bytes(a, &alen), *bb = ac_checkpoint_bytes(b, &blen);
    char *ev;
    ac_error err;
    if (ac_evidence_checkpoints(ab, alen, bb, blen, old_root, proof, count, &ev, &len, &err) !=
        AC_OK)
        return fail_ac(&err, NULL);
    int st = keep_evidence(dir, ev, len, keys, nkeys);
    ac_free(ev);
    return st;
}
