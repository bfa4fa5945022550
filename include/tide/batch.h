/*
 * tide/batch.h - columnar batches of records: the unit every channel moves.
 *
 * A batch holds @len records of one layout: a key column and a value column,
 * each either fixed-width (a dense array of len * width bytes) or variable
 * (an offsets array of len + 1 u32 plus a byte heap). An *update* batch
 * (TIDE_BATCH_UPDATES) also has a time column and a diff column: the
 * (data, time, diff) triples of differential dataflow. The batch's own
 * @time is its timely capability time: every record time is >= it.
 *
 * Batches are refcounted. A batch being built belongs to one owner; once
 * sent it is immutable and may be shared by several readers (fan-out, a
 * trace and its readers), each holding a reference. Refcounts are atomic so
 * a batch may move or be shared across worker threads.
 *
 *   key column (fixed 8)   | k0 | k1 | k2 | ...            width * len bytes
 *   key column (variable)  offs: 0 | 5 | 9 | ...           len + 1 u32
 *                          heap: "alpha" "beta" ...        offs[len] bytes
 */
#ifndef TIDE_BATCH_H
#define TIDE_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/record.h"
#include "tide/time.h"

#define TIDE_VAR UINT32_MAX /* a variable-width column */

/* Default record capacity of the batches that channels build. */
#define TIDE_BATCH_RECORDS 4096
/* A variable-width batch counts as full past this many heap bytes. */
#define TIDE_BATCH_BYTES (256u * 1024u)

/* The shape of a stream's records. Width 0 is an empty column (e.g. the
 * value of a plain set of keys). */
typedef struct tide_layout {
    uint32_t key_width; /* bytes, or TIDE_VAR */
    uint32_t val_width; /* bytes, or TIDE_VAR */
} tide_layout;

static inline tide_layout tide_layout_make(uint32_t kw, uint32_t vw)
{
    return (tide_layout){kw, vw};
}
static inline bool tide_layout_eq(tide_layout a, tide_layout b)
{
    return a.key_width == b.key_width && a.val_width == b.val_width;
}

typedef struct tide_col {
    uint8_t *bytes;    /* fixed: len * width bytes; variable: the heap */
    uint32_t *offs;    /* variable only: len + 1 offsets into bytes */
    uint32_t width;    /* bytes per record, or TIDE_VAR */
    uint32_t heap_len; /* variable only: bytes used in the heap */
    uint32_t heap_cap; /* variable only: heap capacity */
} tide_col;

enum {
    TIDE_BATCH_UPDATES = 1u << 0, /* has time and diff columns */
};

typedef struct tide_batch {
    uint32_t refs;  /* atomic reference count */
    uint32_t flags; /* TIDE_BATCH_* */
    uint32_t len;   /* records */
    uint32_t cap;   /* record capacity of the fixed-size arrays */
    tide_time time; /* capability time of this message */
    tide_layout layout;
    tide_col key, val;
    tide_time *times; /* TIDE_BATCH_UPDATES only */
    int64_t *diffs;   /* TIDE_BATCH_UPDATES only */
    /* An attachment that travels with the batch on PIPELINE channels (e.g.
     * a sealed trace batch announced by an arrangement); released with the
     * batch by ext_free. Never crosses workers. */
    void *ext;
    void (*ext_free)(void *ext);
} tide_batch;

/*
 * tide_batch_new - an empty batch with room for @cap records (grows as
 * needed) and one reference, owned by the caller.
 * @return a new reference, or NULL when out of memory.
 */
tide_batch *tide_batch_new(tide_layout layout, uint32_t flags, uint32_t cap);

/* tide_batch_ref - take another reference; returns @b. */
tide_batch *tide_batch_ref(tide_batch *b);

/* tide_batch_unref - drop a reference; the last one frees. NULL is fine. */
void tide_batch_unref(tide_batch *b);

/* Only the single owner may mutate: refs == 1. */
static inline bool tide_batch_is_shared(const tide_batch *b)
{
    return __atomic_load_n(&b->refs, __ATOMIC_ACQUIRE) > 1;
}

/* tide_batch_clear - drop all records, keep capacity (owner only). */
void tide_batch_clear(tide_batch *b);

/* tide_batch_reserve - make room for @n more records and @heap more variable
 * bytes in each variable column. TIDE_OK or TIDE_ENOMEM. */
int tide_batch_reserve(tide_batch *b, uint32_t n, uint32_t heap);

/*
 * tide_batch_push - append a record (plain batch: times/diffs ignored).
 * @klen/@vlen must equal the layout's width for fixed columns (else
 * TIDE_EINVAL). @return TIDE_OK, TIDE_EINVAL, TIDE_ENOMEM.
 */
int tide_batch_push(tide_batch *b, const void *key, uint32_t klen, const void *val, uint32_t vlen);

/* tide_batch_push_update - append an update (UPDATES batch only). */
int tide_batch_push_update(tide_batch *b, const void *key, uint32_t klen, const void *val,
                           uint32_t vlen, tide_time t, int64_t diff);

/* tide_batch_push_from - append record @i of @src (same layout; copies its
 * time and diff when both are update batches). */
int tide_batch_push_from(tide_batch *b, const tide_batch *src, uint32_t i);

/* tide_batch_full - at or past TIDE_BATCH_RECORDS records or
 * TIDE_BATCH_BYTES heap bytes: time to send it. */
bool tide_batch_full(const tide_batch *b);

/* Column access (borrowed pointers, valid while the batch lives). */
static inline const uint8_t *tide_col_get(const tide_col *c, uint32_t i, uint32_t *len)
{
    if (c->width != TIDE_VAR) {
        *len = c->width;
        return c->bytes + (size_t)i * c->width;
    }
    *len = c->offs[i + 1] - c->offs[i];
    return c->bytes + c->offs[i];
}
static inline const uint8_t *tide_batch_key(const tide_batch *b, uint32_t i, uint32_t *len)
{
    return tide_col_get(&b->key, i, len);
}
static inline const uint8_t *tide_batch_val(const tide_batch *b, uint32_t i, uint32_t *len)
{
    return tide_col_get(&b->val, i, len);
}
/* Fast path for fixed columns of width >= 8: the first field as a u64. */
static inline uint64_t tide_batch_key_u64(const tide_batch *b, uint32_t i)
{
    return tide_u64_load(b->key.bytes + (size_t)i * b->key.width);
}
static inline uint64_t tide_batch_val_u64(const tide_batch *b, uint32_t i)
{
    return tide_u64_load(b->val.bytes + (size_t)i * b->val.width);
}

/* tide_batch_cmp - compare record @i of @a with record @j of @b by
 * (key, val) in the record order; times and diffs are not compared. */
int tide_batch_cmp(const tide_batch *a, uint32_t i, const tide_batch *b, uint32_t j);

/*
 * tide_batch_consolidate - sort an UPDATES batch (owner only) by
 * (key, val, time under tide_time_cmp), sum the diffs of equal triples and
 * drop zeros. Fixed widths take a faster path than variable ones. Sums are
 * exact: only a total that leaves int64 is an error, whatever the order of
 * its terms.
 * @return TIDE_OK; TIDE_ENOMEM (the batch is then unchanged); TIDE_ERANGE
 * when some triple's diffs sum past int64 (the batch's contents are then
 * unspecified: the caller fails, naming itself).
 */
int tide_batch_consolidate(tide_batch *b);

/*
 * tide_batch_partition - append each record of @src to outs[owner] where
 * owner = tide_hash_owner(tide_hash(key), @peers). outs[w] may be NULL
 * for no worker; they must share @src's layout and flags.
 * @return TIDE_OK or TIDE_ENOMEM.
 */
int tide_batch_partition(const tide_batch *src, tide_batch **outs, uint32_t peers);

#endif /* TIDE_BATCH_H */
