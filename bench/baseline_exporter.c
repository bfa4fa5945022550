/*
 * baseline_exporter.c - the COST baseline of bench/exporter.c: one thread,
 * no dataflow, computing the exporter's final tables from scratch: read the
 * whole log (same parsers: jansson, msgpack-c), intern strings, sort the
 * events by (stream, lamport, offset), one pass per stream for dashboard,
 * usage and worker intervals, hash maps for the bookings' sums, then one
 * SQLite transaction of prepared inserts (tables and offsets).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <msgpack.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smap.h"

enum { T_OTHER, T_STARTED, T_STOPPED, T_FINISHED };
#define NONE UINT32_MAX

typedef struct bev {
    uint64_t lamport, off;
    int64_t ts;
    uint32_t stream, order, step, mach;
    uint8_t type, machine, worker;
} bev;

typedef struct bl {
    fx_smap names; /* every string -> id */
    bev *ev;
    size_t n, cap;
} bl;

static uint32_t intern(bl *b, const char *s, size_t n)
{
    int64_t *v = fx_smap_put(&b->names, s, n, (int64_t)b->names.n);
    return v ? (uint32_t)*v : NONE;
}

static uint8_t type_of(const char *s, size_t n)
{
    if (n == 7 && memcmp(s, "started", 7) == 0) return T_STARTED;
    if (n == 7 && memcmp(s, "stopped", 7) == 0) return T_STOPPED;
    if (n == 8 && memcmp(s, "finished", 8) == 0) return T_FINISHED;
    return T_OTHER;
}

static bev *push(bl *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1 << 16;
        b->ev = realloc(b->ev, b->cap * sizeof *b->ev);
    }
    bev *e = &b->ev[b->n++];
    memset(e, 0, sizeof *e);
    e->order = e->step = e->mach = NONE;
    return e;
}

static void tag(bev *e, const char *t, size_t n)
{
    e->machine |= n == 11 && memcmp(t, "machineFish", 11) == 0;
    e->worker |= n == 10 && memcmp(t, "workerFish", 10) == 0;
}

static uint32_t jstr(bl *b, json_t *o, const char *k)
{
    json_t *x = json_object_get(o, k);
    return json_is_string(x) ? intern(b, json_string_value(x), json_string_length(x)) : NONE;
}

static void parse_json(bl *b, const char *p, size_t len)
{
    for (const char *end = p + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *o = json_loadb(p, n, 0, NULL);
        p += n + 1;
        if (o == NULL) continue;
        bev *e = push(b);
        e->stream = jstr(b, o, "stream");
        e->off = (uint64_t)json_integer_value(json_object_get(o, "offset"));
        e->lamport = (uint64_t)json_integer_value(json_object_get(o, "lamport"));
        e->ts = json_integer_value(json_object_get(o, "timestamp"));
        json_t *tags = json_object_get(o, "tags");
        for (size_t i = 0; i < json_array_size(tags); i++) {
            json_t *t = json_array_get(tags, i);
            tag(e, json_string_value(t), json_string_length(t));
        }
        json_t *pl = json_object_get(o, "payload"), *ty = json_object_get(pl, "type");
        e->type = type_of(json_string_value(ty), json_string_length(ty));
        e->order = jstr(b, pl, "order");
        e->step = jstr(b, pl, "step");
        e->mach = jstr(b, pl, "machine");
        json_decref(o);
    }
}

static const msgpack_object *mget(const msgpack_object *m, const char *k, size_t kl)
{
    if (m->type != MSGPACK_OBJECT_MAP) return NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *x = &m->via.map.ptr[i].key;
        if (x->via.str.size == kl && memcmp(x->via.str.ptr, k, kl) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

static uint32_t mstr(bl *b, const msgpack_object *m, const char *k)
{
    const msgpack_object *x = mget(m, k, strlen(k));
    return x && x->type == MSGPACK_OBJECT_STR ? intern(b, x->via.str.ptr, x->via.str.size) : NONE;
}

static void parse_msgpack(bl *b, const char *p, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    while (msgpack_unpack_next(&up, p, len, &off) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *o = &up.data;
        bev *e = push(b);
        e->stream = mstr(b, o, "stream");
        e->off = mget(o, "offset", 6)->via.u64;
        e->lamport = mget(o, "lamport", 7)->via.u64;
        e->ts = mget(o, "timestamp", 9)->via.i64;
        const msgpack_object *tags = mget(o, "tags", 4);
        for (uint32_t i = 0; tags && i < tags->via.array.size; i++)
            tag(e, tags->via.array.ptr[i].via.str.ptr, tags->via.array.ptr[i].via.str.size);
        const msgpack_object *pl = mget(o, "payload", 7), *ty = mget(pl, "type", 4);
        e->type = type_of(ty->via.str.ptr, ty->via.str.size);
        e->order = mstr(b, pl, "order");
        e->step = mstr(b, pl, "step");
        e->mach = mstr(b, pl, "machine");
    }
    msgpack_unpacked_destroy(&up);
}

static int by_causal(const void *a, const void *b)
{
    const bev *x = a, *y = b;
    if (x->stream != y->stream) return x->stream < y->stream ? -1 : 1;
    if (x->lamport != y->lamport) return x->lamport < y->lamport ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* ---- a u64 -> i64 map (key 0 reserved: keys are stored + 1) ---- */

typedef struct umap {
    uint64_t *k;
    int64_t *v;
    size_t n, cap;
} umap;

static int64_t *uget(umap *m, uint64_t key, bool add)
{
    if (add && 2 * (m->n + 1) > m->cap) {
        umap g = {calloc(m->cap ? m->cap * 2 : 1024, 8), calloc(m->cap ? m->cap * 2 : 1024, 8), 0,
                  m->cap ? m->cap * 2 : 1024};
        for (size_t i = 0; i < m->cap; i++)
            if (m->k[i]) *uget(&g, m->k[i] - 1, true) = m->v[i];
        free(m->k), free(m->v);
        *m = g;
    }
    if (m->cap == 0) return NULL;
    size_t i = (key * 0x9E3779B97F4A7C15ULL >> 20) & (m->cap - 1);
    for (; m->k[i]; i = (i + 1) & (m->cap - 1))
        if (m->k[i] == key + 1) return &m->v[i];
    if (!add) return NULL;
    m->k[i] = key + 1;
    m->v[i] = 0;
    m->n++;
    return &m->v[i];
}

static uint64_t key3(uint32_t a, uint32_t b, uint32_t c)
{
    return (uint64_t)a << 42 | (uint64_t)b << 21 | c;
}

/* ---- output ---- */

typedef struct out {
    sqlite3 *h;
    sqlite3_stmt *dash, *usage, *book, *offs;
    long rows;
} out;

static void text(sqlite3_stmt *s, int i, const bl *b, uint32_t id)
{
    if (id == NONE)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, b->names.keys[id], -1, SQLITE_STATIC);
}

static void step(out *o, sqlite3_stmt *s)
{
    sqlite3_step(s);
    sqlite3_reset(s);
    o->rows++;
}

long baseline_exporter(const char *path, const char *db);
long baseline_exporter(const char *path, const char *db)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) return -1;
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    bl b = {0};
    fx_smap_init(&b.names);
    unsigned char c0 = got ? (unsigned char)buf[0] : '{';
    if ((c0 >= 0x80 && c0 <= 0x8f) || c0 == 0xde || c0 == 0xdf)
        parse_msgpack(&b, buf, got);
    else
        parse_json(&b, buf, got);
    free(buf);
    qsort(b.ev, b.n, sizeof *b.ev, by_causal);

    out o = {0};
    if (sqlite3_open(db, &o.h) != SQLITE_OK) return -1;
    sqlite3_exec(o.h,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; BEGIN;"
                 "CREATE TABLE dashboard (machine TEXT PRIMARY KEY, state TEXT NOT NULL, "
                 "manufacturing_order TEXT, since INTEGER NOT NULL);"
                 "CREATE TABLE usage (machine TEXT NOT NULL, manufacturing_order TEXT, started "
                 "INTEGER NOT NULL, duration_micros INTEGER NOT NULL);"
                 "CREATE TABLE bookings (manufacturing_order TEXT, step TEXT, resource TEXT, "
                 "duration_micros INTEGER);"
                 "CREATE TABLE offsets (stream TEXT PRIMARY KEY, \"offset\" INTEGER NOT NULL);",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(o.h, "INSERT INTO dashboard VALUES (?,?,?,?)", -1, &o.dash, NULL);
    sqlite3_prepare_v2(o.h, "INSERT INTO usage VALUES (?,?,?,?)", -1, &o.usage, NULL);
    sqlite3_prepare_v2(o.h, "INSERT INTO bookings VALUES (?,?,?,?)", -1, &o.book, NULL);
    sqlite3_prepare_v2(o.h, "INSERT INTO offsets VALUES (?,?)", -1, &o.offs, NULL);

    umap work = {0}, musage = {0}, links = {0}, done = {0}, open = {0};
    for (size_t a = 0, z; a < b.n; a = z) {
        for (z = a; z < b.n && b.ev[z].stream == b.ev[a].stream; z++) {
        }
        const bev *latest = NULL;
        uint64_t last_off = 0;
        uint32_t stream = b.ev[a].stream;
        for (size_t i = a; i < z; i++) {
            const bev *e = &b.ev[i];
            last_off = e->off > last_off ? e->off : last_off;
            bool ss = e->type == T_STARTED || e->type == T_STOPPED;
            if (e->machine && ss) {
                latest = e;
                uint64_t k = key3(stream, e->order, 0);
                if (e->type == T_STARTED) {
                    *uget(&open, k, true) = e->ts + 1;
                } else {
                    int64_t *s = uget(&open, k, false);
                    if (s && *s) {
                        int64_t started = *s - 1, dur = e->ts - started;
                        text(o.usage, 1, &b, stream);
                        text(o.usage, 2, &b, e->order);
                        sqlite3_bind_int64(o.usage, 3, started);
                        sqlite3_bind_int64(o.usage, 4, dur);
                        step(&o, o.usage);
                        *uget(&musage, key3(stream, e->order, 0), true) += dur;
                        *s = 0;
                    }
                }
            }
            if (e->worker && ss && e->order != NONE && e->step != NONE) {
                uint64_t k = key3(stream, e->order, e->step);
                if (e->type == T_STARTED) {
                    *uget(&open, k, true) = e->ts + 1;
                    if (e->mach != NONE) *uget(&links, key3(e->mach, e->order, e->step), true) = 1;
                } else {
                    int64_t *s = uget(&open, k, false);
                    if (s && *s) {
                        *uget(&work, key3(e->order, e->step, stream), true) += e->ts - (*s - 1);
                        *s = 0;
                    }
                }
            }
            if (e->worker && e->type == T_FINISHED && e->order != NONE && e->step != NONE)
                *uget(&done, key3(e->order, e->step, 0), true) = 1;
        }
        if (latest) {
            bool w = latest->type == T_STARTED;
            text(o.dash, 1, &b, stream);
            sqlite3_bind_text(o.dash, 2, w ? "working" : "idle", -1, SQLITE_STATIC);
            text(o.dash, 3, &b, w ? latest->order : NONE);
            sqlite3_bind_int64(o.dash, 4, latest->ts);
            step(&o, o.dash);
        }
        text(o.offs, 1, &b, stream);
        sqlite3_bind_int64(o.offs, 2, (int64_t)last_off);
        step(&o, o.offs);
    }
    const uint64_t M = (1u << 21) - 1;
    for (size_t i = 0; i < work.cap; i++) {
        if (!work.k[i]) continue;
        uint64_t k = work.k[i] - 1;
        uint32_t ord = (uint32_t)(k >> 42), stp = (uint32_t)(k >> 21 & M), res = (uint32_t)(k & M);
        if (!uget(&done, key3(ord, stp, 0), false) || work.v[i] == 0) continue; /* no zero rows */
        text(o.book, 1, &b, ord), text(o.book, 2, &b, stp), text(o.book, 3, &b, res);
        sqlite3_bind_int64(o.book, 4, work.v[i]);
        step(&o, o.book);
    }
    for (size_t i = 0; i < links.cap; i++) {
        if (!links.k[i]) continue;
        uint64_t k = links.k[i] - 1;
        uint32_t m = (uint32_t)(k >> 42), ord = (uint32_t)(k >> 21 & M), stp = (uint32_t)(k & M);
        int64_t *u = uget(&musage, key3(m, ord, 0), false);
        if (!u || *u == 0 || !uget(&done, key3(ord, stp, 0), false)) continue;
        text(o.book, 1, &b, ord), text(o.book, 2, &b, stp), text(o.book, 3, &b, m);
        sqlite3_bind_int64(o.book, 4, *u);
        step(&o, o.book);
    }
    sqlite3_exec(o.h, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(o.dash), sqlite3_finalize(o.usage), sqlite3_finalize(o.book);
    sqlite3_finalize(o.offs);
    sqlite3_close(o.h);
    umap *maps[] = {&work, &musage, &links, &done, &open};
    for (int i = 0; i < 5; i++) free(maps[i]->k), free(maps[i]->v);
    free(b.ev);
    fx_smap_fini(&b.names);
    return o.rows;
}
