/*
 * message.c - refcounted progress payloads (see message.h).
 */
#include "message.h"

#include "tide/alloc.h"

tide__progress *tide__progress_new(uint32_t len)
{
    tide__progress *p = tide_alloc(sizeof *p + (size_t)len * sizeof(tide__pointstamp));
    if (p == NULL) return NULL;
    p->refs = 1;
    p->len = len;
    return p;
}

tide__progress *tide__progress_ref(tide__progress *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

void tide__progress_unref(tide__progress *p)
{
    if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) tide_free(p);
}
