/*
 * test_datalog_oracle.c - random schemas, facts (with retractions) and
 * queries (joins, constants, predicates, functions, not, or, recursive and
 * mutually recursive rules, aggregates with and without :with) run through
 * tide-datalog at W=1, W=2 and 2 processes; after every transaction the
 * accumulated diffs of every query must equal the answer of a naive
 * bottom-up evaluation written here. TIDE_SEED=n replays a seed.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster_run.h"

#define NA  3 /* attributes */
#define NE  6 /* entities and values 1..NE */
#define NQ  12
#define NTX 6

typedef struct world {
    bool f[NA][NE + 1][NE + 1];
} world;

typedef struct query {
    int tmpl, i, j, c;
} query;

/* An answer: a set of tuples printed as "a,b". */
typedef struct answer {
    char t[64][32];
    int n;
} answer;

static void add(answer *a, const char *s)
{
    for (int k = 0; k < a->n; k++)
        if (!strcmp(a->t[k], s)) return;
    if (a->n < 64) snprintf(a->t[a->n++], 32, "%s", s);
}

static void closure(const world *w, int i, int j, bool p[NE + 1][NE + 1], bool q[NE + 1][NE + 1])
{
    /* naive bottom-up: p = ai ∪ ai∘q, q = aj ∪ aj∘p (j == i: plain transitive closure) */
    memset(p, 0, sizeof(bool) * (NE + 1) * (NE + 1));
    memset(q, 0, sizeof(bool) * (NE + 1) * (NE + 1));
    for (bool changed = true; changed;) {
        changed = false;
        for (int x = 1; x <= NE; x++)
            for (int y = 1; y <= NE; y++) {
                bool np = w->f[i][x][y], nq = w->f[j][x][y];
                for (int z = 1; z <= NE; z++) {
                    np |= w->f[i][x][z] && q[z][y];
                    nq |= w->f[j][x][z] && p[z][y];
                }
                if (np && !p[x][y]) p[x][y] = changed = true;
                if (nq && !q[x][y]) q[x][y] = changed = true;
            }
    }
}

static void naive(const world *w, const query *q, answer *a)
{
    char s[32];
    a->n = 0;
    int i = q->i, j = q->j, c = q->c;
    switch (q->tmpl) {
    case 0: /* join */
        for (int x = 1; x <= NE; x++)
            for (int y = 1; y <= NE; y++)
                for (int z = 1; z <= NE; z++)
                    if (w->f[i][x][y] && w->f[j][y][z]) {
                        snprintf(s, 32, "%d,%d", x, z);
                        add(a, s);
                    }
        break;
    case 1: /* constant */
        for (int x = 1; x <= NE; x++)
            if (w->f[i][x][c]) {
                snprintf(s, 32, "%d", x);
                add(a, s);
            }
        break;
    case 2: /* predicate */
        for (int x = 1; x <= NE; x++)
            for (int y = 1; y < c && y <= NE; y++)
                if (w->f[i][x][y]) {
                    snprintf(s, 32, "%d,%d", x, y);
                    add(a, s);
                }
        break;
    case 3: /* not */
        for (int x = 1; x <= NE; x++)
            for (int y = 1; y <= NE; y++) {
                bool has = false;
                for (int z = 1; z <= NE; z++) has |= w->f[j][y][z];
                if (w->f[i][x][y] && !has) {
                    snprintf(s, 32, "%d,%d", x, y);
                    add(a, s);
                }
            }
        break;
    case 4:   /* recursion */
    case 8: { /* mutual recursion */
        bool p[NE + 1][NE + 1], qq[NE + 1][NE + 1];
        closure(w, i, q->tmpl == 4 ? i : j, p, qq);
        for (int x = 1; x <= NE; x++)
            for (int y = 1; y <= NE; y++)
                if (p[x][y]) {
                    snprintf(s, 32, "%d,%d", x, y);
                    add(a, s);
                }
        break;
    }
    case 5:  /* count per group */
    case 11: /* max, min per group */
        for (int x = 1; x <= NE; x++) {
            int n = 0, mx = 0, mn = 0;
            for (int y = 1; y <= NE; y++)
                if (w->f[i][x][y]) {
                    if (!n) mn = y;
                    n++;
                    mx = y;
                }
            if (!n) continue;
            if (q->tmpl == 5)
                snprintf(s, 32, "%d,%d", x, n);
            else
                snprintf(s, 32, "%d,%d,%d", x, mx, mn);
            add(a, s);
        }
        break;
    case 6:   /* sum, set semantics: distinct values */
    case 7: { /* sum with :with ?x: the bag of (x, y) */
        int sum = 0, n = 0;
        for (int y = 1; y <= NE; y++) {
            int k = 0;
            for (int x = 1; x <= NE; x++) k += w->f[i][x][y];
            if (k) n++;
            sum += q->tmpl == 6 ? (k ? y : 0) : k * y;
        }
        if (n) {
            snprintf(s, 32, "%d", sum);
            add(a, s);
        }
        break;
    }
    case 9: /* or */
        for (int x = 1; x <= NE; x++)
            if (w->f[i][x][c] || w->f[j][x][c]) {
                snprintf(s, 32, "%d", x);
                add(a, s);
            }
        break;
    case 10: /* function binding */
        for (int x = 1; x <= NE; x++)
            for (int y = 1; y <= NE; y++)
                for (int z = 1; z <= NE; z++)
                    if (w->f[i][x][y] && w->f[j][x][z]) {
                        snprintf(s, 32, "%d,%d", x, y + z);
                        add(a, s);
                    }
        break;
    }
}

static void query_text(const query *q, char *out, size_t len)
{
    int i = q->i, j = q->j, c = q->c;
    switch (q->tmpl) {
    case 0:
        snprintf(out, len, "'[:find ?x ?z :where [?x :a%d ?y] [?y :a%d ?z]]", i, j);
        break;
    case 1:
        snprintf(out, len, "'[:find ?x :where [?x :a%d %d]]", i, c);
        break;
    case 2:
        snprintf(out, len, "'[:find ?x ?y :where [?x :a%d ?y] [(< ?y %d)]]", i, c);
        break;
    case 3:
        snprintf(out, len, "'[:find ?x ?y :where [?x :a%d ?y] (not [?y :a%d _])]", i, j);
        break;
    case 4:
        snprintf(
            out, len,
            "'[:find ?x ?y :where (r ?x ?y)] '[[(r ?x ?y) [?x :a%d ?y]] [(r ?x ?y) [?x :a%d ?z] "
            "(r ?z ?y)]]",
            i, i);
        break;
    case 5:
        snprintf(out, len, "'[:find ?x (count ?y) :where [?x :a%d ?y]]", i);
        break;
    case 6:
        snprintf(out, len, "'[:find (sum ?y) :where [?x :a%d ?y]]", i);
        break;
    case 7:
        snprintf(out, len, "'[:find (sum ?y) :with ?x :where [?x :a%d ?y]]", i);
        break;
    case 8:
        snprintf(
            out, len,
            "'[:find ?x ?y :where (p ?x ?y)] '[[(p ?x ?y) [?x :a%d ?y]] [(p ?x ?y) [?x :a%d ?z] "
            "(q ?z ?y)] [(q ?x ?y) [?x :a%d ?y]] [(q ?x ?y) [?x :a%d ?z] (p ?z ?y)]]",
            i, i, j, j);
        break;
    case 9:
        snprintf(out, len, "'[:find ?x :where (or [?x :a%d %d] [?x :a%d %d])]", i, c, j, c);
        break;
    case 10:
        snprintf(out, len, "'[:find ?x ?s :where [?x :a%d ?y] [?x :a%d ?z] [(add ?y ?z) ?s]]", i,
                 j);
        break;
    case 11:
        snprintf(out, len, "'[:find ?x (max ?y) (min ?y) :where [?x :a%d ?y]]", i);
        break;
    }
}

/* Accumulated diffs per (query, tuple). */
typedef struct acc {
    int q[4096];
    char t[4096][32];
    long n[4096];
    int len;
} acc;

static void acc_add(acc *a, int q, const char *t, long d)
{
    for (int k = 0; k < a->len; k++)
        if (a->q[k] == q && !strcmp(a->t[k], t)) {
            a->n[k] += d;
            return;
        }
    cr_assert(a->len < 4096);
    a->q[a->len] = q;
    snprintf(a->t[a->len], 32, "%s", t);
    a->n[a->len++] = d;
}

static void check(const acc *a, int q, const answer *want, uint64_t seed, int time)
{
    for (int k = 0; k < a->len; k++) {
        if (a->q[k] != q || a->n[k] == 0) continue;
        bool in = false;
        for (int m = 0; m < want->n; m++) in |= !strcmp(want->t[m], a->t[k]);
        cr_assert(in && a->n[k] == 1,
                  "seed %llu q%d time %d: tuple (%s) has count %ld, expected %d",
                  (unsigned long long)seed, q, time, a->t[k], a->n[k], in);
    }
    for (int m = 0; m < want->n; m++) {
        bool found = false;
        for (int k = 0; k < a->len; k++)
            found |= a->q[k] == q && a->n[k] == 1 && !strcmp(a->t[k], want->t[m]);
        cr_assert(found, "seed %llu q%d time %d: missing tuple (%s)", (unsigned long long)seed, q,
                  time, want->t[m]);
    }
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void one(uint64_t seed, int procs, int workers)
{
    uint64_t s = seed * 2654435761ULL + 1;
    query qs[NQ];
    world states[NTX + 1];
    memset(&states[0], 0, sizeof states[0]);
    char path[64];
    snprintf(path, sizeof path, "/tmp/dl_oracle_%d_%llu.edn", getpid(), (unsigned long long)seed);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "(create-db {");
    for (int a = 0; a < NA; a++) fprintf(f, ":a%d {:db/valueType :Number} ", a);
    fprintf(f, "})\n");
    /* some facts before the queries, then the queries, then more transactions */
    world w = {0};
    for (int t = 0; t <= NTX; t++) {
        if (t == 1) {
            for (int k = 0; k < NQ; k++) {
                qs[k] = (query){(int)(rng(&s) % 12), (int)(rng(&s) % NA), (int)(rng(&s) % NA),
                                1 + (int)(rng(&s) % NE)};
                char text[512];
                query_text(&qs[k], text, sizeof text);
                fprintf(f, "(register-query \"q%d\" %s)\n", k, text);
            }
        }
        fprintf(f, "(transact [");
        int n = 3 + (int)(rng(&s) % 8);
        for (int k = 0; k < n; k++) {
            int a = (int)(rng(&s) % NA), x = 1 + (int)(rng(&s) % NE), y = 1 + (int)(rng(&s) % NE);
            if (w.f[a][x][y] && rng(&s) % 2) {
                fprintf(f, "[:db/retract %d :a%d %d] ", x, a, y);
                w.f[a][x][y] = false;
            } else {
                fprintf(f, "[:db/add %d :a%d %d] ", x, a, y);
                w.f[a][x][y] = true;
            }
        }
        if (t == NTX) { /* retract every value of one (e, a) */
            int a = (int)(rng(&s) % NA), x = 1 + (int)(rng(&s) % NE);
            fprintf(f, "[:db/retract %d :a%d]", x, a);
            for (int y = 1; y <= NE; y++) w.f[a][x][y] = false;
        }
        fprintf(f, "])\n");
        states[t] = w;
    }
    fclose(f);
    char *out;
    if (procs == 1) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "timeout 60 %s/tide-datalog run %s --json -w %d", TIDE_BUILD_DIR,
                 path, workers);
        FILE *p = popen(cmd, "r");
        size_t cap = 1 << 20, len = 0, k;
        out = malloc(cap);
        while ((k = fread(out + len, 1, cap - len - 1, p)) > 0) len += k;
        out[len] = 0;
        cr_assert_eq(pclose(p), 0, "seed %llu: tide-datalog failed on %s (kept)",
                     (unsigned long long)seed, path);
    } else {
        tide_test_cluster c;
        const char *args[] = {"run", path, "--json", NULL};
        cr_assert_eq(tide_test_cluster_start(&c, (uint32_t)procs, (uint32_t)workers, 10000,
                                             tide_test_bin("tide-datalog"), args),
                     0);
        if (tide_test_cluster_wait(&c, 60000) != 0) {
            char *e0 = tide_test_slurp(c.err[0]), *e1 = tide_test_slurp(c.err[1]);
            cr_log_error("seed %llu: cluster failed (codes %d %d)\n%s\n%s",
                         (unsigned long long)seed, tide_test_cluster_code(&c, 0),
                         tide_test_cluster_code(&c, 1), e0, e1);
            free(e0);
            free(e1);
            tide_test_cluster_cleanup(&c);
            cr_assert_fail("seed %llu: cluster failed", (unsigned long long)seed);
        }
        out = tide_test_cluster_stdout(&c);
        tide_test_cluster_cleanup(&c);
    }
    unlink(path);
    /* times: tx 0 at 1, the queries at 2..NQ+1, tx t >= 1 at NQ + 1 + t */
    acc *a = calloc(1, sizeof *a);
    char *line = out;
    int checked_to = 0;
    for (int t = 1; t <= NTX; t++) {
        int time = NQ + 1 + t;
        for (char *l = line; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            json_error_t je;
            char *nl = strchr(l, '\n');
            json_t *o = json_loadb(l, nl ? (size_t)(nl - l) : strlen(l), 0, &je);
            cr_assert(o, "seed %llu: bad output line %.80s", (unsigned long long)seed, l);
            cr_assert_null(json_object_get(o, "error"), "seed %llu: %.200s",
                           (unsigned long long)seed, l);
            int ot = (int)json_integer_value(json_object_get(o, "time"));
            if (ot > time) {
                json_decref(o);
                line = l;
                break;
            }
            int q = atoi(json_string_value(json_object_get(o, "query")) + 1);
            char tup[32] = "";
            json_t *arr = json_object_get(o, "tuple");
            for (size_t k = 0; k < json_array_size(arr); k++) {
                char num[16];
                snprintf(num, sizeof num, "%s%lld", k ? "," : "",
                         (long long)json_integer_value(json_array_get(arr, k)));
                strcat(tup, num);
            }
            acc_add(a, q, tup, (long)json_integer_value(json_object_get(o, "diff")));
            json_decref(o);
            line = nl ? nl + 1 : NULL;
        }
        for (int k = 0; k < NQ; k++) {
            answer want;
            naive(&states[t], &qs[k], &want);
            check(a, k, &want, seed, time);
        }
        checked_to = t;
    }
    cr_assert_eq(checked_to, NTX);
    free(a);
    free(out);
}

static uint64_t base_seed(void)
{
    const char *e = getenv("TIDE_SEED");
    uint64_t s = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
    fprintf(stderr, "datalog oracle: TIDE_SEED=%llu\n", (unsigned long long)s);
    return s;
}

Test(datalog_oracle, w1)
{
    uint64_t s = base_seed();
    for (int k = 0; k < 6; k++) one(s + (uint64_t)k, 1, 1);
}

Test(datalog_oracle, w2)
{
    uint64_t s = base_seed();
    for (int k = 0; k < 3; k++) one(s + 100 + (uint64_t)k, 1, 2);
}

Test(datalog_oracle, two_processes)
{
    uint64_t s = base_seed();
    one(s + 200, 2, 1);
}
