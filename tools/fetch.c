/* Reading a published chain (an `export` directory, served or not) for
 * mirror and witness.  Decision: the server is hostile.  Every file has a
 * size limit known before it is asked for (the format bounds each one), and
 * a body is never buffered past it: libcurl is told the limit
 * (CURLOPT_MAXFILESIZE) and the write callback counts as well, for servers
 * that send no length or lie about it.  A stalled server is cut off by a
 * low-speed limit, one that drips by a deadline per file; redirects are few
 * and stay on http(s).  Every failure is one line naming the URL and what to
 * do.  HTTP lives here, in the tool, so the library does not depend on
 * libcurl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "federation.h"

#define MAX_REDIRECTS 3
#define LOW_SPEED 1024L    /* bytes a second below which a transfer is stalled */
#define FILE_DEADLINE 10L  /* timeouts one file may take in all */
#define USER_AGENT "attestchain/" AC_VERSION_STRING

struct source {
    char *base;   /* directory or URL, without a trailing slash */
    bool http;
    CURL *curl;   /* one handle: its connection is kept between files */
    long timeout; /* seconds */
    uint64_t fetched; /* bytes read in all */
};

bool source_is_url(const char *where)
{
    return strncmp(where, "http://", 7) == 0 || strncmp(where, "https://", 8) == 0;
}

int source_open(const char *where, long timeout, source **out)
{
    source *s = calloc(1, sizeof *s);
    if (s == NULL || (s->base = strdup(where)) == NULL) {
        free(s);
        return fail_msg("out of memory");
    }
    size_t n = strlen(s->base);
    while (n > 1 && s->base[n - 1] == '/')
        s->base[--n] = '\0';
    s->http = source_is_url(where);
    s->timeout = timeout > 0 ? timeout : SOURCE_TIMEOUT;
    if (s->http) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (s->curl = curl_easy_init()) == NULL) {
            source_close(s);
            return fail_msg("%s: cannot start libcurl", where);
        }
    } else {
        struct stat sb;
        if (stat(s->base, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            int st = fail_msg("%s: not a directory or an http(s):// URL of an export", where);
            source_close(s);
            return st;
        }
    }
    *out = s;
    return EXIT_GOOD;
}

void source_close(source *s)
{
    if (s == NULL)
        return;
    if (s->curl != NULL) {
        curl_easy_cleanup(s->curl);
        curl_global_cleanup();
    }
    free(s->base);
    free(s);
}

const char *source_name(const source *s)
{
    return s->base;
}

uint64_t source_fetched(const source *s)
{
    return s->fetched;
}

/* ---------------------------------------------------------------- files */

static int get_file(source *s, const char *path, size_t max, uint8_t **out, size_t *len)
{
    char full[4096];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", s->base, path) >= sizeof full)
        return fail_msg("%s: path too long", s->base);
    if (access(full, F_OK) != 0 && errno == ENOENT)
        return SOURCE_MISSING;
    int st = read_small(full, max, (char **)out, len);
    if (st == EXIT_GOOD)
        s->fetched += *len;
    return st;
}

/* ---------------------------------------------------------------- HTTP */

typedef struct body {
    uint8_t *data;
    size_t len, cap, max;
    bool too_big;
} body;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    body *b = ctx;
    size_t add = size * n;
    if (add > b->max - b->len) {
        b->too_big = true;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    if (b->len + add > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + add)
            cap = cap > b->max / 2 ? b->max + 1 : 2 * cap;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, add);
    b->len += add;
    return add;
}

static const char *status_text(long code)
{
    switch (code) {
    case 401: case 403: return "access denied: the server does not let this client read it";
    case 404: case 410: return "not found: is the URL that of an export directory?";
    case 408: case 504: return "the server timed out; try again later";
    case 429: case 503: return "the server is busy; try again later";
    default: break;
    }
    if (code >= 300 && code < 400)
        return "a redirect that could not be followed (more than a few, or not http(s))";
    if (code >= 500)
        return "the server failed; try again later";
    return "an answer other than 200 OK";
}

static int get_http(source *s, const char *path, size_t max, uint8_t **out, size_t *len)
{
    char url[4096];
    if ((size_t)snprintf(url, sizeof url, "%s/%s", s->base, path) >= sizeof url)
        return fail_msg("%s: URL too long", s->base);
    body b = {.max = max};
    CURL *c = s->curl;
    curl_easy_reset(c);
    bool ok = curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->timeout) == CURLE_OK &&
              /* A stall: under LOW_SPEED bytes a second for the whole
               * timeout; a drip: longer than FILE_DEADLINE timeouts. */
              curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->timeout) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT, FILE_DEADLINE * s->timeout) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, &b) == CURLE_OK;
    if (!ok)
        return fail_msg("%s: libcurl refused an option", url);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    int st = EXIT_GOOD;
    if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        st = fail_msg("%s: larger than the %zu bytes such a file may have; refused", url, max);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        st = fail_msg("%s: the server stalled (under %ld bytes/s for %ld s, or more than %ld s "
                      "in all); try again later, or a longer --timeout", url, LOW_SPEED,
                      s->timeout, FILE_DEADLINE * s->timeout);
    else if (rc == CURLE_TOO_MANY_REDIRECTS)
        st = fail_msg("%s: more than %d redirects", url, MAX_REDIRECTS);
    else if (rc != CURLE_OK)
        st = fail_msg("%s: %s", url, curl_easy_strerror(rc));
    else if (code == 404 || code == 410)
        st = SOURCE_MISSING;
    else if (code != 200)
        st = fail_msg("%s: HTTP %ld: %s", url, code, status_text(code));
    if (st != EXIT_GOOD) {
        free(b.data);
        return st;
    }
    *out = b.data != NULL ? b.data : malloc(1);
    *len = b.len;
    s->fetched += b.len;
    return *out != NULL ? EXIT_GOOD : fail_msg("out of memory");
}

int source_get(source *s, const char *path, size_t max, uint8_t **out, size_t *len)
{
    return s->http ? get_http(s, path, max, out, len) : get_file(s, path, max, out, len);
}

int source_need(source *s, const char *path, size_t max, uint8_t **out, size_t *len)
{
    int st = source_get(s, path, max, out, len);
    if (st == SOURCE_MISSING)
        st = fail_msg("%s/%s: not found: is it an export directory, and complete?", s->base,
                      path);
    return st;
}
