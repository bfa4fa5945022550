/*
 * constant.c - tide_collection_from: a collection that never changes.
 *
 * A source operator with one initial capability at the scope's least time.
 * At build time it copies the records this worker owns (by key hash, as an
 * exchange would place them) into one buffer; its first activation sends
 * them as +1 updates at time 0 and drops the capability, after which the
 * operator is inert and its frontier empty. No user handle exists, so there
 * is nothing to forget to advance or close (see tide_input in tide/ops.h).
 *
 * Buffer: per record, u32 klen, key bytes, u32 vlen, val bytes, unaligned
 * (read back with memcpy).
 */
#include <string.h>

#include "tide/alloc.h"
#include "tide/collection.h"
#include "worker.h"

typedef struct constant {
    uint8_t *buf; /* the records this worker sends, encoded as above */
    size_t len;   /* bytes used */
    size_t count; /* records in buf */
    bool sent;    /* first activation done: capability dropped */
} constant;

static void constant_free(void *p)
{
    constant *c = p;
    if (c == NULL) return;
    tide_free(c->buf);
    tide_free(c);
}

static void put(uint8_t **at, const void *p, uint32_t n)
{
    memcpy(*at, &n, sizeof n);
    *at += sizeof n;
    if (n) memcpy(*at, p, n);
    *at += n;
}

static const uint8_t *get(const uint8_t **at, uint32_t *n)
{
    memcpy(n, *at, sizeof *n);
    const uint8_t *p = *at + sizeof *n;
    *at = p + *n;
    return p;
}

static void constant_schedule(tide_op *op, void *state)
{
    constant *c = state;
    if (c->sent) return;
    c->sent = true;
    const uint8_t *at = c->buf;
    for (size_t i = 0; i < c->count; i++) {
        uint32_t kl, vl;
        const uint8_t *k = get(&at, &kl);
        const uint8_t *v = get(&at, &vl);
        if (tide_out_push_update(op, 0, TIDE_TIME_ZERO, k, kl, v, vl, TIDE_TIME_ZERO, 1) < 0)
            return; /* the worker has the (sticky) error */
    }
    if (tide_out_flush(op) < 0) return;
    tide_op_drop(op, TIDE_TIME_ZERO);
    tide_free(c->buf); /* sent: never needed again */
    c->buf = NULL;
}

static bool fits(uint32_t width, uint32_t len)
{
    return width == TIDE_VAR || width == len;
}

/* Copy the records of @r this worker owns into @c. */
static int collect(constant *c, tide_worker *w, tide_layout layout, const tide_record_init *r,
                   size_t n)
{
    size_t bytes = 0;
    uint32_t peers = tide_worker_peers(w), me = tide_worker_index(w);
    for (size_t i = 0; i < n; i++) {
        if (!fits(layout.key_width, r[i].klen) || !fits(layout.val_width, r[i].vlen) ||
            (r[i].klen && r[i].key == NULL) || (r[i].vlen && r[i].val == NULL))
            return tide__worker_fail(w, TIDE_EINVAL,
                                     "tide_collection_from: record %zu is (%u, %u) bytes, "
                                     "not of the collection's layout",
                                     i, r[i].klen, r[i].vlen);
        if (tide_hash_owner(tide_hash(r[i].key, r[i].klen), peers) != me) continue;
        bytes += 2 * sizeof(uint32_t) + r[i].klen + r[i].vlen;
        c->count++;
    }
    c->buf = tide_alloc(bytes ? bytes : 1);
    if (c->buf == NULL)
        return tide__worker_fail(w, TIDE_ENOMEM, "tide_collection_from: out of memory (%zu bytes)",
                                 bytes);
    uint8_t *at = c->buf;
    for (size_t i = 0; i < n; i++) {
        if (tide_hash_owner(tide_hash(r[i].key, r[i].klen), peers) != me) continue;
        put(&at, r[i].key, r[i].klen);
        put(&at, r[i].val, r[i].vlen);
    }
    c->len = bytes;
    return TIDE_OK;
}

tide_stream *tide_collection_from(tide_scope *s, tide_layout layout,
                                  const tide_record_init *records, size_t n)
{
    tide_worker *w = tide_scope_worker(s);
    if (n > 0 && records == NULL) {
        tide__worker_fail(w, TIDE_EINVAL, "tide_collection_from: %zu records at NULL", n);
        return NULL;
    }
    constant *c = tide_calloc(1, sizeof *c);
    if (c == NULL) {
        tide__worker_fail(w, TIDE_ENOMEM, "tide_collection_from: out of memory");
        return NULL;
    }
    if (collect(c, w, layout, records, n) < 0) {
        constant_free(c);
        return NULL;
    }
    uint32_t flags = TIDE_BATCH_UPDATES;
    tide_op_desc d = {.name = "constant",
                      .noutputs = 1,
                      .outputs = &layout,
                      .out_flags = &flags,
                      .schedule = constant_schedule,
                      .state = c,
                      .state_free = constant_free,
                      .initial_capability = true};
    tide_op *op = tide_op_build(s, &d);
    if (op == NULL) {
        constant_free(c);
        return NULL;
    }
    return tide_op_output(op, 0);
}

tide_stream *tide_collection_from_u64(tide_scope *s, const uint64_t *keys, size_t n)
{
    tide_worker *w = tide_scope_worker(s);
    uint8_t *bytes = tide_alloc(n ? n * 8 : 1);
    tide_record_init *r = tide_calloc(n ? n : 1, sizeof *r);
    tide_stream *out = NULL;
    if (bytes == NULL || r == NULL) {
        tide__worker_fail(w, TIDE_ENOMEM, "tide_collection_from_u64: out of memory (%zu keys)", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        tide_u64_store(bytes + i * 8, keys[i]);
        r[i] = (tide_record_init){.key = bytes + i * 8, .klen = 8};
    }
    out = tide_collection_from(s, tide_layout_make(8, 0), r, n);
done:
    tide_free(bytes);
    tide_free(r);
    return out;
}
