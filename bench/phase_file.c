/*
 * The tool on a big file: `attestchain append` of a file of --file-mb MiB
 * against `openssl dgst -sha256` of the same file, and the library's own
 * ac_sha256_file against the same limit.
 *
 * Decision: the tool is timed as a user runs it, a separate process per run
 * (fork + exec, stdout to /dev/null), against another process doing the
 * irreducible work (reading and hashing the file); and a timed run counts
 * only if it did that work: one record per run, each naming the file's
 * SHA-256 as the library computes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

/* ---------------------------------------------------------------- hashing a big file */

/* Runs argv with stdout to /dev/null and stderr to b->dir/cmd.err; seconds. */
static double time_cmd(bench *b, char *const argv[], int *status)
{
    char errpath[PATH_MAX];
    join(errpath, b->dir, "cmd.err");
    (void)fflush(stdout);
    (void)fflush(stderr);
    double t = now_s();
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        enter_child();
        int out = open("/dev/null", O_WRONLY), err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, status, 0) != pid)
        fatal("waitpid: %s", strerror(errno));
    check_stop();
    return now_s() - t;
}

/* The first line the last command wrote to stderr. */
static void cmd_error(bench *b, char *out, size_t cap)
{
    char errpath[PATH_MAX];
    join(errpath, b->dir, "cmd.err");
    FILE *f = fopen(errpath, "r");
    out[0] = '\0';
    if (f != NULL) {
        if (fgets(out, (int)cap, f) != NULL)
            out[strcspn(out, "\n")] = '\0';
        (void)fclose(f); /* read-only */
    }
}

static void make_file(const char *path, uint64_t bytes)
{
    uint8_t *buf = malloc(CHUNK);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (buf == NULL || fd < 0)
        fatal("%s: %s", path, strerror(errno));
    randombytes_buf(buf, CHUNK);
    for (uint64_t done = 0; done < bytes;) {
        size_t n = bytes - done < CHUNK ? (size_t)(bytes - done) : CHUNK;
        buf[0]++; /* no two chunks alike */
        if (write(fd, buf, n) != (ssize_t)n)
            fatal("%s: write: %s", path, strerror(errno));
        done += n;
        check_stop();
    }
    /* Written back now, so that writeback does not run during the timings. */
    if (fdatasync(fd) != 0 || close(fd) != 0)
        fatal("%s: %s", path, strerror(errno));
    free(buf);
}

typedef struct file_ctx {
    bench *b;
    char *openssl_argv[5];
    char *tool_argv[8];
    int tool_status;   /* the first failing wait status, or 0 */
    unsigned tool_runs;
    uint8_t hash[AC_HASH_SIZE]; /* the file's SHA-256, by the library */
} file_ctx;

static double lim_openssl(void *p, unsigned round)
{
    file_ctx *x = p;
    int st;
    (void)round;
    double t = time_cmd(x->b, x->openssl_argv, &st);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fatal("openssl dgst failed (status %d)", st);
    return t;
}

static double lib_tool(void *p, unsigned round)
{
    file_ctx *x = p;
    int st;
    (void)round;
    double t = time_cmd(x->b, x->tool_argv, &st);
    if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && x->tool_status == 0)
        x->tool_status = st ? st : -1;
    x->tool_runs++;
    return t;
}

static double lib_sha256_file(void *p, unsigned round)
{
    file_ctx *x = p;
    ac_error err;
    (void)round;
    double t = now_s();
    check_ac(ac_sha256_file(x->openssl_argv[3], NULL, NULL, x->hash, &err), &err,
             "ac_sha256_file");
    return now_s() - t;
}

/* Whether the tool did the work it was timed on: one record per run, each
 * naming the file's SHA-256.  Empty when it did, else what is wrong. */
static void check_tool_chain(const char *dir, const file_ctx *x, char *why, size_t cap)
{
    ac_chain *c = open_chain(dir, AC_OPEN_READONLY);
    ac_error err;
    ac_state st;
    ac_record *rec;
    why[0] = '\0';
    if (ac_chain_state(c, &st, &err) != AC_OK || ac_chain_head(c, &rec, &err) != AC_OK) {
        snprintf(why, cap, "its chain cannot be read: %s", err.message);
    } else {
        if (st.record_count != x->tool_runs)
            snprintf(why, cap, "%u runs left %" PRIu64 " records", x->tool_runs,
                     st.record_count);
        else if (memcmp(ac_record_content_hash(rec), x->hash, AC_HASH_SIZE) != 0)
            snprintf(why, cap, "its record does not name the file's SHA-256");
        ac_record_free(rec);
    }
    close_chain(c);
}

static void tool_row(bench *b, file_ctx *x, const char *chain, unsigned rounds, double mb)
{
    char op[64], why[600];
    snprintf(op, sizeof op, "tool append of a %" PRIu64 " MiB file", b->o.file_mb);
    if (access(b->tool, X_OK) != 0) {
        row *r = add_row(b, op, V_SKIP);
        snprintf(r->rate, sizeof r->rate, "-");
        note(b, "no tool at %s: build it (make) or pass --tool PATH", b->tool);
        return;
    }
    rates q = alternate(lim_openssl, lib_tool, x, rounds, mb);
    row *r = ratio_row(b, op, q.lib, "MB/s", q.lim, "MB/s openssl dgst", 0.85);
    if (x->tool_status != 0) {
        cmd_error(b, why, sizeof why);
        r->v = V_FAIL;
        note(b, "the tool failed (wait status %d): %s", x->tool_status, why);
        return;
    }
    check_tool_chain(chain, x, why, sizeof why);
    if (why[0] != '\0') {
        r->v = V_FAIL;
        note(b, "the tool exited 0 but %s", why);
    }
}

void phase_file(bench *b)
{
    char file[PATH_MAX], chain[PATH_MAX];
    uint64_t bytes = b->o.file_mb << 20;
    double mb = (double)bytes / 1e6;
    fprintf(stderr, "bench: hashing a %" PRIu64 " MiB file\n", b->o.file_mb);
    join(file, b->dir, "big.file");
    join(chain, b->dir, "toolchain");
    make_file(file, bytes);
    if (mkdir(chain, 0700) != 0)
        fatal("%s: %s", chain, strerror(errno));
    file_ctx x = {.b = b,
                  .openssl_argv = {"openssl", "dgst", "-sha256", file, NULL},
                  .tool_argv = {b->tool, "append", "-C", chain, "-k", b->key_path, file, NULL}};
    unsigned rounds = b->o.rounds < 5 ? b->o.rounds : 5;
    /* The library's own file hashing first: it tells the tool's costs from
     * the library's, and gives the hash the tool's records must name. */
    rates q = alternate(lim_openssl, lib_sha256_file, &x, rounds, mb);
    tool_row(b, &x, chain, rounds, mb);
    ratio_row(b, "ac_sha256_file of that file", q.lib, "MB/s", q.lim, "MB/s openssl dgst", 0);
    unlink_maybe(file);
}
