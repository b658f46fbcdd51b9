/*
 * The run: its options, its temporary directory and key, and the report
 * (the header that says on what machine and under what load the table was
 * measured, then the table).
 *
 * Decision: defaults measure at the sizes the targets are stated for
 * (1,000,000 records, a 1 GiB file), and --quick shrinks every size and the
 * rounds together, so a quick run exercises every phase in seconds; the
 * directory must have room for the whole run before anything is measured,
 * so that a full disk never shows up as a slow phase.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
    fputs("usage: bench [--records N] [--file-mb N] [--quick] [--dir DIR] [--tool PATH]\n"
          "             [--single N] [--gets N] [--keep] [--markdown] [--only PHASES]\n"
          "  --records N  records in the big chain (default 1000000; --quick 20000)\n"
          "  --file-mb N  MiB of the file hashed through the tool (default 1024; --quick 64)\n"
          "  --single N   records verified by one thread (default 100000)\n"
          "  --gets N     random gets (default 200000)\n"
          "  --quick      a small, fast run (sizes above, fewer rounds)\n"
          "  --dir DIR    where the temporary directory goes (default $TMPDIR or /var/tmp)\n"
          "  --tool PATH  the attestchain tool (default: ../attestchain beside this program)\n"
          "  --keep       keep the temporary directory\n"
          "  --markdown   print the table in Markdown\n"
          "  --only LIST  run just these phases (comma-separated): durable, batch,\n"
          "               tree_append, verify, open, rebuild, get, export, tree_rebuild,\n"
          "               scale, file; the big chain is built for those that read it\n"
          "Exit status: 0 every target met, 1 a target missed, 2 could not run.\n",
          f);
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (s == NULL || errno != 0 || *end != '\0' || v == 0 || s[0] == '-')
        fatal("%s needs a positive number", opt);
    return v;
}

static void set_defaults(opts *o, bool quick)
{
    o->records = quick ? 20000 : 1000000;
    o->file_mb = quick ? 64 : 1024;
    o->single = quick ? 20000 : 100000;
    o->gets = quick ? 20000 : 200000;
    o->rounds = quick ? 3 : 7;
    o->appends = quick ? 50 : 200;
    const char *t = getenv("TMPDIR");
    o->base = t && *t ? t : "/var/tmp";
}

static void parse_args(opts *o, int argc, char **argv)
{
    bool quick = false;
    for (int i = 1; i < argc; i++)
        quick |= strcmp(argv[i], "--quick") == 0;
    set_defaults(o, quick);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0 || strcmp(a, "--keep") == 0 || strcmp(a, "--markdown") == 0) {
            o->keep |= a[2] == 'k';
            o->markdown |= a[2] == 'm';
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (v == NULL) {
            usage(stderr);
            fatal("unknown option or missing value: %s", a);
        }
        i++;
        if (strcmp(a, "--records") == 0)
            o->records = parse_u64(a, v);
        else if (strcmp(a, "--file-mb") == 0 && parse_u64(a, v) > (1u << 20))
            fatal("--file-mb: at most 1048576");
        else if (strcmp(a, "--file-mb") == 0)
            o->file_mb = parse_u64(a, v);
        else if (strcmp(a, "--single") == 0)
            o->single = parse_u64(a, v);
        else if (strcmp(a, "--gets") == 0)
            o->gets = parse_u64(a, v);
        else if (strcmp(a, "--dir") == 0)
            o->base = v;
        else if (strcmp(a, "--tool") == 0)
            o->tool = v;
        else if (strcmp(a, "--only") == 0)
            o->only = v;
        else
            fatal("unknown option %s (see --help)", a);
    }
    if (o->records < BATCH)
        fatal("--records: at least %d (appends at that size are the comparison)", BATCH);
}

static const char *const phase_names[] = {"durable", "batch",  "tree_append", "build",
                                          "verify",  "open",   "rebuild",     "get",
                                          "export",  "tree_rebuild", "scale", "file"};

/* Every name in --only is a phase's. */
static void check_only(const char *only)
{
    for (const char *p = only; *p != '\0';) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < sizeof phase_names / sizeof *phase_names; i++)
            known |= strlen(phase_names[i]) == n && strncmp(phase_names[i], p, n) == 0;
        if (!known)
            fatal("--only: no phase '%.*s' (see --help)", (int)n, p);
        p += n + (p[n] == ',');
    }
}

static bool listed(const char *only, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = only; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* The big chain is built for every phase that reads it, and the tree's
 * rebuild proves against the checkpoint the export phase signs. */
bool phase_wanted(const bench *b, const char *name)
{
    const char *only = b->o.only;
    if (only == NULL || listed(only, name))
        return true;
    if (strcmp(name, "build") == 0)
        return listed(only, "verify") || listed(only, "open") || listed(only, "rebuild") ||
               listed(only, "get") || listed(only, "export") || listed(only, "tree_rebuild") ||
               listed(only, "scale");
    return strcmp(name, "export") == 0 && listed(only, "tree_rebuild");
}

/* ---------------------------------------------------------------- set-up */

/* The tool beside this program's directory: build/bench/bench -> build/attestchain. */
static void find_tool(bench *b)
{
    if (b->o.tool != NULL) {
        snprintf(b->tool, sizeof b->tool, "%s", b->o.tool);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        fatal("readlink /proc/self/exe: %s", strerror(errno));
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
    }
    join(b->tool, exe, "attestchain");
}

/* A temporary directory with room for everything this run writes. */
static void make_dir(bench *b)
{
    int n = snprintf(b->dir, sizeof b->dir, "%s/acbench.XXXXXX", b->o.base);
    if (n < 0 || n >= (int)sizeof b->dir || mkdtemp(b->dir) == NULL)
        fatal("cannot create a directory in %s: %s", b->o.base, strerror(errno));
    harness_init(b->dir, b->o.keep);
    struct statvfs vfs;
    if (statvfs(b->dir, &vfs) != 0)
        fatal("statvfs %s: %s", b->dir, strerror(errno));
    /* A frame is about 430 bytes; with its index entry and its 2 or so
     * stored hashes in merkle.bin, 600 a record, with room to spare; then
     * the export phase keeps the export of each of its rounds (entry bundles
     * and hash tiles, about 470 a record) and one copy of chain.bin. */
    unsigned exports = (b->o.rounds < EXPORT_ROUNDS ? b->o.rounds : EXPORT_ROUNDS) + 1;
    double need = (double)b->o.records * (600 + 500 * (exports + 1)) +
                  (double)(b->o.file_mb << 20) + 256 * MIB;
    double have = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (have < need)
        fatal("%s has %.0f MB free; this run needs about %.0f MB (use --dir or smaller sizes)",
              b->o.base, have / 1e6, need / 1e6);
}

void bench_start(bench *b, int argc, char **argv)
{
    ac_error err;
    parse_args(&b->o, argc, argv);
    if (b->o.only != NULL)
        check_only(b->o.only);
    if (sodium_init() < 0)
        fatal("sodium_init failed");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    b->cores = cores > 0 ? (unsigned)cores : 1;
    find_tool(b);
    make_dir(b);
    join(b->key_path, b->dir, "key.pem");
    check_ac(ac_key_generate(&b->key, &err), &err, "key");
    check_ac(ac_key_save(b->key, b->key_path, &err), &err, "save key");
    check_ac(ac_meta_new(&b->meta, &err), &err, "metadata");
    check_ac(ac_meta_set_text(b->meta, "source", "bench", &err), &err, "metadata");
}

/* ---------------------------------------------------------------- the report */

static const char *fs_name(const char *path)
{
    struct statfs s;
    if (statfs(path, &s) != 0)
        return "?";
    switch ((unsigned long)s.f_type) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    default: return "other";
    }
}

static void cpu_model(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    snprintf(out, cap, "unknown CPU");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(out, cap, "%s", colon + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    if (f != NULL)
        (void)fclose(f); /* read-only */
}

double load1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

static void print_header(bench *b, double load_start)
{
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    double load_end = load1();
    printf("attestchain %s benchmark: %u online cores (%s), %s in %s\n", AC_VERSION_STRING,
           b->cores, cpu, fs_name(b->dir), b->o.base);
    printf("%" PRIu64 " records of %zu bytes (%.0f MB chain), %" PRIu64
           " MiB file; %u rounds, medians; load average %.2f before, %.2f after\n\n",
           b->o.records, b->frame, (double)b->big_bytes / 1e6, b->o.file_mb, b->o.rounds,
           load_start, load_end);
    /* Other work on the machine takes cores and disk from one side of a
     * ratio more than from the other: say so rather than let it pass. */
    if (load_start > 0.5 || load_end > 1.5)
        note(b, "the machine was busy with other work during this run: the ratios are less "
                "reliable than on an idle machine");
}

int bench_finish(bench *b, double t0, double load_start)
{
    print_header(b, load_start);
    print_table(&b->t, b->o.markdown);
    bool failed = false;
    for (size_t i = 0; i < b->t.nrows; i++)
        failed |= b->t.rows[i].v == V_FAIL;
    printf("\n%s in %.0f s\n", failed ? "some targets MISSED" : "every target met", now_s() - t0);
    ac_key_free(b->key);
    ac_meta_free(b->meta);
    if (fflush(stdout) != 0 || ferror(stdout))
        fatal("cannot write the table: %s", strerror(errno));
    cleanup();
    return failed ? 1 : 0;
}
