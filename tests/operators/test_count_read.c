/*
 * test_count_read.c - tide_count's output read as its header says: the
 * value with tide_count_load (tide_i64_load), values of the input ignored.
 * Random keys and values with retractions over random epochs, W = 1, 2, 4,
 * against a naive count per key and epoch. Also pins the pitfall the
 * header warns about: tide_u64_load of the value is 2^63 + count.
 * Seeds are printed; TIDE_SEED=<n> replays.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "tide/tide.h"
#include "tide_test.h"

#define KEYS   12
#define EPOCHS 5
#define NUPD   300

typedef struct count_run {
    uint64_t key[NUPD], val[NUPD], epoch[NUPD];
    int64_t diff[NUPD];
    pthread_mutex_t lock;
    int64_t got[EPOCHS][KEYS]; /* count changes: +count at their epoch */
    uint32_t bad;
} count_run;

static void seen(void *ctx, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                 tide_time t, int64_t diff)
{
    count_run *r = ctx;
    uint64_t key = tide_u64_load(k);
    int64_t n = tide_count_load(v);
    bool pitfall_ok = tide_u64_load(v) == (1ULL << 63) + (uint64_t)n;
    pthread_mutex_lock(&r->lock);
    if (key < KEYS && t.epoch < EPOCHS && vl == 8 && pitfall_ok && n == tide_i64_load(v))
        r->got[t.epoch][key] += diff * n;
    else
        r->bad++;
    pthread_mutex_unlock(&r->lock);
}

static int count_main(tide_worker *w, void *arg)
{
    count_run *r = arg;
    uint32_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    tide_dataflow *df = tide_dataflow_new(w, "count_read");
    tide_stream *s;
    tide_input *in =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 8), TIDE_BATCH_UPDATES, &s);
    tide_inspect_updates(tide_count(s), seen, r);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint32_t i = 0; i < NUPD; i++) {
        if (r->epoch[i] > tide_input_epoch(in)) TIDE_TRY(tide_input_advance_to(in, r->epoch[i]));
        if (i % peers != me) continue;
        uint8_t k[8], v[8];
        tide_u64_store(k, r->key[i]);
        tide_u64_store(v, r->val[i]);
        TIDE_TRY(tide_input_update(in, k, 8, v, 8, r->diff[i]));
    }
    return tide_input_close(in);
}

static void run(uint32_t workers)
{
    static count_run r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.lock, NULL);
    tide_rng rng = {tide_test_seed("count_read", workers)};
    uint64_t e = 0;
    for (uint32_t i = 0; i < NUPD; i++) {
        if (e + 1 < EPOCHS && tide_rng_below(&rng, NUPD / EPOCHS) == 0) e++;
        r.epoch[i] = e;
        r.key[i] = tide_rng_below(&rng, KEYS);
        r.val[i] = tide_rng_below(&rng, 1000); /* values are ignored by count */
        r.diff[i] = tide_rng_below(&rng, 4) == 0 ? -1 : (int64_t)tide_rng_below(&rng, 3) + 1;
    }
    TIDE_TEST_EXECUTE(workers, count_main, &r);
    cr_assert_eq(r.bad, 0, "W=%u: %u records not read as documented", workers, r.bad);
    for (uint32_t k = 0; k < KEYS; k++) {
        int64_t want = 0, got = 0;
        for (uint32_t ep = 0; ep < EPOCHS; ep++) {
            for (uint32_t i = 0; i < NUPD; i++)
                if (r.epoch[i] == ep && r.key[i] == k) want += r.diff[i];
            got += r.got[ep][k];
            cr_assert_eq(got, want, "W=%u key %u epoch %u: count %lld, want %lld", workers, k, ep,
                         (long long)got, (long long)want);
        }
    }
    pthread_mutex_destroy(&r.lock);
}

Test(count_read, count_load_w1)
{
    run(1);
}
Test(count_read, count_load_w2)
{
    run(2);
}
Test(count_read, count_load_w4)
{
    run(4);
}
