/*
 * bench/datalog.c - tide-datalog against SQLite recomputing from scratch.
 *
 *   bench_datalog [--nodes N] [--edges M] [--people P] [--changes K] [-w W]
 *
 * 1. reach: the ancestor rule with its root bound (descendants of node 0)
 *    on a random graph of N nodes / M edges: time to the first full answer,
 *    then the median time of a single-edge change (add or remove one random
 *    edge); SQLite: the same answer by a recursive CTE, from scratch.
 * 2. join3: a 3-way join with an aggregate (sum of salaries per country:
 *    person -> city -> country) over about 3P + ... datoms: first answer
 *    and median single-salary change; SQLite: GROUP BY over the same tables.
 * 3. register: registrations per second of small distinct queries.
 * Output: key=value lines (bench/common.h). Defaults: the issue's sizes
 * (10^5 nodes, 3*10^5 edges, ~10^6 datoms).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apps/datalog/engine.h"
#include "common.h"

typedef struct args {
    int64_t nodes, edges, people, changes;
} args;

static double ms_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e6;
}

static edn *parse(const char *s)
{
    char err[256];
    edn *x = edn_parse_one(s, strlen(s), err, sizeof err);
    if (!x) fprintf(stderr, "bench_datalog: %s\n", err);
    return x;
}

static int must(dl_engine *g, int rc, const char *err)
{
    if (rc != 0) fprintf(stderr, "bench_datalog: rc %d %s\n", rc, err);
    return rc == 0 ? 0 : TIDE_EINVAL;
}

/* Only global worker 0 runs SQLite and prints: every worker runs the
 * engine's side (it builds the same dataflows); SQLite runs once. */
static __thread bool lead;

static double sql_time(sqlite3 *db, const char *q, long long *result)
{
    if (!lead) {
        *result = 0;
        return 1;
    }
    uint64_t t0 = bench_now_ns();
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, q, -1, &st, NULL);
    long long acc = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        acc += sqlite3_column_int64(st, sqlite3_column_count(st) - 1);
    sqlite3_finalize(st);
    *result = acc;
    return ms_since(t0);
}

static void sql_exec(sqlite3 *db, const char *q)
{
    if (!lead) return;
    char *e = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &e) != SQLITE_OK) fprintf(stderr, "sqlite: %s\n", e);
    sqlite3_free(e);
}

static int bench_reach(tide_worker *w, const args *a)
{
    dl_engine g;
    TIDE_TRY(dl_engine_init(&g, w));
    g.out = fopen("/dev/null", "w");
    char err[512] = "";
    edn *schema = parse("{:g/edge {:db/valueType :Eid}}");
    TIDE_TRY(must(&g, dl_engine_create(&g, schema, err, sizeof err), err));
    uint64_t s = bench_seed(42);
    size_t m = (size_t)a->edges;
    int64_t *src = malloc(m * 8), *dst = malloc(m * 8);
    int *diff = malloc(m * sizeof *diff);
    for (size_t i = 0; i < m; i++) {
        src[i] = (int64_t)(bench_rng(&s) % (uint64_t)a->nodes);
        dst[i] = (int64_t)(bench_rng(&s) % (uint64_t)a->nodes);
        diff[i] = 1;
    }
    uint64_t t0 = bench_now_ns();
    TIDE_TRY(dl_engine_transact_ints(&g, 0, src, dst, diff, m));
    double load_ms = ms_since(t0);
    edn *q = parse("[:find (count ?y) :where (reach ?y)]");
    edn *rules = parse("[[(reach ?y) [0 :g/edge ?y]] [(reach ?y) (reach ?x) [?x :g/edge ?y]]]");
    t0 = bench_now_ns();
    TIDE_TRY(must(&g, dl_engine_register(&g, "reach", q, rules, err, sizeof err), err));
    double first_ms = ms_since(t0);
    long long reached = 0;
    dl_query *rq = g.queries[g.nqueries - 1];
    (void)rq;
    /* SQLite from scratch */
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sql_exec(db, "CREATE TABLE edge(src INTEGER, dst INTEGER); BEGIN");
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO edge VALUES(?, ?)", -1, &ins, NULL);
    for (size_t i = 0; lead && i < m; i++) {
        sqlite3_bind_int64(ins, 1, src[i]);
        sqlite3_bind_int64(ins, 2, dst[i]);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sql_exec(db, "COMMIT; CREATE INDEX edge_src ON edge(src)");
    const char *cte =
        "WITH RECURSIVE r(n) AS (SELECT dst FROM edge WHERE src = 0 UNION SELECT e.dst "
        "FROM edge e JOIN r ON e.src = r.n) SELECT count(*) FROM r";
    double sql_first = sql_time(db, cte, &reached);
    /* single-edge changes */
    int k = (int)a->changes;
    double *ours = malloc((size_t)k * sizeof *ours), *theirs = malloc((size_t)k * sizeof *theirs);
    for (int i = 0; i < k; i++) {
        int64_t e1, e2;
        int d;
        char sql[160];
        if (i % 2 == 0) { /* add a random edge */
            e1 = (int64_t)(bench_rng(&s) % (uint64_t)a->nodes);
            e2 = (int64_t)(bench_rng(&s) % (uint64_t)a->nodes);
            d = 1;
            snprintf(sql, sizeof sql, "INSERT INTO edge VALUES(%lld, %lld)", (long long)e1,
                     (long long)e2);
        } else { /* remove one of the original edges */
            size_t j = bench_rng(&s) % m;
            e1 = src[j];
            e2 = dst[j];
            d = -1;
            snprintf(sql, sizeof sql,
                     "DELETE FROM edge WHERE rowid IN (SELECT rowid FROM edge WHERE src=%lld AND "
                     "dst=%lld LIMIT 1)",
                     (long long)e1, (long long)e2);
        }
        t0 = bench_now_ns();
        TIDE_TRY(dl_engine_transact_ints(&g, 0, &e1, &e2, &d, 1));
        ours[i] = ms_since(t0);
        sql_exec(db, sql);
        long long r2;
        theirs[i] = sql_time(db, cte, &r2);
    }
    double om = bench_median(ours, (size_t)k), tm = bench_median(theirs, (size_t)k);
    if (lead)
        printf("bench=datalog_reach nodes=%lld edges=%lld workers=%u reached=%lld load_ms=%.1f "
               "first_answer_ms=%.1f sqlite_first_ms=%.1f change_median_ms=%.3f "
               "sqlite_recompute_median_ms=%.1f speedup=%.0f %s\n",
               (long long)a->nodes, (long long)a->edges, g.peers, reached, load_ms, first_ms,
               sql_first, om, tm, tm / om, bench_machine());
    fflush(stdout);
    sqlite3_close(db);
    free(ours);
    free(theirs);
    free(src);
    free(dst);
    free(diff);
    edn_free(schema);
    edn_free(q);
    edn_free(rules);
    TIDE_TRY(dl_engine_close(&g));
    fclose(g.out);
    dl_engine_fini(&g);
    return 0;
}

static int bench_join(tide_worker *w, const args *a)
{
    dl_engine g;
    TIDE_TRY(dl_engine_init(&g, w));
    g.out = fopen("/dev/null", "w");
    char err[512] = "";
    edn *schema = parse("{:p/city {:db/valueType :Eid} :p/salary {:db/valueType :Number} "
                        ":c/country {:db/valueType :Eid}}");
    TIDE_TRY(must(&g, dl_engine_create(&g, schema, err, sizeof err), err));
    uint64_t s = bench_seed(7);
    size_t np = (size_t)a->people, nc = 1000, nk = 50;
    int64_t *e = malloc(np * 8), *v = malloc(np * 8), *sal = malloc(np * 8);
    int *d = malloc(np * sizeof *d);
    /* people 1e6.., cities 1000.., countries 10.. */
    for (size_t i = 0; i < np; i++) {
        e[i] = 1000000 + (int64_t)i;
        v[i] = 1000 + (int64_t)(bench_rng(&s) % nc);
        sal[i] = (int64_t)(bench_rng(&s) % 1000);
        d[i] = 1;
    }
    uint64_t t0 = bench_now_ns();
    TIDE_TRY(dl_engine_transact_ints(&g, 0, e, v, d, np));
    TIDE_TRY(dl_engine_transact_ints(&g, 1, e, sal, d, np));
    int64_t ce[1000], cv[1000];
    int cd[1000];
    for (size_t i = 0; i < nc; i++) {
        ce[i] = 1000 + (int64_t)i;
        cv[i] = 10 + (int64_t)(i % nk);
        cd[i] = 1;
    }
    TIDE_TRY(dl_engine_transact_ints(&g, 2, ce, cv, cd, nc));
    double load_ms = ms_since(t0);
    size_t datoms = dl_db_count(&g.db);
    edn *q = parse(
        "[:find ?k (sum ?s) :with ?p :where [?p :p/city ?c] [?c :c/country ?k] [?p :p/salary ?s]]");
    t0 = bench_now_ns();
    TIDE_TRY(must(&g, dl_engine_register(&g, "join3", q, NULL, err, sizeof err), err));
    double first_ms = ms_since(t0);
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sql_exec(db,
             "CREATE TABLE person(id INTEGER PRIMARY KEY, city INTEGER, salary INTEGER); CREATE "
             "TABLE city(id INTEGER PRIMARY KEY, country INTEGER); BEGIN");
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO person VALUES(?, ?, ?)", -1, &ins, NULL);
    for (size_t i = 0; lead && i < np; i++) {
        sqlite3_bind_int64(ins, 1, e[i]);
        sqlite3_bind_int64(ins, 2, v[i]);
        sqlite3_bind_int64(ins, 3, sal[i]);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_prepare_v2(db, "INSERT INTO city VALUES(?, ?)", -1, &ins, NULL);
    for (size_t i = 0; lead && i < nc; i++) {
        sqlite3_bind_int64(ins, 1, ce[i]);
        sqlite3_bind_int64(ins, 2, cv[i]);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sql_exec(db, "COMMIT");
    const char *agg = "SELECT c.country, sum(p.salary) FROM person p JOIN city c ON p.city = c.id "
                      "GROUP BY c.country";
    long long total;
    double sql_first = sql_time(db, agg, &total);
    int k = (int)a->changes;
    double *ours = malloc((size_t)k * sizeof *ours), *theirs = malloc((size_t)k * sizeof *theirs);
    for (int i = 0; i < k; i++) {
        size_t j = bench_rng(&s) % np;
        int64_t pe[2] = {e[j], e[j]}, pv[2] = {sal[j], sal[j] + 1};
        int pd[2] = {-1, 1};
        sal[j]++;
        t0 = bench_now_ns();
        TIDE_TRY(dl_engine_transact_ints(&g, 1, pe, pv, pd, 2));
        ours[i] = ms_since(t0);
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE person SET salary = salary + 1 WHERE id = %lld",
                 (long long)e[j]);
        sql_exec(db, sql);
        theirs[i] = sql_time(db, agg, &total);
    }
    double om = bench_median(ours, (size_t)k), tm = bench_median(theirs, (size_t)k);
    if (lead)
        printf("bench=datalog_join3 datoms=%zu workers=%u load_ms=%.1f first_answer_ms=%.1f "
               "sqlite_first_ms=%.1f change_median_ms=%.3f sqlite_recompute_median_ms=%.1f "
               "speedup=%.0f %s\n",
               datoms, g.peers, load_ms, first_ms, sql_first, om, tm, tm / om, bench_machine());
    fflush(stdout);
    /* registrations per second: small distinct queries over the same data */
    int nreg = 100;
    t0 = bench_now_ns();
    for (int i = 0; i < nreg; i++) {
        char text[160], name[32];
        snprintf(text, sizeof text, "[:find ?p :where [?p :p/salary %d] [?p :p/city %d]]", i,
                 1000 + i);
        snprintf(name, sizeof name, "r%d", i);
        edn *rq = parse(text);
        TIDE_TRY(must(&g, dl_engine_register(&g, name, rq, NULL, err, sizeof err), err));
        edn_free(rq); /* the engine borrows queries only for composition, unused here */
    }
    double reg_s = ms_since(t0) / 1e3;
    if (lead)
        printf(
            "bench=datalog_register queries=%d workers=%u registrations_per_s=%.1f datoms=%zu %s\n",
            nreg, g.peers, nreg / reg_s, datoms, bench_machine());
    sqlite3_close(db);
    free(ours);
    free(theirs);
    free(e);
    free(v);
    free(sal);
    free(d);
    edn_free(schema);
    edn_free(q);
    TIDE_TRY(dl_engine_close(&g));
    fclose(g.out);
    dl_engine_fini(&g);
    return 0;
}

static int worker(tide_worker *w, void *arg)
{
    const args *a = arg;
    if (tide_worker_index(w) == 0) lead = true;
    TIDE_TRY(bench_reach(w, a));
    return bench_join(w, a);
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "bench_datalog: %s\n", e.msg);
        return 2;
    }
    args a = {100000, 300000, 500000, 21};
    for (int i = 1; i + 1 < argc; i += 2) {
        int64_t v = atoll(argv[i + 1]);
        if (!strcmp(argv[i], "--nodes"))
            a.nodes = v;
        else if (!strcmp(argv[i], "--edges"))
            a.edges = v;
        else if (!strcmp(argv[i], "--people"))
            a.people = v;
        else if (!strcmp(argv[i], "--changes"))
            a.changes = v;
    }
    int rc = tide_execute(&cfg, worker, &a, &e);
    dl_keep_free();
    if (rc < 0) {
        fprintf(stderr, "bench_datalog: %s\n", e.msg);
        return 1;
    }
    return 0;
}
