/*
 * lines.c - batched line reading (tide/lines.h).
 *
 * One growing buffer: [consumed | returned lines | unread bytes]. Each call
 * first drops what the previous call returned (moving the unread tail to
 * the front), then scans for newlines, reading more only when fewer than
 * @max complete lines are buffered. Lines point into the buffer, so a call
 * copies each byte at most twice (read, and the tail move).
 */
#define _GNU_SOURCE
#include "tide/lines.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tide/alloc.h"

struct tide_lines {
    int fd;
    bool follow, eof;
    char *name;
    char *buf;
    size_t start, len, cap; /* unread bytes: buf[start, len) */
    uint64_t lineno;        /* lines returned so far */
    tide_line *lines;
    uint32_t lines_cap;
};

tide_lines *tide_lines_fdopen(int fd, const char *name, bool follow, tide_error *e)
{
    tide_lines *r = tide_calloc(1, sizeof *r);
    char *nm = tide_alloc(strlen(name) + 1);
    if (r == NULL || nm == NULL) {
        tide_free(r);
        tide_free(nm);
        tide_err_set(e, TIDE_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    strcpy(nm, name);
    r->fd = fd;
    r->follow = follow;
    r->name = nm;
    return r;
}

tide_lines *tide_lines_open(const char *path, bool follow, tide_error *e)
{
    if (strcmp(path, "-") == 0) return tide_lines_fdopen(0, "<stdin>", follow, e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tide_err_set(e, TIDE_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    tide_lines *r = tide_lines_fdopen(fd, path, follow, e);
    if (r == NULL) close(fd);
    return r;
}

void tide_lines_free(tide_lines *r)
{
    if (r == NULL) return;
    if (r->fd > 0) close(r->fd);
    tide_free(r->name);
    tide_free(r->buf);
    tide_free(r->lines);
    tide_free(r);
}

bool tide_lines_eof(const tide_lines *r)
{
    return r->eof;
}

const char *tide_lines_name(const tide_lines *r)
{
    return r->name;
}

/* Read more bytes after the buffered ones. Returns bytes read (0: none now). */
static ssize_t fill(tide_lines *r, tide_error *e)
{
    if (r->start > 0 && r->start < r->len) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
    } else if (r->start > 0) {
        r->len = r->start = 0;
    }
    if (r->cap - r->len < 4096) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        char *b = tide_realloc(r->buf, cap);
        if (b == NULL) return tide_err_set(e, TIDE_ENOMEM, "%s: out of memory", r->name);
        r->buf = b;
        r->cap = cap;
    }
    ssize_t n;
    do n = read(r->fd, r->buf + r->len, r->cap - r->len);
    while (n < 0 && errno == EINTR);
    if (n < 0) return tide_err_set(e, TIDE_EIO, "%s: %s", r->name, strerror(errno));
    r->len += (size_t)n;
    return n;
}

static int add_line(tide_lines *r, uint32_t i, const char *p, size_t len)
{
    if (i >= r->lines_cap) {
        uint32_t cap = r->lines_cap ? r->lines_cap * 2 : 256;
        tide_line *l = tide_realloc(r->lines, cap * sizeof *l);
        if (l == NULL) return TIDE_ENOMEM;
        r->lines = l;
        r->lines_cap = cap;
    }
    if (len > 0 && p[len - 1] == '\r') len--;
    r->lines[i] = (tide_line){p, (uint32_t)len, ++r->lineno};
    return TIDE_OK;
}

int tide_lines_next(tide_lines *r, uint32_t max, const tide_line **lines, uint32_t *n,
                    tide_error *e)
{
    *n = 0;
    *lines = r->lines;
    size_t scan = r->start; /* where the newline search resumes */
    uint32_t got = 0;
    /* Lines are returned only after every read of this call, since a read
     * may move the buffer: collect their (offset, length) first. */
    size_t first = r->start;
    while (got < max) {
        char *nl = scan < r->len ? memchr(r->buf + scan, '\n', r->len - scan) : NULL;
        if (nl != NULL) {
            got++;
            scan = (size_t)(nl - r->buf) + 1;
            continue;
        }
        if (r->eof) break;
        size_t shift = r->start;
        ssize_t m = fill(r, e);
        if (m < 0) return (int)m;
        scan -= shift;
        first -= shift;
        if (m == 0) {
            if (!r->follow) r->eof = true;
            break;
        }
    }
    /* Non-follow end: the unterminated tail is the last line. */
    bool tail = r->eof && got < max && scan < r->len;
    uint32_t i = 0;
    size_t p = first;
    while (i < got) {
        char *nl = memchr(r->buf + p, '\n', scan - p);
        if (add_line(r, i, r->buf + p, (size_t)(nl - (r->buf + p))) < 0)
            return tide_err_set(e, TIDE_ENOMEM, "%s: out of memory", r->name);
        p = (size_t)(nl - r->buf) + 1;
        i++;
    }
    if (tail) {
        if (add_line(r, i++, r->buf + scan, r->len - scan) < 0)
            return tide_err_set(e, TIDE_ENOMEM, "%s: out of memory", r->name);
        scan = r->len;
    }
    r->start = scan;
    *lines = r->lines;
    *n = i;
    return TIDE_OK;
}

int tide_input_lines(tide_input *in, tide_lines *r, uint32_t max, bool updates, tide_error *e)
{
    const tide_line *l;
    uint32_t n;
    TIDE_TRY(tide_lines_next(r, max, &l, &n, e));
    for (uint32_t i = 0; i < n; i++) {
        uint8_t no[8];
        tide_u64_store(no, l[i].lineno);
        int rc = updates ? tide_input_update(in, l[i].p, l[i].len, no, 8, 1)
                         : tide_input_send(in, l[i].p, l[i].len, no, 8);
        if (rc < 0)
            return tide_err_set(e, rc, "%s: sending line %llu", r->name,
                                (unsigned long long)l[i].lineno);
    }
    if (n > 0) TIDE_TRY(tide_input_advance_to(in, tide_input_epoch(in) + 1));
    return (int)n;
}
