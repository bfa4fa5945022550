/*
 * wordcount.c - tide's demo job: count words as lines arrive, one epoch per
 * line, and print each word's final count.
 *
 *   wordcount [-w W] [-n N -p I] [FILE]     (no FILE: a built-in text)
 *
 * Dataflow: lines -> flat_map (lower-case words) -> exchange by word ->
 * count (per-worker table; at each completed epoch it reports the words
 * whose count changed) -> collected and printed, most frequent first.
 */
#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/tide.h"
#include "std_flags.h"

static const char *builtin_text[] = {
    "the factory floor records every start and every stop",
    "every record changes the dashboard and the report",
    "a dataflow computes the report once and then only the change",
    "the change of the input becomes the change of every output",
    "workers share the work and the frontier tells them when a time is done",
    NULL,
};

typedef struct entry {
    char *word;
    uint64_t count;
} entry;

/* The job's result: word -> count, filled by every worker's sink. */
typedef struct result {
    pthread_mutex_t lock; /* output path only, not the data path */
    entry *e;
    size_t len, cap;
    char **lines;
    size_t nlines;
} result;

static void split(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                  tide_emitter *em)
{
    char word[256];
    uint32_t i = 0;
    while (i < kl) {
        while (i < kl && !isalnum(k[i])) i++;
        uint32_t n = 0;
        while (i < kl && isalnum(k[i])) {
            if (n < sizeof word) word[n++] = (char)tolower(k[i]);
            i++;
        }
        if (n) tide_emit(em, word, n, NULL, 0);
    }
}

/* The counting operator: counts per word; reports changed words per epoch. */
typedef struct counter {
    entry *e;
    size_t len, cap;
    tide_notificator notes;
} counter;

static entry *lookup(counter *c, const uint8_t *w, uint32_t wl)
{
    for (size_t i = 0; i < c->len; i++)
        if (strlen(c->e[i].word) == wl && memcmp(c->e[i].word, w, wl) == 0) return &c->e[i];
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->e = realloc(c->e, c->cap * sizeof *c->e);
    }
    entry *e = &c->e[c->len++];
    e->word = strndup((const char *)w, wl);
    e->count = 0;
    return e;
}

static void count_schedule(tide_op *op, void *state)
{
    counter *c = state;
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        for (uint32_t i = 0; i < b->len; i++) {
            uint32_t wl;
            const uint8_t *w = tide_batch_key(b, i, &wl);
            lookup(c, w, wl)->count++;
        }
        tide_notificator_notify_at(&c->notes, op, b->time);
        tide_batch_unref(b);
    }
    tide_time t;
    while (tide_notificator_next(&c->notes, op, tide_op_frontier(op, 0), &t)) {
        uint8_t n[8];
        for (size_t i = 0; i < c->len; i++) {
            tide_u64_store(n, c->e[i].count);
            tide_out_push(op, 0, t, c->e[i].word, (uint32_t)strlen(c->e[i].word), n, 8);
        }
    }
}

static void counter_free(void *p)
{
    counter *c = p;
    for (size_t i = 0; i < c->len; i++) free(c->e[i].word);
    free(c->e);
    tide_notificator_fini(&c->notes);
    free(c);
}

/* Keep the latest count reported for each word. */
static void collect(void *ctx, const tide_batch *b)
{
    result *r = ctx;
    pthread_mutex_lock(&r->lock);
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t wl, vl;
        const uint8_t *w = tide_batch_key(b, i, &wl);
        uint64_t n = tide_u64_load(tide_batch_val(b, i, &vl));
        size_t j = 0;
        while (j < r->len && !(strlen(r->e[j].word) == wl && memcmp(r->e[j].word, w, wl) == 0)) j++;
        if (j == r->len) {
            if (r->len == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 64;
                r->e = realloc(r->e, r->cap * sizeof *r->e);
            }
            r->e[r->len].word = strndup((const char *)w, wl);
            r->e[r->len++].count = 0;
        }
        if (n > r->e[j].count) r->e[j].count = n;
    }
    pthread_mutex_unlock(&r->lock);
}

static int worker_main(tide_worker *w, void *arg)
{
    result *r = arg;
    tide_dataflow *df = tide_dataflow_new(w, "wordcount");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *lines;
    tide_input *in = tide_input_new(root, tide_layout_make(TIDE_VAR, 0), 0, &lines);
    tide_stream *words = tide_flat_map(lines, "split", tide_layout_make(TIDE_VAR, 0), split, NULL);
    counter *c = calloc(1, sizeof *c);
    tide_notificator_init(&c->notes);
    tide_pact pact = TIDE_EXCHANGE;
    tide_layout out = tide_layout_make(TIDE_VAR, 8);
    tide_op_desc d = {.name = "count",
                      .ninputs = 1,
                      .inputs = &words,
                      .pacts = &pact,
                      .noutputs = 1,
                      .outputs = &out,
                      .schedule = count_schedule,
                      .state = c,
                      .state_free = counter_free};
    tide_op *op = tide_op_build(root, &d);
    if (op == NULL) return tide_worker_error(w)->code;
    tide_sink(tide_op_output(op, 0), TIDE_PIPELINE, collect, r);
    TIDE_TRY(tide_dataflow_seal(df));
    /* Worker i feeds lines i, i + W, ...; line k goes in at epoch k. */
    for (size_t k = tide_worker_index(w); k < r->nlines; k += tide_worker_peers(w)) {
        TIDE_TRY(tide_input_advance_to(in, k));
        TIDE_TRY(tide_input_send(in, r->lines[k], (uint32_t)strlen(r->lines[k]), NULL, 0));
        TIDE_TRY(tide_worker_step(w));
    }
    return tide_input_close(in);
}

static int by_count(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

static int read_lines(result *r, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "wordcount: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, ncap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (r->nlines == ncap) {
            ncap = ncap ? ncap * 2 : 256;
            r->lines = realloc(r->lines, ncap * sizeof *r->lines);
        }
        line[strcspn(line, "\n")] = 0;
        r->lines[r->nlines++] = strdup(line);
    }
    free(line);
    if (f != stdin) fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "wordcount",
                      "usage: wordcount [cluster flags] [FILE]\n"
                      "Count the words of FILE (or '-' for stdin, or a built-in text), one epoch\n"
                      "per line, and print each word's count.\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "wordcount: %s\nTry 'wordcount --help'.\n", e.msg);
        return 2;
    }
    result r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    if (argc > 1) {
        if (read_lines(&r, argv[1]) < 0) return 1;
    } else {
        for (size_t i = 0; builtin_text[i]; i++) {
            r.lines = realloc(r.lines, (r.nlines + 1) * sizeof *r.lines);
            r.lines[r.nlines++] = strdup(builtin_text[i]);
        }
    }
    fprintf(stderr, "wordcount: %zu line(s) on %u worker(s)\n", r.nlines,
            cfg.workers * cfg.processes);
    if (tide_execute(&cfg, worker_main, &r, &e) < 0) {
        fprintf(stderr, "wordcount: %s\n", e.msg);
        return 1;
    }
    qsort(r.e, r.len, sizeof *r.e, by_count);
    for (size_t i = 0; i < r.len; i++)
        printf("%s\t%llu\n", r.e[i].word, (unsigned long long)r.e[i].count);
    for (size_t i = 0; i < r.len; i++) free(r.e[i].word);
    for (size_t i = 0; i < r.nlines; i++) free(r.lines[i]);
    free(r.e);
    free(r.lines);
    return 0;
}
