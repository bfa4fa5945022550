/*
 * reader.c - a spine shared by an owner and several readers, each holding
 * back compaction to its own frontiers.
 *
 * Depends on spine.c. Invariants: the spine's logical (physical) frontier is
 * the meet of the live readers' logical (physical) frontiers - the antichain
 * of minimal elements of their union, which is <= each of them - or the
 * empty antichain when no reader is left. Readers only advance, and new
 * readers start at the spine's frontiers, so the spine's frontiers only
 * advance too - except from that empty "no holds" frontier: a reader that
 * started there could never cut at the uppers of batches still to come (the
 * spine would merge them away under it) nor advance, so it starts at the
 * spine's upper instead (start_at). refs counts the owner's handle plus one
 * per live reader.
 */
#include <assert.h>

#include "tide/alloc.h"
#include "tide/error.h"
#include "trace/trace_int.h"

struct tide_trace {
    uint32_t refs;              /* owner handle(s) + live readers */
    uint32_t nreaders;          /* live readers */
    tide_spine *spine;          /* the shared storage */
    tide_trace_reader *readers; /* intrusive doubly linked list of live readers */
};

struct tide_trace_reader {
    tide_trace *trace;              /* one reference */
    tide_trace_reader *prev, *next; /* siblings in trace->readers */
    tide_antichain logical;         /* times this reader still tells apart */
    tide_antichain physical;        /* it may still cut cursors at or beyond this */
};

/* ======================================================================== */
/* Trace                                                                    */
/* ======================================================================== */

tide_trace *tide_trace_new(tide_layout layout)
{
    tide_trace *t = tide_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->spine = tide_spine_new(layout);
    if (!t->spine) {
        tide_free(t);
        return NULL;
    }
    t->refs = 1;
    return t;
}

tide_trace *tide_trace_ref(tide_trace *t)
{
    t->refs++;
    return t;
}

void tide_trace_unref(tide_trace *t)
{
    if (!t) return;
    assert(t->refs > 0);
    if (--t->refs) return;
    assert(t->nreaders == 0);
    tide_spine_free(t->spine);
    tide_free(t);
}

tide_spine *tide_trace_spine(tide_trace *t)
{
    return t->spine;
}

int tide_trace_insert(tide_trace *t, tide_trace_batch *batch)
{
    return tide_spine_insert(t->spine, batch);
}

uint32_t tide_trace_readers(const tide_trace *t)
{
    return t->nreaders;
}

/* Recompute the spine's frontiers as the meet over the live readers.
 * @which: 0 logical, 1 physical. Under TIDE_ENOMEM the spine keeps its old
 * frontier, which is <= the meet and so still safe (only less compacted). */
static int recompute(tide_trace *t, int which)
{
    tide_antichain meet;
    tide_antichain_init(&meet);
    int rc = TIDE_OK;
    for (tide_trace_reader *r = t->readers; r && rc == TIDE_OK; r = r->next) {
        const tide_antichain *f = which ? &r->physical : &r->logical;
        for (uint32_t i = 0; i < f->len; i++) {
            int irc = tide_antichain_insert(&meet, f->elems[i]);
            if (irc < 0) {
                rc = irc;
                break;
            }
        }
    }
    if (rc == TIDE_OK)
        rc = which ? tide_spine_set_physical(t->spine, &meet)
                   : tide_spine_set_logical(t->spine, &meet);
    tide_antichain_fini(&meet);
    return rc;
}

/* ======================================================================== */
/* Readers                                                                  */
/* ======================================================================== */

/* start_at - where a new reader's frontier starts: the spine's frontier
 * @f, or the spine's upper when @f is empty because no reader held the
 * spine (recompute after the last one left; *moved set). Going back from
 * empty to the upper is safe: every batch so far ends at or before the
 * upper, so the spine stays as merged as it is and only the batches still
 * to come are held, and advancing by the empty frontier changed no time. */
static const tide_antichain *start_at(const tide_trace *t, const tide_antichain *f, bool *moved)
{
    if (f->len > 0 || t->nreaders > 0) return f;
    const tide_antichain *up = tide_spine_upper(t->spine);
    if (up->len > 0) *moved = true;
    return up;
}

int tide_trace_reader_new(tide_trace *t, tide_trace_reader **out)
{
    *out = NULL;
    tide_trace_reader *r = tide_calloc(1, sizeof *r);
    if (!r) return TIDE_ENOMEM;
    tide_antichain_init(&r->logical);
    tide_antichain_init(&r->physical);
    bool moved = false;
    if (tide_antichain_copy(&r->logical, start_at(t, tide_spine_logical(t->spine), &moved)) < 0 ||
        tide_antichain_copy(&r->physical, start_at(t, tide_spine_physical(t->spine), &moved)) < 0) {
        tide_antichain_fini(&r->logical);
        tide_antichain_fini(&r->physical);
        tide_free(r);
        return TIDE_ENOMEM;
    }
    r->trace = tide_trace_ref(t);
    r->next = t->readers;
    if (t->readers) t->readers->prev = r;
    t->readers = r;
    t->nreaders++;
    if (moved) {
        /* The spine must hold from the new start too; if it cannot, give up. */
        int rc = recompute(t, 0);
        if (rc == TIDE_OK) rc = recompute(t, 1);
        if (rc < 0) {
            tide_trace_reader_free(r);
            return rc;
        }
    }
    *out = r;
    return TIDE_OK;
}

void tide_trace_reader_free(tide_trace_reader *r)
{
    if (!r) return;
    tide_trace *t = r->trace;
    if (r->prev)
        r->prev->next = r->next;
    else
        t->readers = r->next;
    if (r->next) r->next->prev = r->prev;
    t->nreaders--;
    tide_antichain_fini(&r->logical);
    tide_antichain_fini(&r->physical);
    tide_free(r);
    /* Release the holds. A failure to allocate here leaves older frontiers
     * in place: safe, and corrected by the next recomputation. */
    (void)recompute(t, 0);
    (void)recompute(t, 1);
    tide_trace_unref(t);
}

static int reader_set(tide_trace_reader *r, tide_antichain *mine, const tide_antichain *frontier,
                      int which)
{
    if (!tide__frontier_le(mine, frontier)) return TIDE_EINVAL;
    tide_antichain tmp, old;
    tide_antichain_init(&tmp);
    if (tide_antichain_copy(&tmp, frontier) < 0) {
        tide_antichain_fini(&tmp);
        return TIDE_ENOMEM;
    }
    old = *mine;
    *mine = tmp;
    int rc = recompute(r->trace, which);
    if (rc < 0) {
        /* recompute left the spine as it was; so is the reader. */
        tide_antichain_fini(mine);
        *mine = old;
        return rc;
    }
    tide_antichain_fini(&old);
    return TIDE_OK;
}

int tide_trace_reader_set_logical(tide_trace_reader *r, const tide_antichain *frontier)
{
    return reader_set(r, &r->logical, frontier, 0);
}

int tide_trace_reader_set_physical(tide_trace_reader *r, const tide_antichain *frontier)
{
    return reader_set(r, &r->physical, frontier, 1);
}

const tide_antichain *tide_trace_reader_logical(const tide_trace_reader *r)
{
    return &r->logical;
}
const tide_antichain *tide_trace_reader_physical(const tide_trace_reader *r)
{
    return &r->physical;
}
tide_trace *tide_trace_reader_trace(const tide_trace_reader *r)
{
    return r->trace;
}

int tide_trace_reader_cursor(tide_trace_reader *r, tide_cursor **out)
{
    return tide_spine_cursor(r->trace->spine, out);
}

int tide_trace_reader_cursor_through(tide_trace_reader *r, const tide_antichain *upper,
                                     tide_cursor **out)
{
    return tide_spine_cursor_through(r->trace->spine, upper, out);
}
