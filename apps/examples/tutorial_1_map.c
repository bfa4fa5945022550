/*
 * tutorial_1_map.c - docs/tutorial.md, step 1: an input, a map, a callback.
 *
 *   tutorial_1_map [-w W] [N]      (default N = 10)
 *
 * Worker 0 sends the numbers 1..N into an input; tide_map turns each x into
 * (x, x*x); tide_inspect prints "square X Y" for each record, on whichever
 * worker holds it. Output order varies with W; the set of lines does not.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "tide/tide.h"
#include "std_flags.h"

/* (x) -> (x, x * x): keys and values are byte strings; tide_u64_store and
 * tide_u64_load encode integers so that byte order is numeric order. */
static void square(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen,
                   tide_emitter *em)
{
    uint64_t x = tide_u64_load(key);
    uint8_t sq[8];
    tide_u64_store(sq, x * x);
    tide_emit(em, key, 8, sq, 8);
}

/* Inspect callbacks run on every worker thread at once: one lock keeps the
 * printed lines whole. */
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void show(void *ctx, const tide_batch *b)
{
    pthread_mutex_lock(&print_lock);
    for (uint32_t i = 0; i < b->len; i++)
        printf("square %llu %llu\n", (unsigned long long)tide_batch_key_u64(b, i),
               (unsigned long long)tide_batch_val_u64(b, i));
    pthread_mutex_unlock(&print_lock);
}

static int worker_main(tide_worker *w, void *arg)
{
    uint64_t n = *(const uint64_t *)arg;
    tide_dataflow *df = tide_dataflow_new(w, "squares");
    tide_stream *numbers;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), 0, &numbers);
    tide_stream *squares =
        tide_map(tide_exchange(numbers), "square", tide_layout_make(8, 8), square, NULL);
    tide_inspect(squares, show, NULL);
    TIDE_TRY(tide_dataflow_seal(df));
    if (tide_worker_index(w) == 0) /* any worker may send; here one does */
        for (uint64_t x = 1; x <= n; x++) TIDE_TRY(tide_input_send_u64(in, x));
    return tide_input_close(in); /* every worker closes its own handle */
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "tutorial_1_map",
                      "usage: tutorial_1_map [cluster flags] [N]\n"
                      "docs/tutorial.md step 1: the numbers 1..N (default 10) through a "
                      "map;\nprints 'square X Y'.\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "tutorial_1_map: %s\n", e.msg);
        return 2;
    }
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10;
    if (tide_execute(&cfg, worker_main, &n, &e) < 0) {
        fprintf(stderr, "tutorial_1_map: %s\n", e.msg);
        return 1;
    }
    return 0;
}
