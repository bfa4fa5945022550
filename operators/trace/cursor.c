/*
 * cursor.c - reads the union of a few trace batches as one sorted trie.
 *
 * The cursor keeps a position (key index, val index) in every batch and
 * presents the least current key among them; the batches positioned at that
 * key are "on" it. Within the key, the least current val among the on
 * batches is presented the same way. This is a k-way merge done by linear
 * scans: k is the number of non-empty batches of a spine, O(log n), so a scan
 * is cheaper than maintaining a heap. Seeks gallop (exponential probe, then
 * binary search) forward in each batch: O(log distance) comparisons; key
 * seeks in large batches first skip ahead by the batch's fence index.
 *
 * Invariants: when key_valid, every batch's ki points at its first key >=
 * the current key, and kon[i] says whether that key equals the current one;
 * for on batches, vi lies in the key's val range, likewise for vals.
 * The cursor holds a reference to each batch, so it reads a fixed snapshot.
 */
#include <assert.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "trace/trace_int.h"

struct tide_cursor {
    uint32_t n;           /* batches read (empty ones are skipped) */
    tide_trace_batch **b; /* one reference each */
    uint32_t *ki;         /* per batch: current key index (nkeys: exhausted) */
    uint32_t *vi;         /* per batch: current val index (meaningful when kon) */
    uint8_t *kon;         /* per batch: its current key is the cursor's key */
    uint8_t *von;         /* per batch: its current val is the cursor's val */
    bool kvalid, vvalid;  /* a current key / val exists */
    const uint8_t *key;   /* current key bytes (borrowed from a batch) */
    const uint8_t *val;   /* current val bytes */
    uint32_t klen, vlen;
};

/* ======================================================================== */
/* Search helpers                                                           */
/* ======================================================================== */

/* ======================================================================== */
/* Positioning                                                              */
/* ======================================================================== */

static void find_val(tide_cursor *c)
{
    c->vvalid = false;
    for (uint32_t i = 0; i < c->n; i++) {
        c->von[i] = 0;
        if (!c->kon[i]) continue;
        const tide_trace_batch *b = c->b[i];
        if (c->vi[i] >= b->key_vals[c->ki[i] + 1]) continue;
        uint32_t l;
        const uint8_t *v = tide_trace_batch_val(b, c->vi[i], &l);
        int cmp = c->vvalid ? tide_bytes_cmp(v, l, c->val, c->vlen) : -1;
        if (cmp < 0) {
            for (uint32_t j = 0; j < i; j++) c->von[j] = 0;
            c->val = v, c->vlen = l, c->vvalid = true;
        }
        if (cmp <= 0) c->von[i] = 1;
    }
}

static void find_key(tide_cursor *c)
{
    c->kvalid = false;
    for (uint32_t i = 0; i < c->n; i++) {
        c->kon[i] = 0;
        const tide_trace_batch *b = c->b[i];
        if (c->ki[i] >= b->nkeys) continue;
        uint32_t l;
        const uint8_t *k = tide_trace_batch_key(b, c->ki[i], &l);
        int cmp = c->kvalid ? tide_bytes_cmp(k, l, c->key, c->klen) : -1;
        if (cmp < 0) {
            for (uint32_t j = 0; j < i; j++) c->kon[j] = 0;
            c->key = k, c->klen = l, c->kvalid = true;
        }
        if (cmp <= 0) c->kon[i] = 1;
    }
    for (uint32_t i = 0; i < c->n; i++)
        if (c->kon[i]) c->vi[i] = c->b[i]->key_vals[c->ki[i]];
    find_val(c);
}

/* ======================================================================== */
/* Lifetime                                                                 */
/* ======================================================================== */

int tide__cursor_new(tide_trace_batch *const *batches, uint32_t n, tide_cursor **out)
{
    *out = NULL;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) k += batches[i]->nkeys > 0;
    size_t size = sizeof(tide_cursor) + k * (sizeof(tide_trace_batch *) + 2 * sizeof(uint32_t) + 2);
    tide_cursor *c = tide_alloc(size);
    if (!c) return TIDE_ENOMEM;
    memset(c, 0, sizeof *c);
    c->n = k;
    c->b = (tide_trace_batch **)(c + 1);
    c->ki = (uint32_t *)(c->b + k);
    c->vi = c->ki + k;
    c->kon = (uint8_t *)(c->vi + k);
    c->von = c->kon + k;
    k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (batches[i]->nkeys > 0) c->b[k++] = tide_trace_batch_ref(batches[i]);
    tide_cursor_rewind_keys(c);
    *out = c;
    return TIDE_OK;
}

int tide_trace_batch_cursor(tide_trace_batch *b, tide_cursor **out)
{
    return tide__cursor_new(&b, 1, out);
}

void tide_cursor_free(tide_cursor *c)
{
    if (!c) return;
    for (uint32_t i = 0; i < c->n; i++) tide_trace_batch_unref(c->b[i]);
    tide_free(c);
}

/* ======================================================================== */
/* Keys                                                                     */
/* ======================================================================== */

bool tide_cursor_key_valid(const tide_cursor *c)
{
    return c->kvalid;
}

const uint8_t *tide_cursor_key(const tide_cursor *c, uint32_t *len)
{
    assert(c->kvalid);
    *len = c->klen;
    return c->key;
}

void tide_cursor_step_key(tide_cursor *c)
{
    if (!c->kvalid) return;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->kon[i]) c->ki[i]++;
    find_key(c);
}

void tide_cursor_seek_key(tide_cursor *c, const void *key, uint32_t len)
{
    if (!c->kvalid) return;
    if (tide_bytes_cmp(c->key, c->klen, key, len) >= 0) return;
    for (uint32_t i = 0; i < c->n; i++)
        c->ki[i] = tide__batch_seek_key(c->b[i], c->ki[i], key, len);
    find_key(c);
}

void tide_cursor_rewind_keys(tide_cursor *c)
{
    for (uint32_t i = 0; i < c->n; i++) c->ki[i] = 0;
    find_key(c);
}

/* ======================================================================== */
/* Vals and times                                                           */
/* ======================================================================== */

bool tide_cursor_val_valid(const tide_cursor *c)
{
    return c->vvalid;
}

const uint8_t *tide_cursor_val(const tide_cursor *c, uint32_t *len)
{
    assert(c->vvalid);
    *len = c->vlen;
    return c->val;
}

void tide_cursor_step_val(tide_cursor *c)
{
    if (!c->vvalid) return;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->von[i]) c->vi[i]++;
    find_val(c);
}

void tide_cursor_seek_val(tide_cursor *c, const void *val, uint32_t len)
{
    if (!c->vvalid) return;
    if (tide_bytes_cmp(c->val, c->vlen, val, len) >= 0) return;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->kon[i])
            c->vi[i] = tide__col_gallop(&c->b[i]->vals, c->vi[i], c->b[i]->key_vals[c->ki[i] + 1],
                                        val, len);
    find_val(c);
}

void tide_cursor_rewind_vals(tide_cursor *c)
{
    if (!c->kvalid) return;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->kon[i]) c->vi[i] = c->b[i]->key_vals[c->ki[i]];
    find_val(c);
}

void tide_cursor_map_times(const tide_cursor *c, tide_time_fn fn, void *ctx)
{
    if (!c->vvalid) return;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->von[i]) continue;
        const tide_trace_batch *b = c->b[i];
        for (uint32_t u = b->val_upds[c->vi[i]]; u < b->val_upds[c->vi[i] + 1]; u++)
            fn(ctx, b->upds[u].time, b->upds[u].delta);
    }
}
