/*
 * oracle.c - see oracle.h. Deliberately simple: arrays, qsort, linear
 * searches; logs in tests are small.
 */
#define _GNU_SOURCE
#include "oracle.h"

#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void orows_free(orows *o)
{
    for (size_t i = 0; i < o->n; i++) free(o->r[i]);
    free(o->r);
    memset(o, 0, sizeof *o);
}

void orows_add(orows *o, const char *fmt, ...)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 256;
        o->r = realloc(o->r, o->cap * sizeof *o->r);
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&o->r[o->n], fmt, ap) >= 0) o->n++;
    va_end(ap);
}

static int cmps(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void orows_sort(orows *o)
{
    if (o->n > 1) qsort(o->r, o->n, sizeof *o->r, cmps);
}

typedef struct oev {
    char stream[40], type[16], order[24], step[16], mach[40];
    long long off, lamport, ts;
    bool machine, worker, has_order, has_step, has_mach;
    bool out; /* outside the --since window: counts for the offsets only */
} oev;

static void copy_str(json_t *o, const char *k, char *dst, size_t n, bool *has)
{
    json_t *x = json_object_get(o, k);
    if (has) *has = json_is_string(x);
    snprintf(dst, n, "%s", json_is_string(x) ? json_string_value(x) : "");
}

static int by_causal(const void *a, const void *b)
{
    const oev *x = a, *y = b;
    int c = strcmp(x->stream, y->stream);
    if (c) return c;
    if (x->lamport != y->lamport) return x->lamport < y->lamport ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Sums keyed by a string. */
typedef struct sums {
    char **k;
    long long *v;
    size_t n;
} sums;

static long long *sum_at(sums *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->k[i], key) == 0) return &s->v[i];
    s->k = realloc(s->k, (s->n + 1) * sizeof *s->k);
    s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
    s->k[s->n] = strdup(key);
    s->v[s->n] = 0;
    return &s->v[s->n++];
}

static long long *sum_find(sums *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->k[i], key) == 0) return &s->v[i];
    return NULL;
}

static void sums_free(sums *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->k[i]);
    free(s->k);
    free(s->v);
}

void oracle_tables(const char *path, size_t limit, size_t skip, orows *out)
{
    oracle_tables_since(path, limit, skip, 0, out);
}

void oracle_tables_since(const char *path, size_t limit, size_t skip, long long since, orows *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return;
    oev *ev = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0 && lineno < limit) {
        if (++lineno == skip) continue;
        json_t *o = json_loads(line, 0, NULL);
        if (o == NULL) continue;
        if (n == cap) ev = realloc(ev, (cap = cap ? 2 * cap : 1024) * sizeof *ev);
        oev *e = &ev[n++];
        memset(e, 0, sizeof *e);
        copy_str(o, "stream", e->stream, sizeof e->stream, NULL);
        e->off = json_integer_value(json_object_get(o, "offset"));
        e->lamport = json_integer_value(json_object_get(o, "lamport"));
        e->ts = json_integer_value(json_object_get(o, "timestamp"));
        json_t *tags = json_object_get(o, "tags");
        for (size_t i = 0; i < json_array_size(tags); i++) {
            const char *t = json_string_value(json_array_get(tags, i));
            e->machine |= t && strcmp(t, "machineFish") == 0;
            e->worker |= t && strcmp(t, "workerFish") == 0;
        }
        json_t *p = json_object_get(o, "payload");
        copy_str(p, "type", e->type, sizeof e->type, NULL);
        copy_str(p, "order", e->order, sizeof e->order, &e->has_order);
        copy_str(p, "step", e->step, sizeof e->step, &e->has_step);
        copy_str(p, "machine", e->mach, sizeof e->mach, &e->has_mach);
        json_decref(o);
    }
    free(line);
    fclose(f);
    /* The window: every event within @since of the newest timestamp. */
    long long newest = LLONG_MIN;
    for (size_t i = 0; i < n; i++) newest = ev[i].ts > newest ? ev[i].ts : newest;
    for (size_t i = 0; i < n && since > 0; i++) ev[i].out = ev[i].ts < newest - since;
    if (n > 1) qsort(ev, n, sizeof *ev, by_causal);
    sums work = {0}, musage = {0}, links = {0}, done = {0};
    char key[400];
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a; b < n && strcmp(ev[b].stream, ev[a].stream) == 0; b++) {
        }
        long long last_off = -1;
        const oev *latest = NULL;
        sums open = {0};
        for (size_t i = a; i < b; i++) {
            const oev *e = &ev[i];
            last_off = e->off > last_off ? e->off : last_off;
            if (e->out) continue;
            bool ss = strcmp(e->type, "started") == 0 || strcmp(e->type, "stopped") == 0;
            if (e->machine && ss) {
                latest = e;
                if (strcmp(e->type, "started") == 0) {
                    *sum_at(&open, e->order) = e->ts + 1; /* +1: 0 means closed */
                } else {
                    long long *s = sum_find(&open, e->order);
                    if (s && *s) {
                        long long started = *s - 1, dur = e->ts - started;
                        orows_add(out, "usage|%s|%s|%lld|%lld", e->stream, e->order, started, dur);
                        snprintf(key, sizeof key, "%s\x1f%s", e->stream, e->order);
                        *sum_at(&musage, key) += dur;
                        *s = 0;
                    }
                }
            }
            if (e->worker && ss && e->has_order && e->has_step) {
                snprintf(key, sizeof key, "%s\x1f%s", e->order, e->step);
                if (strcmp(e->type, "started") == 0) {
                    *sum_at(&open, key) = e->ts + 1;
                    if (e->has_mach) {
                        char lk[256];
                        snprintf(lk, sizeof lk, "%s\x1f%s\x1f%s", e->mach, e->order, e->step);
                        *sum_at(&links, lk) = 1;
                    }
                } else {
                    long long *s = sum_find(&open, key);
                    if (s && *s) {
                        char wk[256];
                        snprintf(wk, sizeof wk, "%s\x1f%s\x1f%s", e->order, e->step, e->stream);
                        long long *w = sum_find(&work, wk);
                        if (w == NULL) {
                            w = sum_at(&work, wk);
                            *w = 0;
                        }
                        *w += e->ts - (*s - 1);
                        *s = 0;
                    }
                }
            }
            if (e->worker && strcmp(e->type, "finished") == 0 && e->has_order && e->has_step) {
                snprintf(key, sizeof key, "%s\x1f%s", e->order, e->step);
                *sum_at(&done, key) = 1;
            }
        }
        sums_free(&open);
        if (latest) {
            if (strcmp(latest->type, "started") == 0)
                orows_add(out, "dashboard|%s|working|%s|%lld", latest->stream, latest->order,
                          latest->ts);
            else
                orows_add(out, "dashboard|%s|idle|NULL|%lld", latest->stream, latest->ts);
        }
        orows_add(out, "offsets|%s|%lld", ev[a].stream, last_off);
    }
    /* Bookings: workers' own time, and the usage of the step's machines. */
    sums book = {0};
    for (size_t i = 0; i < work.n; i++) *sum_at(&book, work.k[i]) = work.v[i];
    for (size_t i = 0; i < links.n; i++) {
        char m[128], o[128], s[128];
        sscanf(links.k[i], "%127[^\x1f]\x1f%127[^\x1f]\x1f%127s", m, o, s);
        snprintf(key, sizeof key, "%s\x1f%s", m, o);
        long long *u = sum_find(&musage, key);
        if (u == NULL) continue;
        char bk[400];
        snprintf(bk, sizeof bk, "%s\x1f%s\x1f%s", o, s, m);
        *sum_at(&book, bk) = *u;
    }
    for (size_t i = 0; i < book.n; i++) {
        char o[128], s[128], r[128];
        sscanf(book.k[i], "%127[^\x1f]\x1f%127[^\x1f]\x1f%127s", o, s, r);
        snprintf(key, sizeof key, "%s\x1f%s", o, s);
        /* A resource with no time booked (a zero total) has no row. */
        if (sum_find(&done, key) && book.v[i] != 0)
            orows_add(out, "bookings|%s|%s|%s|%lld", o, s, r, book.v[i]);
    }
    sums_free(&work), sums_free(&musage), sums_free(&links), sums_free(&done), sums_free(&book);
    free(ev);
    orows_sort(out);
}

static bool query(sqlite3 *h, const char *table, const char *sql, orows *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) return false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char buf[512];
        int n = snprintf(buf, sizeof buf, "%s", table);
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            n += snprintf(buf + n, sizeof buf - n, "|%s", v ? v : "NULL");
        }
        orows_add(out, "%s", buf);
    }
    sqlite3_finalize(st);
    return true;
}

bool db_tables(const char *db, orows *out)
{
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return false;
    bool ok = query(h, "dashboard", "SELECT * FROM dashboard", out) &&
              query(h, "usage", "SELECT * FROM usage", out) &&
              query(h, "bookings", "SELECT * FROM bookings", out) &&
              query(h, "offsets", "SELECT stream, \"offset\" FROM dashboard_offsets", out);
    /* The three offsets tables must agree. */
    orows a = {0}, b = {0};
    ok = ok && query(h, "o", "SELECT stream, \"offset\" FROM usage_offsets", &a) &&
         query(h, "o", "SELECT stream, \"offset\" FROM bookings_offsets", &b);
    orows_sort(&a), orows_sort(&b);
    ok = ok && orows_equal(&a, &b, "usage_offsets vs bookings_offsets");
    size_t nd = 0;
    for (size_t i = 0; i < out->n; i++) nd += strncmp(out->r[i], "offsets|", 8) == 0;
    if (ok && nd != a.n) {
        fprintf(stderr, "dashboard_offsets has %zu rows, usage_offsets %zu\n", nd, a.n);
        ok = false;
    }
    orows_free(&a), orows_free(&b);
    sqlite3_close(h);
    orows_sort(out);
    return ok;
}

bool orows_equal(const orows *want, const orows *got, const char *what)
{
    size_t i = 0, j = 0, bad = 0;
    while ((i < want->n || j < got->n) && bad < 8) {
        int c = i == want->n ? 1 : j == got->n ? -1 : strcmp(want->r[i], got->r[j]);
        if (c == 0) {
            i++, j++;
            continue;
        }
        fprintf(stderr, "%s: %s %s\n", what, c < 0 ? "missing" : "unexpected",
                c < 0 ? want->r[i] : got->r[j]);
        if (c < 0)
            i++;
        else
            j++;
        bad++;
    }
    return bad == 0;
}

void scratch_dir(char *dir, const char *name)
{
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, 64, "%s/tide_%s_XXXXXX", base, name);
    if (mkdtemp(dir) == NULL) snprintf(dir, 64, "/tmp");
}
