/* feed.c - forms from worker 0 to the other workers (feed.h). */
#include "feed.h"

#include <stdlib.h>

void dl_feed_init(dl_feed *f)
{
    pthread_mutex_init(&f->mu, NULL);
    f->forms = NULL;
    f->n = f->cap = 0;
    f->closed = false;
}

void dl_feed_fini(dl_feed *f)
{
    edn_free_all(f->forms, f->n);
    pthread_mutex_destroy(&f->mu);
}

void dl_feed_push(dl_feed *f, edn *x)
{
    pthread_mutex_lock(&f->mu);
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        edn **nf = realloc(f->forms, nc * sizeof *nf);
        if (nf) {
            f->forms = nf;
            f->cap = nc;
        }
    }
    if (f->n < f->cap) f->forms[f->n++] = x;
    pthread_mutex_unlock(&f->mu);
}

void dl_feed_close(dl_feed *f)
{
    pthread_mutex_lock(&f->mu);
    f->closed = true;
    pthread_mutex_unlock(&f->mu);
}

int dl_feed_follow(dl_feed *f, dl_engine *g)
{
    size_t next = 0;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        edn *x = next < f->n ? f->forms[next] : NULL;
        bool done = f->closed && next >= f->n;
        pthread_mutex_unlock(&f->mu);
        if (done) return 0;
        if (!x) {
            TIDE_TRY(tide_worker_step_or_park(g->w, 1000));
            continue;
        }
        next++;
        char err[512];
        int rc = dl_engine_form(g, x, err, sizeof err);
        if (rc < 0) return rc;
        TIDE_TRY(dl_rules_run(g));
    }
}
