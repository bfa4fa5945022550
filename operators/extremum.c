/*
 * extremum.c - min, max and top_k for totally ordered times (the root
 * scope): per key, the k least (or greatest) values with a positive
 * accumulated multiplicity, found without reading every value of the key.
 *
 * Depends on total.c's operator skeleton (tide__total_op: announcements in,
 * reader frontiers, no capability held, no output trace) and reads the
 * input trace's batches directly, one position per batch, rather than
 * through a tide_cursor (which walks values upward only; max walks them
 * downward). Used by tide_min, tide_max and tide_top_k when the
 * arrangement's scope is the root; loops take the general reduce.
 *
 * Per key of an announced batch B, let t1 < ... < tm be the distinct times
 * of its updates in B and t0 stand for "before B". The output must change
 * at each tj from the answer at t(j-1) to the answer at tj. Values are
 * sorted within a key in every trace batch, so candidates are walked from
 * the extreme end, merging the key's runs of values in the trace batches
 * before B (the spine cut at B's lower) and in B itself:
 *
 *   trace batch 0  [ v0  v3  v9 ]  --+
 *   trace batch 1  [ v3  v4 ]      --+-- merge from the extreme end -->  candidate v
 *   B              [ v1  v3 ]      --+     (multiplicity before B, B's updates of v)
 *
 * A candidate's multiplicity at tj is its total before B plus its updates
 * in B up to tj; each time takes the first k candidates that are positive
 * there, and the walk stops once every time has k (or the values run out).
 * Usually the first candidate is positive at every time: O(batches) per
 * key, whatever the number of values. The answers of consecutive times are
 * in walk order, so their difference is one merge; it is emitted at tj with
 * the announcement's time as capability, one update per changed value: the
 * minimal diff, as the general reduce would produce.
 */
#include <string.h>

#include "arrange.h"
#include "diff.h"
#include "reduce.h"
#include "tide/alloc.h"
#include "trace/trace_int.h"

#define NONE UINT32_MAX

/* The key's values in one batch, sorted; [lo, hi) not walked yet. */
typedef struct run {
    const tide_trace_batch *b; /* borrowed: the spine keeps it while a batch is processed */
    uint32_t ki;               /* trace batches: first key index not yet passed */
    uint32_t lo, hi;           /* vals of the current key still to walk */
} run;

/* One time of the key (slot 0: before B) and its answer. */
typedef struct slot {
    tide_time t;
    uint32_t head, tail; /* its picks, a list in walk order (NONE: empty) */
    uint32_t taken;      /* picks so far (<= k) */
} slot;

/* A value in the answer of one time. */
typedef struct pick {
    const uint8_t *v; /* borrowed from a batch */
    uint32_t vl;
    uint32_t next; /* next pick of the same time, or NONE */
    int64_t m;     /* its output multiplicity */
} pick;

typedef struct ext_state {
    tide__total base; /* first: the shared operator's fields */
    bool desc;        /* walk from the greatest value (max) */
    bool mult;        /* output a value's own multiplicity (top_k), else 1 */
    uint32_t k;       /* values per key */
    run *runs;        /* the trace batches' runs, then B's (last) */
    uint32_t nruns, runs_cap;
    slot *slots; /* 1 + the key's distinct times in B */
    uint32_t nslots, slots_cap;
    uint32_t *open; /* slots still short of k, ascending */
    uint32_t nopen, open_cap;
    pick *picks; /* this key's picks, every time */
    uint32_t npicks, picks_cap;
    tide_time *times; /* scratch: the key's update times in B */
    uint32_t times_cap;
    tide_time ovf_t; /* where a multiplicity left int64 (TIDE_ERANGE) */
} ext_state;

static void ext_fini(tide__total *t)
{
    ext_state *st = (ext_state *)t;
    void *scratch[] = {st->runs, st->slots, st->open, st->picks, st->times};
    for (size_t i = 0; i < sizeof scratch / sizeof *scratch; i++) tide_free(scratch[i]);
}

/* ======================================================================== */
/* Reading the trace                                                        */
/* ======================================================================== */

/* cut_runs - one run per non-empty trace batch before @tb (the spine cut at
 * its lower), then one for @tb, into st->runs. TIDE_EINVAL when the spine
 * has no boundary at that lower (as tide_spine_cursor_through). */
static int cut_runs(ext_state *st, const tide_trace_batch *tb)
{
    tide_spine *sp = tide_trace_spine(tide_trace_reader_trace(st->base.reader));
    uint32_t n = tide_spine_batches(sp);
    while (n > 0 && !tide_antichain_eq(&tide_spine_batch(sp, n - 1)->upper, &tb->lower)) n--;
    if (n == 0 && tide_spine_batches(sp) > 0 &&
        !tide_antichain_eq(&tide_spine_batch(sp, 0)->lower, &tb->lower))
        return TIDE_EINVAL;
    TIDE_TRY(tide__grow(&st->runs, &st->runs_cap, sizeof *st->runs, (size_t)n + 1));
    st->nruns = 0;
    for (uint32_t i = 0; i < n; i++) {
        const tide_trace_batch *b = tide_spine_batch(sp, i);
        if (b->nkeys > 0) st->runs[st->nruns++] = (run){.b = b};
    }
    st->runs[st->nruns++] = (run){.b = tb};
    return TIDE_OK;
}

/* Position every run on key @k of B (the last run): the trace runs search
 * forward from the previous key. */
static void runs_at_key(ext_state *st, uint32_t k, const uint8_t *key, uint32_t kl)
{
    for (uint32_t i = 0; i + 1 < st->nruns; i++) {
        run *r = &st->runs[i];
        r->ki = tide__batch_seek_key(r->b, r->ki, key, kl);
        bool hit = r->ki < r->b->nkeys && tide__col_cmp(&r->b->keys, r->ki, key, kl) == 0;
        r->lo = hit ? tide__key_vals(r->b, r->ki) : 0;
        r->hi = hit ? tide__key_vals(r->b, r->ki + 1) : 0;
    }
    run *r = &st->runs[st->nruns - 1];
    r->lo = r->b->key_vals[k];
    r->hi = r->b->key_vals[k + 1];
}

/* The next value of run @r in walk order (lo < hi). */
static inline const uint8_t *run_val(const ext_state *st, const run *r, uint32_t *len)
{
    return tide_trace_batch_val(r->b, st->desc ? r->hi - 1 : r->lo, len);
}

/* ======================================================================== */
/* Answers per time                                                         */
/* ======================================================================== */

/* The slots of key @k of B: slot 0 before B, then its distinct times. */
static int key_slots(ext_state *st, const tide_trace_batch *tb, uint32_t k)
{
    uint32_t u0 = tb->val_upds[tb->key_vals[k]], u1 = tb->val_upds[tb->key_vals[k + 1]];
    uint32_t n = u1 - u0;
    TIDE_TRY(tide__grow(&st->times, &st->times_cap, sizeof *st->times, n));
    TIDE_TRY(tide__grow(&st->slots, &st->slots_cap, sizeof *st->slots, (size_t)n + 1));
    TIDE_TRY(tide__grow(&st->open, &st->open_cap, sizeof *st->open, (size_t)n + 1));
    for (uint32_t i = 0; i < n; i++) st->times[i] = tb->upds[u0 + i].time;
    /* One val's updates are sorted already. */
    if (tb->key_vals[k + 1] - tb->key_vals[k] > 1) tide_time_sort(st->times, n);
    st->nslots = 0;
    st->slots[st->nslots++] = (slot){.head = NONE, .tail = NONE};
    for (uint32_t i = 0; i < n; i++)
        if (st->nslots == 1 || !tide_time_eq(st->times[i], st->slots[st->nslots - 1].t))
            st->slots[st->nslots++] = (slot){.t = st->times[i], .head = NONE, .tail = NONE};
    st->nopen = st->k > 0 ? st->nslots : 0;
    for (uint32_t i = 0; i < st->nopen; i++) st->open[i] = i;
    st->npicks = 0;
    return TIDE_OK;
}

static int add_pick(ext_state *st, uint32_t s, const uint8_t *v, uint32_t vl, int64_t m)
{
    TIDE_TRY(tide__grow(&st->picks, &st->picks_cap, sizeof *st->picks, (size_t)st->npicks + 1));
    uint32_t p = st->npicks++;
    st->picks[p] = (pick){.v = v, .vl = vl, .next = NONE, .m = st->mult ? m : 1};
    slot *sl = &st->slots[s];
    if (sl->tail == NONE)
        sl->head = p;
    else
        st->picks[sl->tail].next = p;
    sl->tail = p;
    sl->taken++;
    return TIDE_OK;
}

/*
 * take - offer candidate (@v, @vl) to the open slots: its multiplicity is
 * @before (its exact total before B) plus its @nu updates @u in B (sorted
 * by time) up to each slot's time. Slots that reach k close. TIDE_ERANGE
 * (st->ovf_t set) when a multiplicity read leaves int64.
 */
static int take(ext_state *st, const uint8_t *v, uint32_t vl, __int128 before,
                const tide_time_delta *u, uint32_t nu)
{
    if (nu == 0 && before <= 0 && before >= INT64_MIN) return TIDE_OK;
    __int128 m = before; /* exact, branch-free; checked where read */
    uint32_t p = 0, w = 0, bad = NONE;
    for (uint32_t i = 0; i < st->nopen; i++) {
        uint32_t s = st->open[i];
        if (s > 0)
            for (; p < nu && tide_time_cmp(u[p].time, st->slots[s].t) <= 0; p++) m += u[p].delta;
        if (TIDE__UNLIKELY(m != (int64_t)m) && bad == NONE) bad = s;
        if (m > 0) TIDE_TRY(add_pick(st, s, v, vl, (int64_t)m));
        if (st->slots[s].taken < st->k) st->open[w++] = s;
    }
    st->nopen = w;
    if (TIDE__UNLIKELY(bad != NONE)) {
        /* The picks are wrong then, but the run fails anyway. */
        st->ovf_t = st->slots[bad > 0 ? bad : st->nslots > 1 ? 1 : 0].t;
        return TIDE_ERANGE;
    }
    return TIDE_OK;
}

/* walk - merge the runs from the extreme end until every slot is closed
 * or the values run out. */
static int walk(ext_state *st, const tide_trace_batch *tb)
{
    run *fresh = &st->runs[st->nruns - 1];
    while (st->nopen > 0) {
        const uint8_t *v = NULL;
        uint32_t vl = 0;
        for (uint32_t i = 0; i < st->nruns; i++) {
            const run *r = &st->runs[i];
            if (r->lo >= r->hi) continue;
            uint32_t l;
            const uint8_t *x = run_val(st, r, &l);
            int c = v == NULL ? -1 : tide_bytes_cmp(x, l, v, vl);
            if (v == NULL || (st->desc ? c > 0 : c < 0)) v = x, vl = l;
        }
        if (v == NULL) break;
        /* Every run holding v: its total before B, or its updates in B. */
        __int128 before = 0;
        const tide_time_delta *u = NULL;
        uint32_t nu = 0;
        for (uint32_t i = 0; i < st->nruns; i++) {
            run *r = &st->runs[i];
            if (r->lo >= r->hi) continue;
            uint32_t l;
            const uint8_t *x = run_val(st, r, &l);
            if (tide_bytes_cmp(x, l, v, vl) != 0) continue;
            uint32_t j = st->desc ? --r->hi : r->lo++;
            uint32_t a = tide__val_upds(r->b, j), z = tide__val_upds(r->b, j + 1);
            if (r == fresh) {
                u = tb->upds + a, nu = z - a;
            } else {
                for (; a < z; a++) before += r->b->upds[a].delta;
            }
        }
        TIDE_TRY(take(st, v, vl, before, u, nu));
    }
    return TIDE_OK;
}

/* emit_diff - the answer of slot @s minus that of slot @s - 1, at slot @s's
 * time. Both lists are in walk order: one merge. */
static int emit_diff(tide_op *op, ext_state *st, tide_time cap, const uint8_t *key, uint32_t kl,
                     uint32_t s)
{
    const pick *P = st->picks;
    uint32_t x = st->slots[s - 1].head, y = st->slots[s].head;
    tide_time t = st->slots[s].t;
    while (x != NONE || y != NONE) {
        int c = x == NONE ? 1 : y == NONE ? -1 : tide_bytes_cmp(P[x].v, P[x].vl, P[y].v, P[y].vl);
        if (st->desc && x != NONE && y != NONE) c = -c;
        const pick *p = c <= 0 ? &P[x] : &P[y];
        /* Picks have positive multiplicities: no difference overflows. */
        int64_t d = (c >= 0 ? P[y].m : 0) - (c <= 0 ? P[x].m : 0);
        if (c <= 0) x = P[x].next;
        if (c >= 0) y = P[y].next;
        if (d != 0) TIDE_TRY(tide_out_push_update(op, 0, cap, key, kl, p->v, p->vl, t, d));
    }
    return TIDE_OK;
}

/* Process announced batch @tb at capability @cap. */
static int ext_batch(tide_op *op, tide__total *base, tide_time cap, const tide_trace_batch *tb)
{
    ext_state *st = (ext_state *)base;
    int rc = cut_runs(st, tb);
    if (rc < 0)
        return tide_op_fail(op, rc, "cutting the trace at a batch's lower: %s", tide_strerror(rc));
    for (uint32_t k = 0; k < tb->nkeys && rc == TIDE_OK; k++) {
        uint32_t kl;
        const uint8_t *key = tide_trace_batch_key(tb, k, &kl);
        runs_at_key(st, k, key, kl);
        if ((rc = key_slots(st, tb, k)) < 0) break;
        if ((rc = walk(st, tb)) == TIDE_ERANGE)
            return tide__diff_overflow(op, key, kl, st->ovf_t,
                                       "a value's accumulated multiplicity leaves int64");
        if (rc < 0) break;
        for (uint32_t s = 1; s < st->nslots && rc == TIDE_OK; s++)
            rc = emit_diff(op, st, cap, key, kl, s);
    }
    if (rc < 0) return tide_op_fail(op, rc, "out of memory finding extreme values");
    return TIDE_OK;
}

tide_stream *tide__extremum_build(tide_arranged *a, const char *name, bool descending, uint32_t k,
                                  bool mult)
{
    ext_state *st = tide_calloc(1, sizeof *st);
    if (st) *st = (ext_state){.desc = descending, .mult = mult, .k = k};
    return tide__total_op(a, name, a->layout, st ? &st->base : NULL, ext_batch, ext_fini);
}
