/*
 * test_datalog_plugin.c - business rules with a C action (apps/datalog/
 * plugin.h): random thugs and random earnings changes, one transaction
 * each, under a rule whose C action caps earnings at 1000. Checked here:
 * the final answer is every thug's last earnings capped (computed
 * naively), the action ran once per over-cap assignment on every worker,
 * its string arguments arrive intact, and an unknown :fn is rejected.
 * W=1 and W=2, in process.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/datalog/engine.h"
#include "../../apps/datalog/val.h"
#include "tide/tide.h"
#include "tide_test.h"

#define THUGS   6
#define CHANGES 20

typedef struct pcase {
    char *script;
    int last[THUGS + 1]; /* the thugs' final earnings, uncapped */
    int overs;           /* assignments above the cap */
    long calls;          /* action calls, all workers (atomic) */
    bool names_ok;       /* atomic-ish: cleared on a bad string argument */
    bool ok;
    char *out;
} pcase;

static char *cap_fn(void *ctx, const dl_plugin_val *t, int n, int64_t diff)
{
    pcase *c = ctx;
    __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
    if (n != 3 || t[1].type != DL_PLUGIN_STR || t[1].slen != 5 || memcmp(t[1].s, "thug", 4))
        __atomic_store_n(&c->names_ok, false, __ATOMIC_RELAXED);
    char *tx = NULL;
    if (diff > 0 && asprintf(&tx,
                             "[[:db/retract %lld :thug/earnings %lld] [:db/add %lld "
                             ":thug/earnings 1000]]",
                             (long long)t[0].i, (long long)t[2].i, (long long)t[0].i) < 0)
        return NULL;
    return tx;
}

static int plugin_main(tide_worker *w, void *arg)
{
    pcase *c = arg;
    dl_engine g;
    edn **forms = NULL;
    size_t n = 0;
    char err[512];
    cr_assert(edn_parse_all(c->script, strlen(c->script), &forms, &n, err, sizeof err) == 0, "%s",
              err);
    int rc = dl_engine_init(&g, w);
    size_t outlen = 0;
    FILE *out = NULL;
    if (tide_worker_index(w) == 0) out = open_memstream(&c->out, &outlen);
    g.out = out;
    g.keep_state = true;
    if (rc == 0) rc = dl_engine_script(&g, forms, n);
    if (rc == 0 && tide_worker_index(w) == 0) {
        const dl_query *q = g.queries[0]; /* "earnings" */
        bool good = q->state.n == THUGS;
        for (size_t i = 0; good && i < q->state.n; i++) {
            dl_val v[2];
            good = dl_tuple_split(q->state.d[i].tuple, q->state.d[i].len, v, 2) == 2 &&
                   q->state.d[i].diff == 1;
            int64_t id = good ? dl_val_int(v[0]) : 0, e = good ? dl_val_int(v[1]) : 0;
            good = good && id >= 1 && id <= THUGS && e == (c->last[id] > 1000 ? 1000 : c->last[id]);
            if (!good)
                fprintf(stderr, "thug %lld: %lld, want %d capped\n", (long long)id, (long long)e,
                        c->last[id]);
        }
        c->ok = good;
    }
    if (out) fclose(out);
    dl_engine_fini(&g);
    edn_free_all(forms, n);
    return rc;
}

static void plugin_case(int workers)
{
    pcase c = {.names_ok = true};
    uint64_t seed = tide_test_seed("datalog_plugin", (uint64_t)workers);
    tide_rng r = {seed | 1};
    cr_assert(dl_plugin_action("cap-test", cap_fn, &c) == 0);
    size_t len = 0;
    FILE *s = open_memstream(&c.script, &len);
    fprintf(s, "(create-db {:thug/name {:db/valueType :String} :thug/earnings {:db/valueType "
               ":Number}})\n");
    fprintf(s, "(business-rule \"typo\" [:find ?t :where [?t :thug/earnings 1]] {:fn \"nope\"})\n");
    for (int t = 1; t <= THUGS; t++) {
        c.last[t] = (int)tide_rng_below(&r, 2000);
        c.overs += c.last[t] > 1000;
        fprintf(s, "(transact [{:db/id %d :thug/name \"thug%d\" :thug/earnings %d}])\n", t, t,
                c.last[t]);
    }
    fprintf(s, "(register-query \"earnings\" [:find ?t ?e :where [?t :thug/earnings ?e]])\n");
    fprintf(s, "(business-rule \"cap\" [:find ?t ?n ?e :where [?t :thug/name ?n] [?t "
               ":thug/earnings ?e] [(> ?e 1000)]] {:fn \"cap-test\"})\n");
    int now[THUGS + 1];
    for (int t = 1; t <= THUGS; t++) now[t] = c.last[t] > 1000 ? 1000 : c.last[t];
    for (int k = 0; k < CHANGES; k++) {
        int t = 1 + (int)tide_rng_below(&r, THUGS), e = (int)tide_rng_below(&r, 2000);
        if (e == now[t]) continue;
        fprintf(s,
                "(transact [[:db/retract %d :thug/earnings %d] [:db/add %d :thug/earnings %d]])\n",
                t, now[t], t, e);
        c.last[t] = e;
        now[t] = e > 1000 ? 1000 : e;
        c.overs += e > 1000;
    }
    fclose(s);
    /* the rule is registered after the first transactions: its first answer
     * holds the thugs already over the cap (counted above) */
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = (uint32_t)workers;
    cfg.pin = 0;
    tide_error e = {0};
    cr_assert_eq(tide_execute(&cfg, plugin_main, &c, &e), TIDE_OK, "%s", e.msg);
    dl_keep_free();
    cr_assert(c.ok, "final answer wrong; output:\n%s", c.out);
    cr_assert(c.names_ok, "a string argument arrived damaged");
    cr_assert_eq(c.calls, (long)c.overs * workers, "%ld action calls, want %d per worker", c.calls,
                 c.overs);
    cr_assert(strstr(c.out, "no C action named \"nope\""), "%s", c.out);
    free(c.out);
    free(c.script);
}

Test(datalog_plugin, w1)
{
    plugin_case(1);
}

Test(datalog_plugin, w2)
{
    plugin_case(2);
}
