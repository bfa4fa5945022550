/*
 * log.c - the event-log reader (log.h).
 *
 * Each source has one buffer [start, len) of unread bytes filled by read();
 * a JSON record ends at '\n', a MessagePack one where msgpack_unpack_next
 * says so (it reports CONTINUE for an incomplete object, so a growing file
 * is read correctly in follow mode). Offsets are checked against a map
 * stream -> last accepted offset.
 */
#define _GNU_SOURCE
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { FMT_UNKNOWN, FMT_JSON, FMT_MSGPACK };

typedef struct src {
    char *path;
    int fd;
    int fmt;
    bool eof, done;
    char *buf;
    size_t start, len, cap;
    uint64_t recno; /* records (lines) consumed */
} src;

struct fx_log {
    src *s;
    int n, cur;
    bool follow, skip_bad;
    uint64_t skipped;
    fx_smap last;      /* stream -> last accepted offset */
    msgpack_zone zone; /* one event's objects, cleared (not freed) per event */
    msgpack_object obj;
};

void fx_batch_init(fx_batch *b)
{
    memset(b, 0, sizeof *b);
    tide_rowbuf_init(&b->rows);
}

void fx_batch_fini(fx_batch *b)
{
    tide_rowbuf_fini(&b->rows);
    free(b->ends);
    memset(b, 0, sizeof *b);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_src(fx_log *l, const char *path, tide_error *e)
{
    src *s = realloc(l->s, (size_t)(l->n + 1) * sizeof *s);
    if (s == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    l->s = s;
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tide_err_set(e, TIDE_EIO, "%s: %s", path, strerror(errno));
    l->s[l->n++] = (src){.path = strdup(path), .fd = fd};
    return TIDE_OK;
}

/* A directory contributes its regular files, sorted by name. */
static int add_path(fx_log *l, const char *path, tide_error *e)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d == NULL) return tide_err_set(e, TIDE_EIO, "%s: %s", path, strerror(errno));
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') continue;
            char *full;
            if (asprintf(&full, "%s/%s", path, de->d_name) < 0) break;
            if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
                names = realloc(names, (n + 1) * sizeof *names);
                names[n++] = full;
            } else {
                free(full);
            }
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmpstr);
        int rc = TIDE_OK;
        for (size_t i = 0; i < n; i++) {
            if (rc == TIDE_OK) rc = add_src(l, names[i], e);
            free(names[i]);
        }
        free(names);
        return rc;
    }
    return add_src(l, path, e);
}

fx_log *fx_log_open(char *const *paths, int npaths, bool follow, bool skip_bad, tide_error *e)
{
    fx_log *l = calloc(1, sizeof *l);
    if (l == NULL) return NULL;
    l->follow = follow;
    l->skip_bad = skip_bad;
    fx_smap_init(&l->last);
    if (!msgpack_zone_init(&l->zone, 8192)) {
        free(l);
        tide_err_set(e, TIDE_ENOMEM, "out of memory opening the log");
        return NULL;
    }
    for (int i = 0; i < npaths; i++)
        if (add_path(l, paths[i], e) < 0) {
            fx_log_free(l);
            return NULL;
        }
    return l;
}

void fx_log_free(fx_log *l)
{
    if (l == NULL) return;
    for (int i = 0; i < l->n; i++) {
        if (l->s[i].fd > 0) close(l->s[i].fd);
        free(l->s[i].path);
        free(l->s[i].buf);
    }
    free(l->s);
    fx_smap_fini(&l->last);
    msgpack_zone_destroy(&l->zone);
    free(l);
}

uint64_t fx_log_skipped(const fx_log *l)
{
    return l->skipped;
}

bool fx_log_done(const fx_log *l)
{
    for (int i = 0; i < l->n; i++)
        if (!l->s[i].done) return false;
    return true;
}

/* Read more bytes into @s; 0 when none now. */
static ssize_t fill(src *s, tide_error *e)
{
    if (s->start > 0) {
        memmove(s->buf, s->buf + s->start, s->len - s->start);
        s->len -= s->start;
        s->start = 0;
    }
    if (s->cap - s->len < 65536) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 20;
        char *b = realloc(s->buf, cap);
        if (b == NULL) return tide_err_set(e, TIDE_ENOMEM, "%s: out of memory", s->path);
        s->buf = b;
        s->cap = cap;
    }
    ssize_t n;
    do n = read(s->fd, s->buf + s->len, s->cap - s->len);
    while (n < 0 && errno == EINTR);
    if (n < 0) return tide_err_set(e, TIDE_EIO, "%s: %s", s->path, strerror(errno));
    s->len += (size_t)n;
    if (n == 0 && !s->eof) s->eof = true;
    return n;
}

/* Outcome of taking one record from a source. */
enum { REC_NONE, REC_ROW, REC_BAD };

/* Take the next record of @s and parse it into @rb; REC_NONE when none is
 * complete now, or a negative code. */
static int next_record(fx_log *l, src *s, tide_rowbuf *rb, fx_bad *bad, tide_error *e)
{
    for (;;) {
        size_t avail = s->len - s->start;
        if (s->fmt == FMT_UNKNOWN && avail > 0) {
            /* An event is a map: fixmap 0x80-0x8f, map16 0xde, map32 0xdf. */
            unsigned char c = (unsigned char)s->buf[s->start];
            s->fmt = (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf ? FMT_MSGPACK : FMT_JSON;
        }
        if (s->fmt == FMT_JSON && avail > 0) {
            char *p = s->buf + s->start, *nl = memchr(p, '\n', avail);
            if (nl || (s->eof && !l->follow)) {
                size_t n = nl ? (size_t)(nl - p) : avail;
                s->start += nl ? n + 1 : n;
                s->recno++;
                if (n > 0 && p[n - 1] == '\r') n--;
                size_t ws = 0;
                while (ws < n && (p[ws] == ' ' || p[ws] == '\t')) ws++;
                if (ws == n) continue; /* blank lines are not events */
                return fx_event_parse_json(p, n, rb, bad) == TIDE_OK ? REC_ROW : REC_BAD;
            }
        } else if (s->fmt == FMT_MSGPACK && avail > 0) {
            size_t off = 0;
            /* msgpack_unpack_next would free and allocate a zone per event. */
            msgpack_zone_clear(&l->zone);
            msgpack_unpack_return r =
                msgpack_unpack(s->buf + s->start, avail, &off, &l->zone, &l->obj);
            if (r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES) {
                s->start += off;
                s->recno++;
                return fx_event_parse_msgpack(&l->obj, rb, bad) == TIDE_OK ? REC_ROW : REC_BAD;
            }
            if (r == MSGPACK_UNPACK_PARSE_ERROR) {
                s->recno++;
                snprintf(bad->field, sizeof bad->field, "(record)");
                snprintf(bad->msg, sizeof bad->msg, "not MessagePack");
                s->start = s->len; /* cannot resynchronise: drop the rest */
                return REC_BAD;
            }
            if (r == MSGPACK_UNPACK_NOMEM_ERROR)
                return tide_err_set(e, TIDE_ENOMEM, "%s: out of memory", s->path);
            if (s->eof && !l->follow) {
                s->recno++;
                snprintf(bad->field, sizeof bad->field, "(record)");
                snprintf(bad->msg, sizeof bad->msg, "truncated at the end of the file");
                s->start = s->len;
                return REC_BAD;
            }
        }
        if (s->eof && !l->follow && s->start == s->len) {
            s->done = true;
            return REC_NONE;
        }
        ssize_t got = fill(s, e);
        if (got < 0) return (int)got;
        if (got == 0) {
            if (!l->follow) continue; /* eof now set: flush the tail */
            s->eof = false;
            return REC_NONE;
        }
    }
}

/* Check the row's offset against its stream's last. TIDE_OK, or REC_BAD
 * with @bad; *@keep says whether a skip-bad run keeps the event. */
static int check_offset(fx_log *l, const uint8_t *row, uint32_t len, fx_bad *bad, bool *keep)
{
    tide_row r;
    if (tide_row_open(&r, &FX_EVENT, row, len) < 0) return TIDE_ENOMEM;
    uint32_t sl;
    tide_rowbuf scratch;
    tide_rowbuf_init(&scratch);
    const char *s = tide_row_str(&r, EV_STREAM, &sl, &scratch);
    int64_t *last = fx_smap_put(&l->last, s, sl, -1);
    int rc = TIDE_OK;
    *keep = true;
    if (last == NULL) {
        rc = TIDE_ENOMEM;
    } else {
        int64_t off = (int64_t)tide_row_u64(&r, EV_OFFSET);
        if (off != *last + 1) {
            snprintf(bad->field, sizeof bad->field, "offset");
            snprintf(bad->msg, sizeof bad->msg, "%s from %lld to %lld in stream '%.*s'",
                     off <= *last ? "goes backwards" : "skips", (long long)*last, (long long)off,
                     (int)(sl > 64 ? 64 : sl), s);
            rc = REC_BAD;
            *keep = off > *last;
        }
        if (*keep) *last = off;
    }
    tide_rowbuf_fini(&scratch);
    return rc;
}

static int push_end(fx_batch *b)
{
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 1024;
        uint32_t *e = realloc(b->ends, cap * sizeof *e);
        if (e == NULL) return TIDE_ENOMEM;
        b->ends = e;
        b->cap = cap;
    }
    b->ends[b->n++] = b->rows.len;
    return TIDE_OK;
}

int fx_log_next(fx_log *l, uint32_t max, fx_batch *b, tide_error *e)
{
    b->n = 0;
    tide_rowbuf_clear(&b->rows);
    int idle = 0; /* sources in a row with nothing now */
    while (b->n < max && l->n > 0 && idle < l->n) {
        src *s = &l->s[l->cur];
        if (s->done) {
            l->cur = (l->cur + 1) % l->n;
            idle++;
            if (fx_log_done(l)) break;
            continue;
        }
        fx_bad bad;
        uint32_t start = b->rows.len;
        int r = next_record(l, s, &b->rows, &bad, e);
        if (r < 0) return r;
        if (r == REC_NONE) {
            /* Without follow, sources are read one after the other. */
            if (!l->follow && !s->done) continue;
            l->cur = (l->cur + 1) % l->n;
            idle += l->follow;
            continue;
        }
        idle = 0;
        bool keep = false;
        if (r == REC_ROW) {
            r = check_offset(l, b->rows.data + start, b->rows.len - start, &bad, &keep);
            if (r < 0) return tide_err_set(e, r, "out of memory");
        }
        if (r == REC_BAD) {
            if (!l->skip_bad)
                return tide_err_set(e, TIDE_EPARSE, "%s:%llu: %s: %s", s->path,
                                    (unsigned long long)s->recno, bad.field, bad.msg);
            l->skipped++;
            fprintf(stderr, "skipped: %s:%llu: %s: %s\n", s->path, (unsigned long long)s->recno,
                    bad.field, bad.msg);
            if (!keep) {
                b->rows.len = start;
                continue;
            }
        }
        if (push_end(b) < 0) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    }
    return (int)b->n;
}

/* ---- positions, for snapshots (log.h) ------------------------------------------- */

int fx_log_nsources(const fx_log *l)
{
    return l->n;
}

int fx_log_tell(const fx_log *l, fx_log_pos *pos)
{
    for (int i = 0; i < l->n; i++) {
        const src *s = &l->s[i];
        off_t at = s->fd > 0 ? lseek(s->fd, 0, SEEK_CUR) : -1;
        if (at < 0 || (size_t)at < s->len - s->start) return TIDE_EINVAL; /* stdin, a pipe */
        pos[i] = (fx_log_pos){(uint64_t)at - (s->len - s->start), s->recno, s->done};
    }
    return l->cur;
}

int fx_log_seek(fx_log *l, const fx_log_pos *pos, int cur, const fx_smap *last, tide_error *e)
{
    for (int i = 0; i < l->n; i++) {
        src *s = &l->s[i];
        if (s->fd <= 0 || lseek(s->fd, (off_t)pos[i].byte, SEEK_SET) < 0)
            return tide_err_set(e, TIDE_EIO, "%s: cannot seek: %s", s->path, strerror(errno));
        s->start = s->len = 0;
        s->recno = pos[i].recno;
        s->done = pos[i].done;
        s->eof = false;
        s->fmt = FMT_UNKNOWN; /* detected again at the record boundary */
    }
    l->cur = cur >= 0 && cur < l->n ? cur : 0;
    for (uint32_t i = 0; i < last->n; i++) {
        int64_t *v = fx_smap_put(&l->last, last->keys[i], strlen(last->keys[i]), -1);
        if (v == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
        *v = last->vals[i];
    }
    return TIDE_OK;
}

const fx_smap *fx_log_last(const fx_log *l)
{
    return &l->last;
}

const char *fx_log_source(const fx_log *l, int i)
{
    return l->s[i].path;
}
