/*
 * engine.h - one worker's Datalog engine: the attribute arrangements, the
 * registered queries (each a dataflow built at run time on every worker)
 * and the forms of a script.
 *
 * Every worker runs the same forms in the same order, so every worker
 * builds the same dataflows; worker 0 feeds transactions and prints.
 */
#ifndef DL_ENGINE_H
#define DL_ENGINE_H

#include <stdio.h>

#include "db.h"
#include "plugin.h"
#include "tide/tide.h"

/* A rejected form (bad input): the state is unchanged, the run goes on. */
#define DL_REJECT 1

typedef struct dl_diff {
    uint8_t *tuple;
    uint32_t len;
    uint64_t time;
    int64_t diff;
} dl_diff;

typedef struct dl_diffs {
    dl_diff *d;
    size_t n, cap;
} dl_diffs;

typedef struct dl_query {
    char *name;
    int arity;
    const edn *query, *rules; /* borrowed: live as long as the engine */
    char *canon;              /* the query and its rules as text: equal text shares the result */
    int owner;             /* index of the query whose arrangement this one reads (itself if new) */
    tide_arranged *result; /* the arranged answer (tuple, no value), in its own dataflow */
    tide_probe *probe;     /* behind the collector of diffs */
    dl_diffs pending;      /* diffs collected on this worker, not yet printed */
    uint64_t since;        /* the time of registration: earlier times are printed as it */
    bool active;           /* registered under its name (printing, usable by name) */
    tide_dataflow *df;     /* NULL once dropped (unregistered and unused) */
    int *uses;             /* the queries whose arrangements this one imports */
    int nuses;
    struct dl_rule_action *action; /* business rule, or NULL */
    dl_diffs state;                /* worker 0, when g->keep_state: the current answer */
} dl_query;

typedef struct dl_engine {
    tide_worker *w;
    uint32_t index, peers;
    dl_db db;
    tide_input **inputs; /* per attribute */
    tide_arranged **ev;  /* per attribute: e -> v */
    tide_arranged **ve;  /* per attribute: v -> e */
    int ninputs;
    dl_query **queries;
    int nqueries;
    uint64_t time;       /* the latest transaction's time (0: none yet) */
    uint8_t route0[8];   /* a key tide_exchange sends to worker 0 */
    uint8_t (*route)[8]; /* per worker */
    bool json;
    FILE *out; /* worker 0's output */
    FILE *errs;
    int nerrors;
    int max_rounds; /* business-rule cascade bound */
    int dfs;        /* dataflows built so far (names) */
    int last_arity; /* set by a dry dl_compile: the answer's columns */
    /* Worker 0: called with each query's consolidated changes of a time
     * (after printing, if g->out); the server sends them to subscribers. */
    void (*on_diffs)(void *ctx, struct dl_query *q, const dl_diffs *d);
    void *on_diffs_ctx;
    bool keep_state; /* keep every query's current answer (q->state) */
    edn **owned;     /* queries with their parameters bound (bind_params) */
    int nowned;
    int *last_uses; /* set by a real dl_compile: the queries it imported */
    int nlast_uses;
} dl_engine;

int dl_engine_init(dl_engine *g, tide_worker *w);
void dl_engine_fini(dl_engine *g);

/* Run one script form. Returns 0, or -1 with a message in @err for a
 * rejected form (the state is unchanged), or a negative tide code for a
 * failure of the runtime. */
int dl_engine_form(dl_engine *g, const edn *form, char *err, size_t errlen);

/* Run a whole script (tide-datalog run, the datalog job): each form, a
 * rejected one printed as "error: LINE:COL: message" (JSON with g->json) on
 * worker 0's g->out, the business-rule cascade after each, then close the
 * inputs. 0, or a negative tide code. */
int dl_engine_script(dl_engine *g, edn *const *forms, size_t n);

/* The individual operations (used by forms, the server and tests). */
int dl_engine_create(dl_engine *g, const edn *schema, char *err, size_t errlen);
int dl_engine_transact(dl_engine *g, const edn *tx, char *err, size_t errlen);
/* Integer datoms of attribute @a as one transaction (dl_db_apply_ints). */
int dl_engine_transact_ints(dl_engine *g, int a, const int64_t *e, const int64_t *v,
                            const int *diff, size_t n);
int dl_engine_register(dl_engine *g, const char *name, const edn *query, const edn *rules,
                       char *err, size_t errlen);
int dl_engine_unregister(dl_engine *g, const char *name, char *err, size_t errlen);
int dl_engine_close(dl_engine *g);

/* Business rules (rules.c): register from a (business-rule ...) form; run
 * the cascade of firings until quiet (called after every form). */
typedef struct dl_rule_action dl_rule_action;
int dl_rule_register(dl_engine *g, const edn *form, char *err, size_t errlen);
int dl_rules_run(dl_engine *g);
void dl_rule_free(dl_rule_action *a);
/* dl_engine_register for a rule: the answer goes to every worker and
 * is kept for dl_rules_run instead of printed. @a is taken on success. */
int dl_engine_register_rule(dl_engine *g, const char *name, const edn *query, const edn *rules,
                            dl_rule_action *a, char *err, size_t errlen);

/* plugin.c: the C action registered as @name (plugin.h), false if none. */
bool dl_plugin_find(const char *name, dl_plugin_fn *fn, void **ctx);

/* Free the operator contexts of every compiled query (after tide_execute). */
void dl_keep_free(void);
/* Operator contexts made by this thread from now on belong to @owner (a
 * query; NULL: nobody, freed by dl_keep_free); dl_keep_release(owner)
 * frees them once its dataflow is dropped. */
void dl_keep_owner(const void *owner);
void dl_keep_release(const void *owner);

/* Compile @query (with @rules, may be NULL) into scope @root of a new
 * dataflow, or only check it when @root is NULL. The answer collection
 * (tuple, no value) goes to *out. -1 with @err on a malformed query. */
int dl_compile(dl_engine *g, tide_scope *root, const edn *query, const edn *rules,
               tide_stream **out, char *err, size_t errlen);

#endif
