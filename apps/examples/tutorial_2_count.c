/*
 * tutorial_2_count.c - docs/tutorial.md, step 2: collections change.
 *
 *   tutorial_2_count [-w W] [N]      (default N = 20)
 *
 * A differential input of (key, no value) records, one epoch per round:
 * epoch e inserts the keys x % (e + 2) for x = 1..N and retracts what epoch
 * e - 1 inserted, so at epoch e the collection holds exactly epoch e's
 * keys. tide_count keeps per key the number of records; the program prints
 * every CHANGE of the count as
 *   epoch E: key K count C +      (the pair (K, C) appears at E)
 *   epoch E: key K count C -      (the pair (K, C) disappears at E)
 * Epochs 0..3.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "tide/tide.h"
#include "std_flags.h"

#define EPOCHS 4

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* tide_count's value is an int64 stored sign-flipped for ordering: read it
 * with tide_count_load, not tide_u64_load. */
static void show(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen,
                 tide_time t, int64_t diff)
{
    pthread_mutex_lock(&print_lock);
    printf("epoch %llu: key %llu count %lld %c\n", (unsigned long long)t.epoch,
           (unsigned long long)tide_u64_load(key), (long long)tide_count_load(val),
           diff > 0 ? '+' : '-');
    pthread_mutex_unlock(&print_lock);
}

/* Epoch e's records: key x % (e + 2) for x = 1..n. */
static int send_epoch(tide_input *in, uint64_t n, uint64_t e, int64_t diff)
{
    for (uint64_t x = 1; x <= n; x++) {
        uint8_t k[8];
        tide_u64_store(k, x % (e + 2));
        TIDE_TRY(tide_input_update(in, k, 8, NULL, 0, diff));
    }
    return TIDE_OK;
}

static int worker_main(tide_worker *w, void *arg)
{
    uint64_t n = *(const uint64_t *)arg;
    tide_dataflow *df = tide_dataflow_new(w, "counts");
    tide_stream *records;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0),
                                    TIDE_BATCH_UPDATES, &records);
    tide_inspect_updates(tide_count(records), show, NULL);
    TIDE_TRY(tide_dataflow_seal(df));
    bool sender = tide_worker_index(w) == 0;
    for (uint64_t e = 0; e < EPOCHS; e++) {
        TIDE_TRY(tide_input_advance_to(in, e)); /* every worker advances its handle */
        if (!sender) continue;
        TIDE_TRY(send_epoch(in, n, e, +1));
        if (e > 0) TIDE_TRY(send_epoch(in, n, e - 1, -1));
    }
    return tide_input_close(in);
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "tutorial_2_count",
                      "usage: tutorial_2_count [cluster flags] [N]\n"
                      "docs/tutorial.md step 2: a collection that changes per epoch, counted per "
                      "key\n(default N = 20).\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "tutorial_2_count: %s\n", e.msg);
        return 2;
    }
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20;
    if (tide_execute(&cfg, worker_main, &n, &e) < 0) {
        fprintf(stderr, "tutorial_2_count: %s\n", e.msg);
        return 1;
    }
    return 0;
}
