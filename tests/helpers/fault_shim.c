/* fault_shim.so: an LD_PRELOAD library that makes one chosen system call
 * fail, for tests/e2e/t_faults.py.  Built as a shared object without sanitizers
 * (Makefile rule for $(BUILD)/tests/fault_shim.so); not linked with the
 * library.
 *
 * Calls watched (the "64" variants count as their plain names):
 *   open openat write pwrite fsync fdatasync rename renameat ftruncate
 *   unlink unlinkat
 *
 * Environment:
 *   FAULT_LOG=PATH     counting mode: append one line per watched call,
 *                      "<name> <n> <file>", n counting calls of that name
 *                      from 1 and file the path opened or the file behind
 *                      the descriptor (so a test can name each call site).
 *   FAULT_CALL=NAME    fail the FAULT_NTH-th call of NAME (default 1) ...
 *   FAULT_NTH=N
 *   FAULT_ERRNO=E      ... with errno E: ENOSPC, EIO, EACCES, EROFS, or a number.
 *   FAULT_SHORT=1      for write/pwrite: the N-th call writes only half of
 *                      its bytes (a short write, as on a filling disk) and
 *                      the next call of that name fails with E.
 *
 *   FAULT_PAUSE_CALL=NAME, FAULT_PAUSE_NTH=N, FAULT_PAUSE_DIR=DIR
 *                      no fault: around the N-th call of NAME the process
 *                      waits, so that a test can order it against other
 *                      processes: before the call it creates DIR/before and
 *                      waits for DIR/go-before; after the call, DIR/after
 *                      and DIR/go-after.
 *
 * When a fault fires the shim writes "fault_shim: <name> #<n> -> <errno
 * name>" to FAULT_LOG if set, so a test can tell that the fault happened. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum { C_OPEN, C_OPENAT, C_WRITE, C_PWRITE, C_FSYNC, C_FDATASYNC, C_RENAME, C_RENAMEAT,
       C_FTRUNCATE, C_UNLINK, C_UNLINKAT, C_COUNT };

static const char *const call_names[C_COUNT] = {
    "open", "openat", "write", "pwrite", "fsync", "fdatasync", "rename", "renameat",
    "ftruncate", "unlink", "unlinkat",
};

/* The shim's own state: it lives in the test process only. */
static unsigned long counts[C_COUNT];
static int log_fd = -2; /* -2: not looked up yet, -1: no log */
static int fault_call = -2;
static unsigned long fault_nth = 1;
static int fault_errno = EIO;
static int fault_short;
static int pause_call = -1;
static unsigned long pause_nth;
static const char *pause_dir;

/* The next definition of a symbol: libc's, or a sanitizer's interceptor. */
static void *next_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p == NULL) {
        fprintf(stderr, "fault_shim: no next definition of %s\n", name);
        abort();
    }
    return p;
}

static int parse_errno(const char *s)
{
    static const struct { const char *name; int value; } known[] = {
        {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EACCES", EACCES}, {"EROFS", EROFS},
        {"EDQUOT", EDQUOT}, {"EPERM", EPERM}, {"EINTR", EINTR},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(s, known[i].name) == 0)
            return known[i].value;
    int v = atoi(s);
    return v > 0 ? v : EIO;
}

static void configure(void)
{
    if (fault_call != -2)
        return;
    fault_call = -1;
    const char *call = getenv("FAULT_CALL"), *nth = getenv("FAULT_NTH");
    const char *e = getenv("FAULT_ERRNO"), *sh = getenv("FAULT_SHORT");
    const char *log = getenv("FAULT_LOG");
    typedef int (*open_fn)(const char *, int, ...);
    open_fn real_open = (open_fn)next_sym("open");
    log_fd = log && *log ? real_open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    for (int i = 0; call && i < C_COUNT; i++)
        if (strcmp(call, call_names[i]) == 0)
            fault_call = i;
    if (nth && atol(nth) > 0)
        fault_nth = (unsigned long)atol(nth);
    if (e)
        fault_errno = parse_errno(e);
    fault_short = sh && strcmp(sh, "1") == 0;
    const char *pc = getenv("FAULT_PAUSE_CALL"), *pn = getenv("FAULT_PAUSE_NTH");
    pause_dir = getenv("FAULT_PAUSE_DIR");
    for (int i = 0; pc && pause_dir && i < C_COUNT; i++)
        if (strcmp(pc, call_names[i]) == 0)
            pause_call = i;
    pause_nth = pn && atol(pn) > 0 ? (unsigned long)atol(pn) : 1;
}

/* Appends one line to the log with the real write (not counted). */
static void log_line(const char *fmt, ...)
{
    if (log_fd < 0)
        return;
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1, buf[n - 1] = '\n';
    typedef ssize_t (*write_fn)(int, const void *, size_t);
    static write_fn real_write;
    if (real_write == NULL)
        real_write = (write_fn)next_sym("write");
    (void)real_write(log_fd, buf, (size_t)n);
}

/* The name of the file a call is about: its path, or the file behind its
 * descriptor. */
static void file_name(int fd, const char *path, char *out, size_t n)
{
    if (path != NULL) {
        snprintf(out, n, "%s", path);
        return;
    }
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, out, n - 1);
    if (k < 0)
        k = 0;
    out[k] = '\0';
}

/* Creates DIR/<mark> and waits (up to a minute) for DIR/<go>. */
static void pause_at(const char *mark, const char *go)
{
    char path[512];
    typedef int (*open_fn)(const char *, int, ...);
    open_fn real_open = (open_fn)next_sym("open");
    snprintf(path, sizeof path, "%s/%s", pause_dir, mark);
    int fd = real_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    snprintf(path, sizeof path, "%s/%s", pause_dir, go);
    for (int i = 0; i < 60000 && access(path, F_OK) != 0; i++)
        usleep(1000);
}

/* After the real call of `c` returned `r`: the pause after it, if chosen. */
static long done(int c, long r)
{
    int saved = errno;
    if (c == pause_call && counts[c] == pause_nth)
        pause_at("after", "go-after");
    errno = saved;
    return r;
}

typedef enum { GO, FAIL, SHORT } verdict;

/* Counts a call of `c` (on `path`, or on descriptor `fd`) and says whether
 * it fails. */
static verdict judge(int c, int fd, const char *path)
{
    configure();
    unsigned long n = ++counts[c];
    if (c == pause_call && n == pause_nth)
        pause_at("before", "go-before");
    verdict v = GO;
    if (c == fault_call && n == fault_nth)
        v = fault_short && (c == C_WRITE || c == C_PWRITE) ? SHORT : FAIL;
    else if (c == fault_call && fault_short && n == fault_nth + 1)
        v = FAIL;
    if (log_fd < 0)
        return v;
    char file[512];
    file_name(fd, path, file, sizeof file);
    if (v == GO)
        log_line("%s %lu %s\n", call_names[c], n, file);
    else if (v == SHORT)
        log_line("fault_shim: %s #%lu %s -> short write\n", call_names[c], n, file);
    else
        log_line("fault_shim: %s #%lu %s -> errno %d\n", call_names[c], n, file, fault_errno);
    return v;
}

/* real_NAME: the next definition of NAME, looked up once. */
#define REAL(name)                              \
    static __typeof__(&name) real_##name;       \
    if (real_##name == NULL)                    \
    real_##name = (__typeof__(&name))next_sym(#name)

/* ---------------------------------------------------------------- opening */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static mode_t open_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

static int do_open(const char *sym, const char *path, int flags, mode_t mode)
{
    if (judge(C_OPEN, -1, path) != GO) {
        errno = fault_errno;
        return -1;
    }
    open_fn real = (open_fn)next_sym(sym);
    return (int)done(C_OPEN, real(path, flags, mode));
}

static int do_openat(const char *sym, int dirfd, const char *path, int flags, mode_t mode)
{
    if (judge(C_OPENAT, -1, path) != GO) {
        errno = fault_errno;
        return -1;
    }
    openat_fn real = (openat_fn)next_sym(sym);
    return (int)done(C_OPENAT, real(dirfd, path, flags, mode));
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return do_open("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return do_open("open64", path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return do_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return do_openat("openat64", dirfd, path, flags, mode);
}

/* ---------------------------------------------------------------- writing */

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    verdict v = judge(C_WRITE, fd, NULL);
    if (v == FAIL) {
        errno = fault_errno;
        return -1;
    }
    return done(C_WRITE, real_write(fd, buf, v == SHORT && n > 1 ? n / 2 : n));
}

static ssize_t do_pwrite(const char *sym, int fd, const void *buf, size_t n, off_t off)
{
    verdict v = judge(C_PWRITE, fd, NULL);
    if (v == FAIL) {
        errno = fault_errno;
        return -1;
    }
    ssize_t (*real)(int, const void *, size_t, off_t) =
        (ssize_t (*)(int, const void *, size_t, off_t))next_sym(sym);
    return done(C_PWRITE, real(fd, buf, v == SHORT && n > 1 ? n / 2 : n, off));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite("pwrite", fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite("pwrite64", fd, buf, n, off);
}

/* ---------------------------------------------------------------- the rest */

int fsync(int fd)
{
    REAL(fsync);
    if (judge(C_FSYNC, fd, NULL) != GO) {
        errno = fault_errno;
        return -1;
    }
    return (int)done(C_FSYNC, real_fsync(fd));
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (judge(C_FDATASYNC, fd, NULL) != GO) {
        errno = fault_errno;
        return -1;
    }
    return (int)done(C_FDATASYNC, real_fdatasync(fd));
}

static int do_ftruncate(const char *sym, int fd, off_t len)
{
    if (judge(C_FTRUNCATE, fd, NULL) != GO) {
        errno = fault_errno;
        return -1;
    }
    int (*real)(int, off_t) = (int (*)(int, off_t))next_sym(sym);
    return (int)done(C_FTRUNCATE, real(fd, len));
}

int ftruncate(int fd, off_t len) { return do_ftruncate("ftruncate", fd, len); }

int ftruncate64(int fd, off_t len) { return do_ftruncate("ftruncate64", fd, len); }

int rename(const char *from, const char *to)
{
    REAL(rename);
    if (judge(C_RENAME, -1, to) != GO) {
        errno = fault_errno;
        return -1;
    }
    return (int)done(C_RENAME, real_rename(from, to));
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    REAL(renameat);
    if (judge(C_RENAMEAT, -1, to) != GO) {
        errno = fault_errno;
        return -1;
    }
    return (int)done(C_RENAMEAT, real_renameat(fromfd, from, tofd, to));
}

int unlink(const char *path)
{
    REAL(unlink);
    if (judge(C_UNLINK, -1, path) != GO) {
        errno = fault_errno;
        return -1;
    }
    return (int)done(C_UNLINK, real_unlink(path));
}

int unlinkat(int dirfd, const char *path, int flags)
{
    REAL(unlinkat);
    if (judge(C_UNLINKAT, -1, path) != GO) {
        errno = fault_errno;
        return -1;
    }
    return (int)done(C_UNLINKAT, real_unlinkat(dirfd, path, flags));
}
