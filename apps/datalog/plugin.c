/*
 * plugin.c - the plugin API (plugin.h): C actions of business rules by name
 * (a process-wide table), and the script runner of jobs/datalog.so.
 */
#define _GNU_SOURCE
#include "plugin.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct named_fn {
    char name[64];
    dl_plugin_fn fn;
    void *ctx;
} named_fn;

static pthread_mutex_t actions_lock = PTHREAD_MUTEX_INITIALIZER;
static named_fn *actions;
static size_t nactions;

int dl_plugin_action(const char *name, dl_plugin_fn fn, void *ctx)
{
    if (!name || !*name || strlen(name) > 63 || !fn) return TIDE_EINVAL;
    pthread_mutex_lock(&actions_lock);
    for (size_t i = 0; i < nactions; i++)
        if (!strcmp(actions[i].name, name)) {
            actions[i].fn = fn;
            actions[i].ctx = ctx;
            pthread_mutex_unlock(&actions_lock);
            return TIDE_OK;
        }
    named_fn *na = realloc(actions, (nactions + 1) * sizeof *na);
    if (!na) {
        pthread_mutex_unlock(&actions_lock);
        return TIDE_ENOMEM;
    }
    actions = na;
    snprintf(actions[nactions].name, sizeof actions[nactions].name, "%s", name);
    actions[nactions].fn = fn;
    actions[nactions++].ctx = ctx;
    pthread_mutex_unlock(&actions_lock);
    return TIDE_OK;
}

bool dl_plugin_find(const char *name, dl_plugin_fn *fn, void **ctx)
{
    bool found = false;
    pthread_mutex_lock(&actions_lock);
    for (size_t i = 0; i < nactions && !found; i++)
        if (!strcmp(actions[i].name, name)) {
            *fn = actions[i].fn;
            *ctx = actions[i].ctx;
            found = true;
        }
    pthread_mutex_unlock(&actions_lock);
    return found;
}

/* Worker 0's g->out: a stdio stream whose writes go to the job's stdout. */
static ssize_t job_write(void *cookie, const char *buf, size_t n)
{
    int rc = tide_job_printf(cookie, "%.*s", (int)n, buf);
    return rc < 0 ? -1 : (ssize_t)n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, k;
    char *b = malloc(cap);
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* After close: step until every dataflow of the job is complete, so that
 * no operator runs again, then free the queries' operator contexts. */
static int finish(tide_worker *w, dl_engine *g)
{
    int rc;
    while ((rc = tide_worker_step(w)) > 0) {
    }
    for (int i = 0; i < g->nqueries; i++) dl_keep_release(g->queries[i]);
    return rc < 0 ? rc : 0;
}

int dl_plugin_run(tide_worker *w, int argc, char **argv, tide_job *job)
{
    bool json = false;
    const char *script = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!script)
            script = argv[i];
        else
            script = NULL, i = argc;
    }
    if (argc < 3 || strcmp(argv[1], "run") || !script)
        return tide_job_fail(job, TIDE_EINVAL, "usage: tide submit %s run SCRIPT.edn [--json]",
                             tide_job_name(job));
    size_t len;
    char *text = slurp(script, &len);
    if (!text) return tide_job_fail(job, TIDE_EIO, "datalog: cannot read %s", script);
    edn **forms = NULL;
    size_t n = 0;
    char err[512];
    if (edn_parse_all(text, len, &forms, &n, err, sizeof err) < 0) {
        free(text);
        return tide_job_fail(job, TIDE_EINVAL, "datalog: %s:%s", script, err);
    }
    free(text);
    dl_engine g;
    int rc = dl_engine_init(&g, w);
    FILE *out = NULL;
    if (rc >= 0 && tide_worker_index(w) == 0) {
        out = fopencookie(job, "w", (cookie_io_functions_t){.write = job_write});
        /* whole lines per write (the engine flushes after each query's lines) */
        if (out) setvbuf(out, NULL, _IOFBF, 1 << 16);
        if (!out) rc = TIDE_ENOMEM;
    }
    g.out = g.errs = out;
    g.json = json;
    if (rc >= 0) rc = dl_engine_script(&g, forms, n);
    if (rc >= 0) rc = finish(w, &g);
    if (out) fclose(out);
    dl_engine_fini(&g);
    edn_free_all(forms, n);
    if (rc < 0 && !tide_job_cancelled(job))
        return tide_job_fail(job, rc, "datalog: %s", tide_worker_error(w)->msg);
    return rc < 0 ? rc : TIDE_OK;
}
