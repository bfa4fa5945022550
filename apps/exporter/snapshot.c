/*
 * snapshot.c - writing and reading exporter snapshots (snapshot.h): the
 * log's part built in memory, the workers' states streamed after it, all
 * checksummed with XXH64; read back whole and checked before use.
 */
#define _GNU_SOURCE
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

static const char MAGIC[8] = {'T', 'I', 'D', 'E', 'S', 'N', 'P', '2'};

/* ---- a growing byte buffer ------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} buf;

static void put(buf *b, const void *v, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, v, n);
    b->len += n;
}

#define PUT(b, v) put((b), &(v), sizeof(v))

static void put_str(buf *b, const char *s, size_t n)
{
    uint32_t l = (uint32_t)n;
    PUT(b, l);
    put(b, s, n);
}

/* ---- writing --------------------------------------------------------------------- */

/* fwrite @n bytes of @p to @f, fed to the checksum @h too. */
static bool out(FILE *f, XXH64_state_t *h, const void *p, size_t n)
{
    XXH64_update(h, p, n);
    return n == 0 || fwrite(p, 1, n, f) == n;
}

int fx_snapshot_write(const char *path, const char *sig, char *const *paths, int nsrc,
                      const fx_log_pos *pos, int cur, const fx_smap *offsets,
                      const fx_window *store, const fx_snap_state *ds, uint64_t *bytes,
                      tide_error *e)
{
    buf b = {0};
    put(&b, MAGIC, sizeof MAGIC);
    uint64_t head = 0; /* patched below: the bytes up to the workers' states */
    PUT(&b, head);
    put_str(&b, sig, strlen(sig));
    int64_t since = store->span, newest = store->newest;
    PUT(&b, since), PUT(&b, newest);
    uint32_t n = (uint32_t)nsrc;
    int32_t c = cur;
    PUT(&b, n), PUT(&b, c);
    for (int i = 0; i < nsrc; i++) {
        uint8_t done = pos[i].done;
        put_str(&b, paths[i], strlen(paths[i]));
        PUT(&b, pos[i].byte), PUT(&b, pos[i].recno), PUT(&b, done);
    }
    PUT(&b, offsets->n);
    for (uint32_t i = 0; i < offsets->n; i++) {
        put_str(&b, offsets->keys[i], strlen(offsets->keys[i]));
        PUT(&b, offsets->vals[i]);
    }
    uint64_t nev = store->n;
    PUT(&b, nev);
    for (uint32_t i = 0; i < store->n; i++) {
        PUT(&b, store->h[i].len);
        put(&b, store->h[i].row, store->h[i].len);
    }
    PUT(&b, ds->workers), PUT(&b, ds->processes), PUT(&b, ds->epoch);
    for (uint32_t w = 0; w < ds->workers; w++) {
        uint64_t len = ds->state_len[w];
        PUT(&b, len);
    }
    if (!b.oom) {
        head = b.len;
        memcpy(b.p + sizeof MAGIC, &head, sizeof head);
    }
    if (b.oom) {
        free(b.p);
        return tide_err_set(e, TIDE_ENOMEM, "snapshot %s: out of memory", path);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    XXH64_state_t h;
    XXH64_reset(&h, 0);
    int rc = TIDE_OK;
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL && out(f, &h, b.p, b.len);
    uint64_t total = b.len;
    for (uint32_t w = 0; ok && w < ds->workers; w++) {
        ok = out(f, &h, ds->state[w], ds->state_len[w]);
        total += ds->state_len[w];
    }
    uint64_t sum = XXH64_digest(&h);
    ok = ok && fwrite(&sum, sizeof sum, 1, f) == 1;
    if (!ok || fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = tide_err_set(e, TIDE_EIO, "snapshot %s: %s", tmp, strerror(errno));
    if (f && fclose(f) != 0 && rc == TIDE_OK)
        rc = tide_err_set(e, TIDE_EIO, "snapshot %s: %s", tmp, strerror(errno));
    free(b.p);
    if (bytes) *bytes = total + sizeof sum;
    return rc;
}

int fx_snapshot_publish(const char *path, tide_error *e)
{
    char tmp[4200], dir[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (rename(tmp, path) != 0)
        return tide_err_set(e, TIDE_EIO, "snapshot %s: rename: %s", path, strerror(errno));
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { /* the rename itself durable */
        (void)fsync(fd);
        close(fd);
    }
    return TIDE_OK;
}

/* ---- reading --------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    size_t len, at;
    bool bad;
} rd;

static void get(rd *r, void *v, size_t n)
{
    if (r->bad || r->len - r->at < n) {
        r->bad = true;
        memset(v, 0, n);
        return;
    }
    memcpy(v, r->p + r->at, n);
    r->at += n;
}

#define GET(r, v) get((r), &(v), sizeof(v))

/* A string, NUL-terminated, malloc'd (NULL when bad). */
static char *get_str(rd *r)
{
    uint32_t n;
    GET(r, n);
    if (r->bad || r->len - r->at < n) {
        r->bad = true;
        return NULL;
    }
    char *s = strndup((const char *)r->p + r->at, n);
    r->at += n;
    if (s == NULL) r->bad = true;
    return s;
}

void fx_snapshot_init(fx_snapshot *s)
{
    memset(s, 0, sizeof *s);
    fx_smap_init(&s->offsets);
    fx_batch_init(&s->events);
}

void fx_snapshot_fini(fx_snapshot *s)
{
    free(s->signature);
    for (int i = 0; i < s->nsrc && s->paths; i++) free(s->paths[i]);
    free(s->paths);
    free(s->pos);
    fx_smap_fini(&s->offsets);
    fx_batch_fini(&s->events);
    free(s->state_off);
    free(s->state_len);
    memset(s, 0, sizeof *s);
}

static int parse(rd *r, fx_snapshot *s)
{
    s->signature = get_str(r);
    GET(r, s->since), GET(r, s->newest);
    uint32_t n;
    int32_t cur;
    GET(r, n), GET(r, cur);
    if (r->bad || n > 1u << 20) return TIDE_EPARSE;
    s->cur = cur;
    s->paths = calloc(n ? n : 1, sizeof *s->paths);
    s->pos = calloc(n ? n : 1, sizeof *s->pos);
    if (!s->paths || !s->pos) return TIDE_ENOMEM;
    s->nsrc = (int)n;
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        uint8_t done;
        s->paths[i] = get_str(r);
        GET(r, s->pos[i].byte), GET(r, s->pos[i].recno), GET(r, done);
        s->pos[i].done = done != 0;
    }
    uint32_t ns;
    GET(r, ns);
    for (uint32_t i = 0; i < ns && !r->bad; i++) {
        char *k = get_str(r);
        int64_t off;
        GET(r, off);
        int64_t *v = k && !r->bad ? fx_smap_put(&s->offsets, k, strlen(k), off) : NULL;
        free(k);
        if (v == NULL) return r->bad ? TIDE_EPARSE : TIDE_ENOMEM;
    }
    uint64_t nev;
    GET(r, nev);
    for (uint64_t i = 0; i < nev && !r->bad; i++) {
        uint32_t len;
        GET(r, len);
        if (r->bad || r->len - r->at < len) return TIDE_EPARSE;
        if (tide_row_put_raw(&s->events.rows, r->p + r->at, len) < 0) return TIDE_ENOMEM;
        r->at += len;
        if (s->events.n == s->events.cap) {
            uint32_t cap = s->events.cap ? s->events.cap * 2 : 1024;
            uint32_t *ends = realloc(s->events.ends, cap * sizeof *ends);
            if (ends == NULL) return TIDE_ENOMEM;
            s->events.ends = ends, s->events.cap = cap;
        }
        s->events.ends[s->events.n++] = s->events.rows.len;
    }
    GET(r, s->workers), GET(r, s->processes), GET(r, s->epoch);
    if (r->bad || s->workers == 0 || s->workers > 4096) return TIDE_EPARSE;
    s->state_off = calloc(s->workers, sizeof *s->state_off);
    s->state_len = calloc(s->workers, sizeof *s->state_len);
    if (s->state_off == NULL || s->state_len == NULL) return TIDE_ENOMEM;
    uint64_t at = sizeof(MAGIC) + sizeof(uint64_t) + r->len; /* the states follow the head */
    for (uint32_t w = 0; w < s->workers && !r->bad; w++) {
        GET(r, s->state_len[w]);
        s->state_off[w] = at;
        at += s->state_len[w];
        if (at < s->state_len[w]) return TIDE_EPARSE; /* wrapped */
    }
    s->end = at;
    return r->bad || r->at != r->len ? TIDE_EPARSE : TIDE_OK;
}

/* Hash the file's bytes [0, @n) (from its start) into *@sum. */
static bool hash_file(FILE *f, uint64_t n, uint64_t *sum)
{
    XXH64_state_t h;
    XXH64_reset(&h, 0);
    uint8_t *chunk = malloc(1 << 20);
    bool ok = chunk != NULL && fseeko(f, 0, SEEK_SET) == 0;
    while (ok && n > 0) {
        size_t k = n < (1u << 20) ? (size_t)n : (1u << 20);
        ok = fread(chunk, 1, k, f) == k;
        if (ok) XXH64_update(&h, chunk, k);
        n -= k;
    }
    free(chunk);
    *sum = XXH64_digest(&h);
    return ok;
}

/*
 * Two passes, the workers' states never in memory: the checksum over the
 * whole file a chunk at a time, then the head (everything but the states)
 * read and parsed; the states' offsets are noted for the workers, who read
 * them from the file themselves (fx_snapshot_open).
 */
int fx_snapshot_read(const char *path, fx_snapshot *s, tide_error *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return tide_err_set(e, TIDE_EIO, "snapshot %s: %s", path, strerror(errno));
    struct stat st;
    int rc = TIDE_OK;
    uint64_t sum = 0, want = 0, head = 0;
    char magic[8];
    uint8_t *p = NULL;
    if (fstat(fileno(f), &st) != 0)
        rc = tide_err_set(e, TIDE_EIO, "snapshot %s: %s", path, strerror(errno));
    else if ((uint64_t)st.st_size < sizeof magic + sizeof head + sizeof sum)
        rc = tide_err_set(e, TIDE_EPARSE, "snapshot %s: truncated", path);
    uint64_t size = (uint64_t)st.st_size;
    if (rc == TIDE_OK && !hash_file(f, size - sizeof sum, &sum))
        rc = tide_err_set(e, TIDE_EIO, "snapshot %s: read error", path);
    if (rc == TIDE_OK && (fread(&want, sizeof want, 1, f) != 1 || want != sum))
        rc = tide_err_set(e, TIDE_EPARSE, "snapshot %s: checksum mismatch", path);
    if (rc == TIDE_OK &&
        (fseeko(f, 0, SEEK_SET) != 0 || fread(magic, sizeof magic, 1, f) != 1 ||
         fread(&head, sizeof head, 1, f) != 1 || memcmp(magic, MAGIC, sizeof magic) != 0 ||
         head > size - sizeof sum || head < sizeof magic + sizeof head))
        rc = tide_err_set(e, TIDE_EPARSE, "snapshot %s: not a snapshot of this version", path);
    size_t hl = rc == TIDE_OK ? (size_t)(head - sizeof magic - sizeof head) : 0;
    if (rc == TIDE_OK && (p = malloc(hl + 1)) == NULL)
        rc = tide_err_set(e, TIDE_ENOMEM, "snapshot %s: out of memory", path);
    if (rc == TIDE_OK && hl > 0 && fread(p, 1, hl, f) != hl)
        rc = tide_err_set(e, TIDE_EIO, "snapshot %s: read error", path);
    if (rc == TIDE_OK) {
        rd r = {p, hl, 0, false};
        rc = parse(&r, s);
        if (rc == TIDE_OK && s->end != size - sizeof sum) rc = TIDE_EPARSE;
        if (rc == TIDE_EPARSE) tide_err_set(e, rc, "snapshot %s: malformed", path);
        if (rc == TIDE_ENOMEM) tide_err_set(e, rc, "snapshot %s: out of memory", path);
    }
    if (rc == TIDE_OK) {
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    free(p);
    fclose(f);
    return rc;
}

FILE *fx_snapshot_open(const char *path, const fx_snapshot *s, uint32_t worker, tide_error *e)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL) {
        tide_err_set(e, TIDE_EIO, "snapshot %s: %s", path, strerror(errno));
        return NULL;
    }
    if (worker >= s->workers || fstat(fileno(f), &st) != 0 || st.st_dev != s->dev ||
        st.st_ino != s->ino || fseeko(f, (off_t)s->state_off[worker], SEEK_SET) != 0) {
        tide_err_set(e, TIDE_EIO, "snapshot %s: replaced while loading, or unreadable", path);
        fclose(f);
        return NULL;
    }
    return f;
}
