/*
 * timestamp.c - formatting of product times and the path-summary algebra.
 *
 * A summary acts on each coordinate independently: keep or reset to 0, then
 * add. Coordinate 0 is a u64, coordinates 1 and 2 are u32; applying a summary
 * fails (returns false) when the result does not fit, which progress tracking
 * reads as "this path never produces a time". Composition saturates at
 * UINT64_MAX, so a composed summary overflows whenever its parts would.
 * Summary sets are antichains under tide_summary_le: no element is <= another.
 */
#include <stdio.h>
#include <string.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "tide/time.h"

char *tide_time_fmt(tide_time t, char *buf, unsigned long size)
{
    if (buf == NULL || size == 0) return buf;
    snprintf(buf, size, "(%llu,%u,%u)", (unsigned long long)t.epoch, t.iter[0], t.iter[1]);
    return buf;
}

/* ======================== Summaries ======================== */

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r = a + b;
    return r < a ? UINT64_MAX : r;
}

/* tide_summary_apply is static inline in tide/time.h (hot in propagate). */

tide_summary tide_summary_then(tide_summary a, tide_summary b)
{
    tide_summary r;
    r.reset = 0;
    for (int d = 0; d < TIDE_TIME_DIMS; d++) {
        uint8_t bit = (uint8_t)(1u << d);
        if (b.reset & bit) {
            /* b forgets whatever a did to this coordinate. */
            r.reset |= bit;
            r.add[d] = b.add[d];
        } else {
            r.reset |= a.reset & bit;
            r.add[d] = sat_add(a.add[d], b.add[d]);
        }
    }
    return r;
}

bool tide_summary_le(tide_summary a, tide_summary b)
{
    for (int d = 0; d < TIDE_TIME_DIMS; d++) {
        uint8_t bit = (uint8_t)(1u << d);
        if (a.add[d] > b.add[d]) return false;
        /* If a keeps the coordinate and b resets it, a large enough input
         * coordinate makes a's result exceed b's constant. */
        if (!(a.reset & bit) && (b.reset & bit)) return false;
    }
    return true;
}

bool tide_summary_eq(tide_summary a, tide_summary b)
{
    uint8_t mask = (1u << TIDE_TIME_DIMS) - 1;
    return (a.reset & mask) == (b.reset & mask) && a.add[0] == b.add[0] && a.add[1] == b.add[1] &&
           a.add[2] == b.add[2];
}

/* ======================== Summary sets ======================== */

void tide_summary_set_init(tide_summary_set *s)
{
    memset(s, 0, sizeof *s);
}

void tide_summary_set_fini(tide_summary_set *s)
{
    tide_free(s->elems);
    memset(s, 0, sizeof *s);
}

int tide_summary_set_insert(tide_summary_set *s, tide_summary x)
{
    for (uint32_t i = 0; i < s->len; i++)
        if (tide_summary_le(s->elems[i], x)) return 0;
    /* Grow before evicting, so that a failed allocation leaves @s intact. */
    if (s->len == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 2;
        tide_summary *p = tide_realloc(s->elems, (size_t)cap * sizeof *p);
        if (p == NULL) return TIDE_ENOMEM;
        s->elems = p;
        s->cap = cap;
    }
    /* Nothing is <= x, so x is new; drop whatever x now makes redundant. */
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->len; i++)
        if (!tide_summary_le(x, s->elems[i])) s->elems[w++] = s->elems[i];
    s->len = w;
    s->elems[s->len++] = x;
    return 1;
}
