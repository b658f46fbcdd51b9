/* A one-line progress bar on stderr.  Drawn only on a terminal, only for
 * work that has already taken a moment (short jobs stay silent), and at most
 * a few times a second, so that it costs nothing measurable. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define DELAY_MS 300    /* no bar for work that finishes sooner */
#define INTERVAL_MS 100 /* between redraws */
#define BAR_WIDTH 30

static int64_t now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* cannot happen for CLOCK_MONOTONIC; a stuck clock only delays the bar */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void progress_init(progress *p, const char *label, bool bytes, uint64_t min_total,
                   uint64_t known_total)
{
    memset(p, 0, sizeof *p);
    /* The label may be a file name: keep it short and printable. */
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)label; *s && n + 1 < sizeof p->label; s++)
        p->label[n++] = (*s < 0x20 || *s == 0x7f) ? '?' : (char)*s;
    p->label[n] = '\0';
    p->enabled = isatty(STDERR_FILENO) == 1;
    p->bytes = bytes;
    p->min_total = min_total;
    p->known_total = known_total;
    p->start_ms = now_ms();
}

/* "1:05" or "1:02:05": time left, from the rate so far. */
static void format_left(double secs, char *out, size_t cap)
{
    if (!(secs >= 0) || secs > 99.0 * 3600) {
        snprintf(out, cap, "--:--");
        return;
    }
    unsigned long s = (unsigned long)(secs + 0.5);
    if (s >= 3600)
        snprintf(out, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, cap, "%lu:%02lu", s / 60, s % 60);
}

static void draw(const progress *p, uint64_t done, uint64_t total, int64_t elapsed_ms)
{
    unsigned pct = total ? (unsigned)((double)done * 100.0 / (double)total) : 0;
    unsigned fill = total ? (unsigned)((double)done * BAR_WIDTH / (double)total) : 0;
    char bar[BAR_WIDTH + 1];
    for (unsigned i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[BAR_WIDTH] = '\0';
    double secs = elapsed_ms > 0 ? (double)elapsed_ms / 1000.0 : 0.001;
    double rate = (double)done / secs; /* units per second */
    char left[24];
    format_left(rate > 0 ? (double)(total - done) / rate : -1, left, sizeof left);
    /* Nothing to do if the terminal went away: the bar is only a courtesy.
     * "\033[K" clears what a longer earlier line left behind. */
    if (p->bytes)
        (void)fprintf(stderr, "\r%-.30s [%s] %3u%% %llu/%llu MiB, %.0f MiB/s, %s left\033[K",
                      p->label, bar, pct, (unsigned long long)(done >> 20),
                      (unsigned long long)(total >> 20), rate / (1024.0 * 1024.0), left);
    else
        (void)fprintf(stderr, "\r%-.30s [%s] %3u%% %llu/%llu, %.0f records/s, %s left\033[K",
                      p->label, bar, pct, (unsigned long long)done, (unsigned long long)total,
                      rate, left);
    (void)fflush(stderr);
}

void progress_update(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    if (!p->enabled)
        return;
    /* The library counts up to its range's end, which is not always the
     * chain's size (an open range has no end); the caller may know better. */
    if (p->known_total != 0 && (total == 0 || total > p->known_total))
        total = p->known_total;
    if (total < p->min_total || total == 0)
        return;
    if (done > total)
        done = total;
    int64_t t = now_ms();
    if (t - p->start_ms < DELAY_MS || (p->drawn && t - p->last_ms < INTERVAL_MS && done < total))
        return;
    draw(p, done, total, t - p->start_ms);
    p->drawn = true;
    p->last_ms = t;
}

void progress_end(progress *p)
{
    if (p->drawn)
        (void)fputs("\r\033[K", stderr);
    p->drawn = false;
}
