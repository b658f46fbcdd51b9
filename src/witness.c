/* Entropy witnesses (section 5 of the format): facts about the writer's
 * machine that tie a record to a boot session, so that a wall clock moved
 * between two appends shows up against the monotonic uptime. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
enum { BOOT_ID_SIZE = 16, UUID_TEXT = 36 };

/* Text keys in deterministic order: shorter first, then bytewise. */
#define K_BOOT_ID "boot_id"       /* 7 */
#define K_UPTIME "uptime_us"      /* 9 */
#define K_CHAIN_SIZE "chain_size" /* 10 */

static uint64_t timespec_us(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000u + (uint64_t)ts->tv_nsec / 1000u;
}

uint64_t ac_now_us(void)
{
    struct timespec ts;
    /* CLOCK_REALTIME cannot fail on Linux; time() is a last resort that
     * still gives a plausible claimed_ts rather than 0. */
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (uint64_t)time(NULL) * 1000000u;
    return timespec_us(&ts);
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into 16 bytes.  0 or -1. */
static int parse_uuid(const char *text, size_t len, uint8_t out[BOOT_ID_SIZE])
{
    if (len != UUID_TEXT)
        return -1;
    char hex[2 * BOOT_ID_SIZE + 1];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_here != (text[i] == '-'))
            return -1;
        if (!dash_here)
            hex[n++] = text[i];
    }
    hex[n] = '\0';
    return ac_hex_decode(hex, out, BOOT_ID_SIZE, NULL) == AC_OK ? 0 : -1;
}

int witness_boot_id(uint8_t out[BOOT_ID_SIZE])
{
    int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[64]; /* 36 characters and a newline: one small read gets it all */
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    (void)close(fd); /* read-only descriptor: nothing to lose */
    if (n <= 0)
        return -1;
    size_t len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    return parse_uuid(buf, len, out);
}

void witness_collect(const uint8_t *boot_id, uint64_t chain_size, det_buf *out)
{
    bool has_boot = boot_id != NULL;
    struct timespec ts;
    bool has_uptime = clock_gettime(CLOCK_BOOTTIME, &ts) == 0;

    /* Whatever the machine cannot tell is left out: section 5 lets a
     * verifier accept any map, and a made-up value would mislead it. */
    det_put_map(out, 1u + (has_boot ? 1u : 0u) + (has_uptime ? 1u : 0u));
    if (has_boot) {
        det_put_text(out, K_BOOT_ID, strlen(K_BOOT_ID));
        det_put_bytes(out, boot_id, BOOT_ID_SIZE);
    }
    if (has_uptime) {
        det_put_text(out, K_UPTIME, strlen(K_UPTIME));
        det_put_uint(out, timespec_us(&ts));
    }
    det_put_text(out, K_CHAIN_SIZE, strlen(K_CHAIN_SIZE));
    det_put_uint(out, chain_size);
}

/* The token of key `key` in the witness map, if present and of type `type`. */
static bool find_value(const ac_rec *rec, const char *key, det_type type, det_token *tok)
{
    size_t pos = 0;
    if (det_map_find(rec->witnesses, rec->witnesses_len, key, &pos) != 0)
        return false;
    if (det_token_read(rec->witnesses, rec->witnesses_len, &pos, tok) != 0)
        return false;
    return tok->type == type;
}

void witness_read(const ac_rec *rec, witness_view *out)
{
    memset(out, 0, sizeof *out);
    out->claimed_ts = rec->claimed_ts;
    if (rec->witnesses == NULL || rec->witnesses_len == 0)
        return;
    /* Other writers may record other facts, or these under other types:
     * a key of an unexpected type is ignored, never an error (section 5). */
    det_token tok;
    if (find_value(rec, K_BOOT_ID, DET_BYTES, &tok) && tok.val == BOOT_ID_SIZE) {
        memcpy(out->boot_id, tok.data, BOOT_ID_SIZE);
        out->has_boot_id = true;
    }
    if (find_value(rec, K_UPTIME, DET_UINT, &tok)) {
        out->uptime_us = tok.val;
        out->has_uptime = true;
    }
    if (find_value(rec, K_CHAIN_SIZE, DET_UINT, &tok)) {
        out->chain_size = tok.val;
        out->has_chain_size = true;
    }
}
