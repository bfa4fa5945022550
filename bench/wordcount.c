/*
 * wordcount.c - word count over generated text: tide against the
 * hand-written single-threaded baseline (bench/baseline_wordcount.c).
 *
 *   bench_wordcount [-w W] [WORDS] [VOCAB]     (default 10^7 words, 10^5 vocabulary)
 *
 * Dataflow: input lines -> flat_map (split into words) -> exchange by word
 * -> count (a per-worker table). Each worker feeds every W-th line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"
#include "common.h"
#include "tide/tide.h"

typedef struct job {
    const char *text;
    uint32_t *line_starts; /* nlines + 1 */
    uint32_t nlines;
    uint64_t counted;  /* words counted, over all workers (atomic) */
    uint64_t distinct; /* distinct words, over all workers (atomic) */
} job;

static void split(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                  tide_emitter *em)
{
    uint32_t i = 0;
    while (i < kl) {
        while (i < kl && k[i] == ' ') i++;
        uint32_t s = i;
        while (i < kl && k[i] != ' ') i++;
        if (i > s) tide_emit(em, k + s, i - s, NULL, 0);
    }
}

typedef struct counter {
    bench_wordtab tab;
    uint64_t words;
    job *j;
    bool reported;
} counter;

static void count_schedule(tide_op *op, void *state)
{
    counter *c = state;
    tide_batch *b;
    while ((b = tide_op_pull(op, 0)) != NULL) {
        for (uint32_t i = 0; i < b->len; i++) {
            uint32_t wl;
            const uint8_t *w = tide_batch_key(b, i, &wl);
            bench_wordtab_add(&c->tab, (const char *)w, wl, tide_hash(w, wl), 1);
        }
        c->words += b->len;
        tide_batch_unref(b);
    }
    if (!c->reported && tide_op_frontier(op, 0)->len == 0) {
        c->reported = true;
        __atomic_add_fetch(&c->j->counted, c->words, __ATOMIC_RELAXED);
        __atomic_add_fetch(&c->j->distinct, c->tab.len, __ATOMIC_RELAXED);
    }
}

static void counter_free(void *p)
{
    counter *c = p;
    bench_wordtab_fini(&c->tab);
    free(c);
}

static int worker_main(tide_worker *w, void *arg)
{
    job *j = arg;
    tide_dataflow *df = tide_dataflow_new(w, "wordcount");
    tide_stream *lines;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(TIDE_VAR, 0), 0, &lines);
    tide_stream *words = tide_flat_map(lines, "split", tide_layout_make(TIDE_VAR, 0), split, NULL);
    counter *c = calloc(1, sizeof *c);
    bench_wordtab_init(&c->tab);
    c->j = j;
    tide_pact pact = TIDE_EXCHANGE;
    tide_op_desc d = {.name = "count",
                      .ninputs = 1,
                      .inputs = &words,
                      .pacts = &pact,
                      .schedule = count_schedule,
                      .state = c,
                      .state_free = counter_free,
                      .disconnected = true};
    if (tide_op_build(tide_dataflow_root(df), &d) == NULL) return tide_worker_error(w)->code;
    TIDE_TRY(tide_dataflow_seal(df));
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint32_t per_epoch = j->nlines / 16 + 1;
    for (uint32_t l = me; l < j->nlines; l += peers) {
        uint32_t s = j->line_starts[l], e = j->line_starts[l + 1] - 1; /* drop the newline */
        TIDE_TRY(tide_input_send(in, j->text + s, e - s, NULL, 0));
        if ((l / peers) % per_epoch == per_epoch - 1) {
            TIDE_TRY(tide_input_advance_to(in, tide_input_epoch(in) + 1));
            TIDE_TRY(tide_worker_step(w));
        }
    }
    return tide_input_close(in);
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "bench_wordcount: %s\n", e.msg);
        return 2;
    }
    uint64_t nwords = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    uint32_t vocab = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 100000;
    uint64_t seed = bench_seed(42);
    size_t len;
    fprintf(stderr, "generating %llu words...\n", (unsigned long long)nwords);
    char *text = bench_text(nwords, vocab, seed, &len);
    job j = {.text = text};
    uint32_t cap = 1024;
    j.line_starts = malloc(cap * sizeof *j.line_starts);
    j.line_starts[0] = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\n') continue;
        if (j.nlines + 2 > cap)
            j.line_starts = realloc(j.line_starts, (cap *= 2) * sizeof(uint32_t));
        j.line_starts[++j.nlines] = (uint32_t)(i + 1);
    }
    if (j.line_starts[j.nlines] < len) { /* a last line without its newline */
        if (j.nlines + 2 > cap)
            j.line_starts = realloc(j.line_starts, (cap *= 2) * sizeof(uint32_t));
        j.line_starts[++j.nlines] = (uint32_t)(len + 1);
    }
    enum { RUNS = 5 };
    double tide_ms[RUNS], base_ms[RUNS];
    uint64_t base_distinct = 0, base_words = 0;
    for (int r = -1; r < RUNS; r++) { /* r = -1: warm-up */
        bench_wordtab t;
        bench_wordtab_init(&t);
        uint64_t t0 = bench_now_ns();
        base_words = baseline_wordcount(text, len, &t);
        uint64_t t1 = bench_now_ns();
        base_distinct = t.len;
        bench_wordtab_fini(&t);
        j.counted = j.distinct = 0;
        uint64_t t2 = bench_now_ns();
        if (tide_execute(&cfg, worker_main, &j, &e) < 0) {
            fprintf(stderr, "bench_wordcount: %s\n", e.msg);
            return 1;
        }
        uint64_t t3 = bench_now_ns();
        if (j.counted != base_words || j.distinct != base_distinct) {
            fprintf(
                stderr,
                "bench_wordcount: tide counted %llu words (%llu distinct), baseline %llu (%llu)\n",
                (unsigned long long)j.counted, (unsigned long long)j.distinct,
                (unsigned long long)base_words, (unsigned long long)base_distinct);
            return 1;
        }
        if (r < 0) continue;
        base_ms[r] = (t1 - t0) / 1e6;
        tide_ms[r] = (t3 - t2) / 1e6;
        fprintf(stderr, "run %d: tide %.1f ms, baseline %.1f ms\n", r, tide_ms[r], base_ms[r]);
    }
    double tm = bench_median(tide_ms, RUNS), bm = bench_median(base_ms, RUNS);
    printf("bench=wordcount words=%llu distinct=%llu workers=%u tide_ms=%.1f baseline_ms=%.1f "
           "ratio=%.2f words_per_s=%.3g seed=%llu %s\n",
           (unsigned long long)base_words, (unsigned long long)base_distinct, cfg.workers, tm, bm,
           tm / bm, base_words / (tm / 1e3), (unsigned long long)seed, bench_machine());
    free(text);
    free(j.line_starts);
    return 0;
}
