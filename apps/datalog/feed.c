/* feed.c - forms from worker 0 to every worker over a command dataflow
 * (feed.h). */
#include "feed.h"

#include <stdlib.h>
#include <string.h>

/* Sink (BROADCAST): runs on this worker's thread inside its step, with its
 * own feed as @ctx. Worker 0 ran its commands already. */
static void on_cmds(void *ctx, const tide_batch *b)
{
    dl_feed *f = ctx;
    if (f->index == 0) return;
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t len;
        const uint8_t *k = tide_batch_key(b, i, &len);
        if (f->n == f->cap) {
            size_t nc = f->cap ? f->cap * 2 : 16;
            dl_cmd *nb = realloc(f->cmds, nc * sizeof *nb);
            if (!nb) {
                f->oom = true;
                return;
            }
            f->cmds = nb;
            f->cap = nc;
        }
        char *t = malloc(len + 1);
        if (!t) {
            f->oom = true;
            return;
        }
        memcpy(t, k, len);
        t[len] = 0;
        f->cmds[f->n++] = (dl_cmd){b->time.epoch, t, len};
    }
}

int dl_feed_open(dl_feed *f, tide_worker *w)
{
    memset(f, 0, sizeof *f);
    f->w = w;
    f->index = tide_worker_index(w);
    tide_dataflow *df = tide_dataflow_new(w, "datalog-commands");
    if (!df) return TIDE_ENOMEM;
    tide_stream *s;
    f->in = tide_input_new(tide_dataflow_root(df), tide_layout_make(TIDE_VAR, 0), 0, &s);
    if (!f->in) return tide_worker_error(w)->code;
    tide_sink(s, TIDE_BROADCAST, on_cmds, f);
    TIDE_TRY(tide_dataflow_seal(df));
    /* only worker 0 sends: the others' handles hold nothing back */
    if (f->index != 0) TIDE_TRY(tide_input_close(f->in));
    return TIDE_OK;
}

void dl_feed_fini(dl_feed *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->cmds[i].text);
    free(f->cmds);
    edn_free_all(f->kept, f->nkept);
}

int dl_feed_keep(dl_feed *f, edn *x)
{
    if (f->nkept == f->capkept) {
        size_t nc = f->capkept ? f->capkept * 2 : 64;
        edn **nk = realloc(f->kept, nc * sizeof *nk);
        if (!nk) {
            edn_free(x);
            return TIDE_ENOMEM;
        }
        f->kept = nk;
        f->capkept = nc;
    }
    f->kept[f->nkept++] = x;
    return TIDE_OK;
}

static int send_cmd(dl_feed *f, char tag, const char *text, size_t len)
{
    char *b = malloc(len + 1);
    if (!b) return TIDE_ENOMEM;
    b[0] = tag;
    if (len) memcpy(b + 1, text, len);
    int rc = tide_input_send(f->in, b, (uint32_t)(len + 1), NULL, 0);
    free(b);
    TIDE_TRY(rc);
    return tide_input_advance_to(f->in, ++f->epoch);
}

int dl_feed_push(dl_feed *f, const char *text, size_t len)
{
    return send_cmd(f, 'F', text, len);
}

int dl_feed_close(dl_feed *f)
{
    TIDE_TRY(send_cmd(f, 'E', NULL, 0));
    return tide_input_close(f->in);
}

/* Run the forms of command @c (each rejected alike on worker 0, which
 * reports it). */
static int run_cmd(dl_feed *f, dl_engine *g, const dl_cmd *c)
{
    edn **forms;
    size_t n;
    char err[512];
    if (edn_parse_all(c->text + 1, c->len - 1, &forms, &n, err, sizeof err) < 0) return 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc >= 0)
            rc = dl_feed_keep(f, forms[i]);
        else
            edn_free(forms[i]);
        if (rc < 0) continue;
        rc = dl_engine_form(g, forms[i], err, sizeof err);
        if (rc >= 0) rc = dl_rules_run(g);
    }
    free(forms);
    return rc < 0 ? rc : 0;
}

int dl_feed_follow(dl_feed *f, dl_engine *g)
{
    for (uint64_t next = 0;;) {
        if (f->oom) return TIDE_ENOMEM;
        size_t i = 0;
        while (i < f->n && f->cmds[i].epoch != next) i++;
        if (i == f->n) {
            TIDE_TRY(tide_worker_step_or_park(f->w, 1000));
            continue;
        }
        dl_cmd c = f->cmds[i];
        f->cmds[i] = f->cmds[--f->n];
        next++;
        bool end = c.text[0] == 'E';
        int rc = end ? 0 : run_cmd(f, g, &c);
        free(c.text);
        if (rc < 0) return rc;
        if (end) return 0;
    }
}
