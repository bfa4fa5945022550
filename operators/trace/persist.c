/*
 * persist.c - a trace's contents in a snapshot section (tide_trace_save,
 * tide_trace_load of tide/snapshot.h).
 *
 * Saved: every (key, val) of the trace with its diffs summed over all
 * times (the times are < the saved epoch, and every later time is beyond
 * all of them in a root scope, so no later read can tell them apart).
 * Loaded: one batch [0, R) whose updates sit at time 0, built with the
 * trie builder from exact sizes (counted in the section's head).
 *
 * Section: u64 nkeys, nvals, kheap, vheap; per key: key, u32 nvals; per
 * val: val, i64 diff. A key or val is its bytes for a fixed width, else
 * u32 length + bytes.
 */
#include <string.h>

#include "../arrange.h"
#include "../diff.h"
#include "tide/snapshot.h"
#include "trace_int.h"

static int put_item(tide_snap *s, uint32_t width, const uint8_t *p, uint32_t len)
{
    if (width == TIDE_VAR) return tide_snap_put_bytes(s, p, len);
    return tide_snap_put(s, p, width);
}

static void sum_fn(void *ctx, tide_time t, int64_t d)
{
    (void)t;
    tide__diff_sum_add(ctx, d);
}

int tide_trace_save(tide_trace *t, tide_snap *s)
{
    tide_spine *sp = tide_trace_spine(t);
    tide_layout l = tide_spine_layout(sp);
    size_t head = tide__snap_len(s);
    uint64_t n[4] = {0, 0, 0, 0}; /* nkeys, nvals, kheap, vheap */
    TIDE_TRY(tide_snap_put(s, n, sizeof n));
    tide_cursor *c;
    TIDE_TRY(tide_spine_cursor(sp, &c));
    int rc = TIDE_OK;
    for (; rc == TIDE_OK && tide_cursor_key_valid(c); tide_cursor_step_key(c)) {
        uint32_t kl;
        const uint8_t *k = tide_cursor_key(c, &kl);
        size_t at = tide__snap_len(s);
        uint32_t nv = 0;
        rc = put_item(s, l.key_width, k, kl);
        size_t nv_at = tide__snap_len(s);
        if (rc == TIDE_OK) rc = tide_snap_put(s, &nv, sizeof nv);
        for (; rc == TIDE_OK && tide_cursor_val_valid(c); tide_cursor_step_val(c)) {
            tide__diff_sum sum = {0, 0};
            tide_cursor_map_times(c, sum_fn, &sum);
            if (!tide__diff_sum_ok(&sum)) rc = TIDE_ERANGE;
            if (rc < 0 || sum.v == 0) continue;
            uint32_t vl;
            const uint8_t *v = tide_cursor_val(c, &vl);
            rc = put_item(s, l.val_width, v, vl);
            if (rc == TIDE_OK) rc = tide_snap_put(s, &sum.v, sizeof sum.v);
            nv++;
            n[3] += l.val_width == TIDE_VAR ? vl : 0;
        }
        if (rc < 0) break;
        if (nv == 0) { /* every val cancelled: no key */
            tide__snap_truncate(s, at);
            continue;
        }
        tide__snap_patch(s, nv_at, &nv, sizeof nv);
        n[0]++;
        n[1] += nv;
        n[2] += l.key_width == TIDE_VAR ? kl : 0;
    }
    tide_cursor_free(c);
    if (rc == TIDE_OK) tide__snap_patch(s, head, n, sizeof n);
    return rc;
}

static int get_item(tide_snap *s, uint32_t width, const uint8_t **p, uint32_t *len)
{
    if (width == TIDE_VAR) return tide_snap_get_bytes(s, p, len);
    *len = width;
    *p = tide_snap_get_ptr(s, width);
    return *p || width == 0 ? TIDE_OK : TIDE_EPARSE;
}

/* Walk the entries after the head: check they fit the counts @n and come
 * in strictly increasing order (the builder assumes both). */
static int check(tide_snap *s, tide_layout l, const uint64_t n[4])
{
    uint64_t keys = 0, vals = 0, kheap = 0, vheap = 0;
    const uint8_t *pk = NULL;
    uint32_t pkl = 0;
    while (keys < n[0]) {
        const uint8_t *k, *v, *pv = NULL;
        uint32_t kl, vl, pvl = 0, nv;
        TIDE_TRY(get_item(s, l.key_width, &k, &kl));
        TIDE_TRY(tide_snap_get(s, &nv, sizeof nv));
        if (nv == 0 || (pk && tide_bytes_cmp(pk, pkl, k, kl) >= 0)) return TIDE_EPARSE;
        for (uint32_t i = 0; i < nv; i++) {
            int64_t d;
            TIDE_TRY(get_item(s, l.val_width, &v, &vl));
            TIDE_TRY(tide_snap_get(s, &d, sizeof d));
            if (d == 0 || (pv && tide_bytes_cmp(pv, pvl, v, vl) >= 0)) return TIDE_EPARSE;
            pv = v, pvl = vl;
            vheap += l.val_width == TIDE_VAR ? vl : 0;
        }
        pk = k, pkl = kl;
        keys++, vals += nv;
        kheap += l.key_width == TIDE_VAR ? kl : 0;
    }
    return vals == n[1] && kheap == n[2] && vheap == n[3] ? TIDE_OK : TIDE_EPARSE;
}

int tide_trace_load(tide_trace *t, tide_snap *s)
{
    tide_spine *sp = tide_trace_spine(t);
    tide_layout l = tide_spine_layout(sp);
    if (tide_spine_batches(sp) > 0 || !tide__frontier_is_zero(tide_spine_upper(sp)))
        return TIDE_ESTATE;
    uint64_t n[4];
    TIDE_TRY(tide_snap_get(s, n, sizeof n));
    if (n[0] > n[1] || n[1] > UINT32_MAX) return TIDE_EPARSE;
    const uint8_t *start = tide_snap_get_ptr(s, 0);
    TIDE_TRY(check(s, l, n));
    const uint8_t *end = tide_snap_get_ptr(s, 0);
    tide_antichain lower, upper;
    tide_antichain_init(&lower);
    tide_antichain_init(&upper);
    tide__builder bl;
    int rc = tide__frontier_zero(&lower);
    if (rc >= 0) rc = tide_antichain_insert(&upper, tide_time_epoch(tide_snap_epoch(s)));
    if (rc >= 0)
        rc = tide__builder_init(&bl, l, (uint32_t)n[0], (uint32_t)n[1], (uint32_t)n[1], n[2], n[3],
                                &lower, &upper, NULL);
    tide_antichain_fini(&lower);
    tide_antichain_fini(&upper);
    TIDE_TRY(rc);
    /* The entries again, checked now: build. */
    const uint8_t *p = start;
    for (uint64_t k = 0; k < n[0]; k++) {
        uint32_t kl = l.key_width, nv;
        if (l.key_width == TIDE_VAR) memcpy(&kl, p, 4), p += 4;
        tide__builder_key(&bl, p, kl);
        p += kl;
        memcpy(&nv, p, 4), p += 4;
        for (uint32_t i = 0; i < nv; i++) {
            uint32_t vl = l.val_width;
            int64_t d;
            if (l.val_width == TIDE_VAR) memcpy(&vl, p, 4), p += 4;
            tide__builder_val(&bl, p, vl);
            p += vl;
            memcpy(&d, p, 8), p += 8;
            tide__builder_upd(&bl, TIDE_TIME_ZERO, d);
            tide__builder_end_val(&bl, false);
        }
        tide__builder_end_key(&bl);
    }
    (void)end;
    tide_trace_batch *tb = tide__builder_finish(&bl);
    rc = tide_trace_insert(t, tb);
    tide_trace_batch_unref(tb);
    return rc;
}
