/* Shared helpers of the libFuzzer targets in fuzz/.
 *
 * Every check a target makes beyond "no crash" goes through FUZZ_CHECK: a
 * broken invariant aborts with a message, which libFuzzer records as a crash
 * and saves the input for. */
#ifndef AC_FUZZ_H
#define AC_FUZZ_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attestchain.h"
#include "internal.h"

/* Set by fuzz/run.sh at build time: the project's tests/vectors. */
#ifndef AC_FUZZ_VECTORS
#define AC_FUZZ_VECTORS "tests/vectors"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "FUZZ INVARIANT BROKEN at %s:%d: %s\n  ", __FILE__, \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* A setup step that cannot fail in a sane environment: abort if it does. */
#define FUZZ_SETUP(cond)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz setup failed at %s:%d: %s (%s)\n", __FILE__,   \
                    __LINE__, #cond, strerror(errno));                           \
            abort();                                                             \
        }                                                                        \
    } while (0)

/* A fresh directory for this process, on tmpfs when there is one: the
 * targets that append fsync, which costs nothing there. */
static inline void fuzz_tmpdir(char *buf, size_t n, const char *tag)
{
    const char *base = getenv("AC_FUZZ_TMP");
    struct stat sb;
    if (base == NULL || *base == '\0')
        base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0
                   ? "/dev/shm"
                   : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int w = snprintf(buf, n, "%s/ac-fuzz-%s-XXXXXX", base, tag);
    FUZZ_SETUP(w > 0 && (size_t)w < n);
    FUZZ_SETUP(mkdtemp(buf) != NULL);
}

/* dir/name into buf. */
static inline void fuzz_path(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "%s/%s", dir, name);
    FUZZ_SETUP(w > 0 && (size_t)w < n);
}

/* Replaces dir/name with exactly these bytes. */
static inline void fuzz_write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    fuzz_path(path, sizeof path, dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FUZZ_SETUP(fd >= 0);
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        FUZZ_SETUP(w > 0);
        p += w, n -= (size_t)w;
    }
    FUZZ_SETUP(close(fd) == 0);
}

/* The whole file into a malloc'd buffer; NULL if it cannot be read. */
static inline uint8_t *fuzz_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < (1 << 26)) {
        size_t n = (size_t)sb.st_size, done = 0;
        buf = malloc(n ? n : 1);
        while (buf != NULL && done < n) {
            ssize_t r = read(fd, buf + done, n - done);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                free(buf);
                buf = NULL;
                break;
            }
            done += (size_t)r;
        }
        *len = n;
    }
    (void)close(fd); /* read-only: nothing to lose */
    return buf;
}

/* Removes every plain file in dir (not dir itself): caches, torn tails,
 * temporaries the library left. */
static inline void fuzz_clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    FUZZ_SETUP(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        fuzz_path(path, sizeof path, dir, e->d_name);
        FUZZ_SETUP(unlink(path) == 0 || errno == ENOENT);
    }
    FUZZ_SETUP(closedir(d) == 0);
}

/* rm -rf of a flat directory the target made. */
static inline void fuzz_remove_dir(const char *dir)
{
    fuzz_clear_dir(dir);
    (void)rmdir(dir); /* best effort at exit */
}

/* Removes one file if it is there. */
static inline void fuzz_unlink(const char *dir, const char *name)
{
    char path[4096];
    fuzz_path(path, sizeof path, dir, name);
    FUZZ_SETUP(unlink(path) == 0 || errno == ENOENT);
}

#endif /* AC_FUZZ_H */
