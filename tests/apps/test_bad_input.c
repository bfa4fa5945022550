/*
 * test_bad_input.c - malformed logs, generated: 240 JSON Lines cases (24
 * kinds of damage: not JSON, each field missing or mistyped, an offset
 * going backwards or skipping, at random lines, random batch sizes, W=1
 * and 2) and 30 MessagePack cases. Each must fail with "FILE:LINE: FIELD:"
 * and leave exactly the batches before the bad one committed (the tables
 * equal the oracle over those lines). With --skip-bad the bad event is
 * counted and the tables equal the oracle without it.
 * Seeds are printed; TIDE_SEED=<n> replays.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "event.h"
#include "export.h"
#include "gen.h"
#include "oracle.h"
#include "tide_test.h"

typedef struct lines {
    char **l;
    size_t n;
} lines;

static void read_lines(const char *path, lines *ls)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    ls->l = NULL, ls->n = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\n")] = 0;
        ls->l = realloc(ls->l, (ls->n + 1) * sizeof *ls->l);
        ls->l[ls->n++] = strdup(line);
    }
    free(line);
    fclose(f);
}

static void free_lines(lines *ls)
{
    for (size_t i = 0; i < ls->n; i++) free(ls->l[i]);
    free(ls->l);
}

static const char *stream_of(const char *line, char *buf, size_t n)
{
    json_t *o = json_loads(line, 0, NULL);
    snprintf(buf, n, "%s", json_string_value(json_object_get(o, "stream")));
    json_decref(o);
    return buf;
}

/* True when a line after @p (1-based) has line p's stream. */
static bool has_later(const lines *ls, size_t p)
{
    char a[64], b[64];
    for (size_t i = p; i < ls->n; i++)
        if (strcmp(stream_of(ls->l[i], a, 64), stream_of(ls->l[p - 1], b, 64)) == 0) return true;
    return false;
}

/* Damage kinds: the edit applied to one event and the field it must name. */
typedef struct kind {
    const char *name, *field;
    const char *key;     /* for deletes / retypes: top-level or "payload.x" */
    const char *replace; /* JSON text of the new value; NULL: delete the key */
    const char *raw;     /* the whole line replaced by this text */
} kind;

static const kind KINDS[] = {
    {"garbage", "(line)", NULL, NULL, "this is not JSON"},
    {"truncated", "(line)", NULL, NULL, NULL},
    {"array", "(line)", NULL, NULL, "[1, 2, 3]"},
    {"no stream", "stream", "stream", NULL, NULL},
    {"no offset", "offset", "offset", NULL, NULL},
    {"no lamport", "lamport", "lamport", NULL, NULL},
    {"no timestamp", "timestamp", "timestamp", NULL, NULL},
    {"no tags", "tags", "tags", NULL, NULL},
    {"no payload", "payload", "payload", NULL, NULL},
    {"no type", "payload.type", "payload.type", NULL, NULL},
    {"offset string", "offset", "offset", "\"7\"", NULL},
    {"offset negative", "offset", "offset", "-3", NULL},
    {"lamport string", "lamport", "lamport", "\"x\"", NULL},
    {"timestamp float", "timestamp", "timestamp", "1.5", NULL},
    {"tags string", "tags", "tags", "\"machineFish\"", NULL},
    {"tag number", "tags", "tags", "[\"machineFish\", 3]", NULL},
    {"payload string", "payload", "payload", "\"started\"", NULL},
    {"type number", "payload.type", "payload.type", "12", NULL},
    {"order number", "payload.order", "payload.order", "4711", NULL},
    {"count string", "payload.count", "payload.count", "\"many\"", NULL},
    {"stream number", "stream", "stream", "5", NULL},
    {"stream empty", "stream", "stream", "\"\"", NULL},
    {"duplicate", "offset", NULL, NULL, NULL},
    {"skip", "offset", NULL, NULL, NULL},
};
#define NKINDS (sizeof KINDS / sizeof *KINDS)

/* Apply kind @k to @line; returns a new string. */
static char *damage(const kind *k, const char *line)
{
    if (k->raw) return strdup(k->raw);
    if (strcmp(k->name, "truncated") == 0) return strndup(line, strlen(line) / 2);
    json_t *o = json_loads(line, 0, NULL);
    json_t *obj = o;
    const char *key = k->key;
    if (strncmp(key, "payload.", 8) == 0) obj = json_object_get(o, "payload"), key += 8;
    if (k->replace)
        json_object_set_new(obj, key, json_loads(k->replace, JSON_DECODE_ANY, NULL));
    else
        json_object_del(obj, key);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/*
 * Build the damaged file for kind @k at line @p (1-based) of @ls; *@bad
 * gets the line the error must name (0: this case cannot be built here).
 */
static void write_case(const char *path, const lines *ls, const kind *k, size_t p, size_t *bad)
{
    FILE *f = fopen(path, "w");
    *bad = p;
    char sa[64], sb[64];
    if (strcmp(k->name, "duplicate") == 0) { /* line p repeats an earlier one of its stream */
        size_t q = 0;
        for (size_t i = p - 1; i-- > 0;)
            if (strcmp(stream_of(ls->l[i], sa, 64), stream_of(ls->l[p - 1], sb, 64)) == 0) {
                q = i + 1;
                break;
            }
        if (q == 0) *bad = 0;
        for (size_t i = 0; i < ls->n; i++) {
            if (i + 1 == p && q) fprintf(f, "%s\n", ls->l[q - 1]);
            fprintf(f, "%s\n", ls->l[i]);
        }
    } else if (strcmp(k->name, "skip") == 0) { /* line p is lost */
        size_t next = 0;
        for (size_t i = p; i < ls->n && !next; i++)
            if (strcmp(stream_of(ls->l[i], sa, 64), stream_of(ls->l[p - 1], sb, 64)) == 0)
                next = i + 1;
        *bad = next ? next - 1 : 0;
        for (size_t i = 0; i < ls->n; i++)
            if (i + 1 != p) fprintf(f, "%s\n", ls->l[i]);
    } else {
        for (size_t i = 0; i < ls->n; i++) {
            if (i + 1 == p) {
                char *d = damage(k, ls->l[i]);
                fprintf(f, "%s\n", d);
                free(d);
            } else {
                fprintf(f, "%s\n", ls->l[i]);
            }
        }
    }
    fclose(f);
}

static int run(const char *log, const char *db, uint32_t workers, uint32_t batch, bool skip_bad,
               fx_export_stats *st, tide_error *e)
{
    fx_export_opts o;
    fx_export_opts_init(&o);
    char *ev[1] = {(char *)log};
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s?synchronous=off", db);
    o.events = ev, o.nevents = 1, o.db = url, o.batch = batch, o.skip_bad = skip_bad;
    o.cfg.workers = workers, o.cfg.pin = 0;
    return fx_export(&o, st, e);
}

static void compare(const char *log, const char *db, size_t limit, size_t skip, const char *what)
{
    orows want = {0}, got = {0};
    oracle_tables(log, limit, skip, &want);
    cr_assert(db_tables(db, &got), "%s: reading the database", what);
    cr_assert(orows_equal(&want, &got, what), "%s: tables differ", what);
    orows_free(&want), orows_free(&got);
}

Test(bad_input, json_lines)
{
    tide_rng r = {tide_test_seed("bad input", 1)};
    char dir[64];
    scratch_dir(dir, "bad");
    char good[300], bad_path[300], db[300];
    snprintf(good, sizeof good, "%s/good.jsonl", dir);
    fx_gen_opts g = {
        .machines = 3, .workers = 3, .orders = 4, .events = 80, .seed = r.s, .skew_ms = 3000};
    FILE *f = fopen(good, "w");
    cr_assert_eq(fx_gen(&g, f), 0);
    fclose(f);
    lines ls;
    read_lines(good, &ls);
    cr_assert_geq(ls.n, 80);
    int cases = 0;
    for (int i = 0; cases < 240; i++) {
        const kind *k = &KINDS[i % NKINDS];
        size_t p = 1 + tide_rng_below(&r, ls.n);
        /* Optional payload fields: damage an event that has them. */
        if (k->key &&
            (strcmp(k->key, "payload.order") == 0 || strcmp(k->key, "payload.count") == 0))
            while (strstr(ls.l[p - 1],
                          strcmp(k->key, "payload.order") == 0 ? "\"order\"" : "\"count\"") == NULL)
                p = 1 + tide_rng_below(&r, ls.n);
        snprintf(bad_path, sizeof bad_path, "%s/bad%d.jsonl", dir, cases);
        snprintf(db, sizeof db, "%s/bad%d.db", dir, cases);
        size_t line;
        write_case(bad_path, &ls, k, p, &line);
        if (line == 0) {
            unlink(bad_path);
            continue;
        }
        uint32_t batch = 1 + (uint32_t)tide_rng_below(&r, 25), w = 1 + (uint32_t)(cases % 2);
        tide_error e = {0};
        fx_export_stats st;
        int rc = run(bad_path, db, w, batch, false, &st, &e);
        char want[400];
        snprintf(want, sizeof want, "%s:%zu: %s: ", bad_path, line, k->field);
        cr_assert_eq(rc, TIDE_EPARSE, "case %d (%s at line %zu): rc %d", cases, k->name, line, rc);
        cr_assert(strncmp(e.msg, want, strlen(want)) == 0, "case %d (%s): got '%s', want '%s...'",
                  cases, k->name, e.msg, want);
        /* Batches before the bad line's batch are committed, nothing after. */
        size_t committed = (line - 1) / batch * batch;
        char what[128];
        snprintf(what, sizeof what, "case %d (%s at line %zu, batch %u)", cases, k->name, line,
                 batch);
        compare(bad_path, db, committed, 0, what);
        /* --skip-bad: counted, and the rest exported without it. */
        if (cases % 4 == 0) {
            char db2[320];
            snprintf(db2, sizeof db2, "%s.skip", db);
            rc = run(bad_path, db2, w, batch, true, &st, &e);
            cr_assert_eq(rc, TIDE_OK, "case %d skip-bad: %s", cases, e.msg);
            /* A lost event (damaged beyond use) leaves a gap before its stream's
             * next one: also counted, and that next event kept. */
            bool gap_kind = strcmp(k->name, "skip") == 0, dup = strcmp(k->name, "duplicate") == 0;
            unsigned want_skipped = 1 + (!gap_kind && !dup && has_later(&ls, p));
            cr_assert_eq(st.skipped, want_skipped, "case %d (%s) skip-bad: %llu skipped, want %u",
                         cases, k->name, (unsigned long long)st.skipped, want_skipped);
            bool kept = gap_kind; /* a forward gap keeps the event */
            compare(bad_path, db2, SIZE_MAX, kept ? 0 : line, "skip-bad");
        }
        cases++;
    }
    free_lines(&ls);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* MessagePack: the good log converted, with one record replaced. */
Test(bad_input, msgpack)
{
    tide_rng r = {tide_test_seed("bad msgpack", 2)};
    char dir[64];
    scratch_dir(dir, "badmp");
    char good[300], path[300], db[300];
    snprintf(good, sizeof good, "%s/good.jsonl", dir);
    fx_gen_opts g = {
        .machines = 3, .workers = 3, .orders = 4, .events = 60, .seed = r.s, .skew_ms = 3000};
    FILE *f = fopen(good, "w");
    cr_assert_eq(fx_gen(&g, f), 0);
    fclose(f);
    lines ls;
    read_lines(good, &ls);
    for (int c = 0; c < 30; c++) {
        int dmg = c % 3; /* 0: a record not a map, 1: offset a string, 2: truncated file */
        /* The first record must be a map for the format to be detected. */
        size_t p = dmg == 2 ? ls.n : 2 + tide_rng_below(&r, ls.n - 1);
        snprintf(path, sizeof path, "%s/bad%d.mp", dir, c);
        snprintf(db, sizeof db, "%s/bad%d.db", dir, c);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        for (size_t i = 0; i < ls.n; i++) {
            tide_rowbuf rb;
            tide_rowbuf_init(&rb);
            fx_bad why;
            cr_assert_eq(fx_event_parse_json(ls.l[i], strlen(ls.l[i]), &rb, &why), TIDE_OK);
            fx_ev ev;
            char buf[2048];
            cr_assert_eq(fx_event_from_row(rb.data, rb.len, &ev, buf, sizeof buf), TIDE_OK);
            if (i + 1 == p && dmg == 0) {
                msgpack_pack_int(&pk, 42);
            } else if (i + 1 == p && dmg == 1) {
                msgpack_pack_map(&pk, 6);
                const char *keys[] = {"stream", "offset", "lamport", "timestamp", "tags"};
                msgpack_pack_str_with_body(&pk, keys[0], 6);
                msgpack_pack_str_with_body(&pk, ev.stream, strlen(ev.stream));
                msgpack_pack_str_with_body(&pk, keys[1], 6);
                msgpack_pack_str_with_body(&pk, "zero", 4);
                msgpack_pack_str_with_body(&pk, keys[2], 7);
                msgpack_pack_uint64(&pk, ev.lamport);
                msgpack_pack_str_with_body(&pk, keys[3], 9);
                msgpack_pack_int64(&pk, ev.timestamp);
                msgpack_pack_str_with_body(&pk, keys[4], 4);
                msgpack_pack_array(&pk, 0);
                msgpack_pack_str_with_body(&pk, "payload", 7);
                msgpack_pack_map(&pk, 1);
                msgpack_pack_str_with_body(&pk, "type", 4);
                msgpack_pack_str_with_body(&pk, ev.type, strlen(ev.type));
            } else {
                fx_event_write_msgpack(&pk, &ev);
            }
            tide_rowbuf_fini(&rb);
        }
        f = fopen(path, "wb");
        size_t size = dmg == 2 ? sb.size - 3 : sb.size;
        fwrite(sb.data, 1, size, f);
        fclose(f);
        msgpack_sbuffer_destroy(&sb);
        uint32_t batch = 1 + (uint32_t)tide_rng_below(&r, 20);
        tide_error e = {0};
        fx_export_stats st;
        int rc = run(path, db, 1 + (uint32_t)(c % 2), batch, false, &st, &e);
        const char *field = dmg == 1 ? "offset" : "(record)";
        char want[400];
        snprintf(want, sizeof want, "%s:%zu: %s: ", path, p, field);
        cr_assert_eq(rc, TIDE_EPARSE, "msgpack case %d: rc %d (%s)", c, rc, e.msg);
        cr_assert(strncmp(e.msg, want, strlen(want)) == 0, "msgpack case %d: got '%s', want '%s'",
                  c, e.msg, want);
        char what[64];
        snprintf(what, sizeof what, "msgpack case %d", c);
        compare(good, db, (p - 1) / batch * batch, 0, what);
    }
    free_lines(&ls);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
