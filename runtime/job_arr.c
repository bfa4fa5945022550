/*
 * job_arr.c - shared arrangements across jobs: a per-worker registry of
 * published arrangement shards (tide_arrangement_publish / _lookup).
 *
 * An entry holds a reference on the shard's trace and, while the publishing
 * arrange operator lives, a pointer to its subscription list (cleared by the
 * operator when its dataflow is dropped, arrange.c). A lookup imports the
 * trace into the reading job's dataflow (tide__arranged_import_trace) and
 * records the job as a reader. The entry goes when neither the publishing
 * job nor any reader job lives on this worker any more.
 *
 * Threads: only the owning worker changes its list; the status snapshot of
 * another thread reads every list, so changes and reads take one
 * process-wide lock (entries change rarely; the data path never takes it).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "arrange.h"
#include "job_int.h"
#include "tide/alloc.h"
#include "trace/trace_int.h"

typedef struct tide__pub {
    char name[64];
    uint64_t owner;       /* publishing job id (0 outside jobs) */
    tide__wjob *owner_wj; /* NULL once the publisher ended here (or outside jobs) */
    bool owner_live;      /* the publisher has not ended here */
    uint32_t worker;      /* global worker index */
    tide_trace *trace;    /* one reference */
    tide_layout layout;
    struct tide__arr_src *src; /* the live arrange operator's subscriptions, or NULL */
    tide__wjob **readers;      /* live jobs that looked it up here */
    uint32_t nreaders, readers_cap;
    uint64_t records, bytes; /* as of the last refresh (lock) */
    struct tide__pub *next;
} tide__pub;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static tide__pub *pub_find(tide_worker *w, const char *name)
{
    for (tide__pub *p = w->pubs; p; p = p->next)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

static uint64_t col_bytes(const tide_trace_col *c, uint32_t n)
{
    if (c->width != TIDE_VAR) return (uint64_t)n * c->width;
    return (c->offs ? c->offs[n] : 0) + (uint64_t)(n + 1) * sizeof(uint32_t);
}

/* Updates and bytes held by @t's batches. */
static void trace_size(tide_trace *t, uint64_t *records, uint64_t *bytes)
{
    tide_spine *sp = tide_trace_spine(t);
    uint64_t r = 0, b = 0;
    for (uint32_t i = 0; i < tide_spine_batches(sp); i++) {
        const tide_trace_batch *tb = tide_spine_batch(sp, i);
        r += tb->nupds;
        b += sizeof *tb + col_bytes(&tb->keys, tb->nkeys) + col_bytes(&tb->vals, tb->nvals) +
             (uint64_t)(tb->nkeys + 1 + tb->nvals + 1) * sizeof(uint32_t) +
             (uint64_t)tb->nupds * sizeof(tide_time_delta) + (uint64_t)tb->nfence * 8;
    }
    *records = r;
    *bytes = b;
}

static void pub_free(tide__pub *p)
{
    if (p->src) tide__arr_src_watch(p->src, NULL);
    tide_trace_unref(p->trace);
    tide_free(p->readers);
    tide_free(p);
}

/* Unlink and free @p if nobody needs it any more. */
static void pub_maybe_free(tide_worker *w, tide__pub *p)
{
    if (p->owner_live || p->nreaders > 0) return;
    pthread_mutex_lock(&lock);
    for (tide__pub **pp = &w->pubs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&lock);
    pub_free(p);
}

int tide_arrangement_publish(tide_worker *w, const char *name, tide_arranged *a)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= sizeof((tide__pub *)0)->name)
        return tide__worker_fail(w, TIDE_EINVAL, "publish: the name must have 1..63 bytes");
    if (a == NULL || a->src == NULL || a->trace_depth != 0 || a->scope->depth != 0)
        return tide__worker_fail(w, TIDE_EINVAL,
                                 "publish '%s': needs an arrangement made by tide_arrange in a "
                                 "root scope",
                                 name);
    if (a->scope->df->w != w)
        return tide__worker_fail(w, TIDE_EINVAL,
                                 "publish '%s': the arrangement is another worker's", name);
    if (pub_find(w, name))
        return tide__worker_fail(w, TIDE_EINVAL, "publish '%s': the name is taken on worker %u",
                                 name, w->index);
    if (tide__arr_src_watched(a->src))
        return tide__worker_fail(w, TIDE_EINVAL,
                                 "publish '%s': the arrangement is published already", name);
    tide__pub *p = tide_calloc(1, sizeof *p);
    if (p == NULL) return tide__worker_fail(w, TIDE_ENOMEM, "publish '%s': out of memory", name);
    memcpy(p->name, name, len + 1);
    tide__wjob *wj = w->host ? w->host->cur : NULL;
    p->owner = wj ? wj->id : 0;
    p->owner_wj = wj;
    p->owner_live = true;
    p->worker = w->index;
    p->trace = tide_trace_ref(a->trace);
    p->layout = a->layout;
    p->src = a->src;
    tide__arr_src_watch(a->src, &p->src);
    pthread_mutex_lock(&lock);
    p->next = w->pubs;
    w->pubs = p;
    pthread_mutex_unlock(&lock);
    return TIDE_OK;
}

/* Record @wj as a reader of @p (once). */
static int add_reader(tide__pub *p, tide__wjob *wj)
{
    if (wj == NULL || wj == p->owner_wj) return TIDE_OK;
    for (uint32_t i = 0; i < p->nreaders; i++)
        if (p->readers[i] == wj) return TIDE_OK;
    if (p->nreaders == p->readers_cap) {
        uint32_t c = p->readers_cap ? p->readers_cap * 2 : 4;
        tide__wjob **r = tide_realloc(p->readers, c * sizeof *r);
        if (r == NULL) return TIDE_ENOMEM;
        p->readers = r;
        p->readers_cap = c;
    }
    p->readers[p->nreaders++] = wj;
    return TIDE_OK;
}

tide_arranged *tide_arrangement_lookup(tide_scope *s, const char *name)
{
    tide_worker *w = s->df->w;
    tide__pub *p = name ? pub_find(w, name) : NULL;
    if (p == NULL) {
        tide__worker_fail(w, TIDE_ENOTFOUND, "lookup: no arrangement '%s' on worker %u",
                          name ? name : "", w->index);
        return NULL;
    }
    pthread_mutex_lock(&lock);
    int rc = add_reader(p, s->df->job);
    pthread_mutex_unlock(&lock);
    if (rc < 0) {
        tide__worker_fail(w, TIDE_ENOMEM, "lookup '%s': out of memory", name);
        return NULL;
    }
    return tide__arranged_import_trace(p->trace, p->layout, p->src, s);
}

void tide__pubs_job_ended(tide_worker *w, tide__wjob *wj)
{
    for (tide__pub *p = w->pubs, *n; p; p = n) {
        n = p->next;
        pthread_mutex_lock(&lock);
        if (p->owner_wj == wj) {
            p->owner_wj = NULL;
            p->owner_live = false;
        }
        for (uint32_t i = 0; i < p->nreaders; i++)
            if (p->readers[i] == wj) {
                p->readers[i] = p->readers[--p->nreaders];
                break;
            }
        pthread_mutex_unlock(&lock);
        pub_maybe_free(w, p);
    }
}

void tide__pubs_refresh(tide_worker *w)
{
    for (tide__pub *p = w->pubs; p; p = p->next) {
        uint64_t r, b;
        trace_size(p->trace, &r, &b);
        pthread_mutex_lock(&lock);
        p->records = r;
        p->bytes = b;
        pthread_mutex_unlock(&lock);
    }
}

void tide__pubs_release(tide_worker *w)
{
    pthread_mutex_lock(&lock);
    tide__pub *p = w->pubs;
    w->pubs = NULL;
    pthread_mutex_unlock(&lock);
    for (tide__pub *n; p; p = n) {
        n = p->next;
        pub_free(p);
    }
}

int tide__pubs_snapshot(tide__runtime *rt, tide__arr_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&lock);
    size_t cnt = 0;
    for (uint32_t i = 0; i < rt->threads; i++)
        for (tide__pub *p = rt->workers[i].pubs; p; p = p->next) cnt++;
    tide__arr_info *a = cnt ? tide_calloc(cnt, sizeof *a) : NULL;
    if (cnt && a == NULL) {
        pthread_mutex_unlock(&lock);
        return TIDE_ENOMEM;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < rt->threads; i++)
        for (tide__pub *p = rt->workers[i].pubs; p; p = p->next, k++) {
            snprintf(a[k].name, sizeof a[k].name, "%s", p->name);
            a[k].owner = p->owner;
            a[k].worker = p->worker;
            a[k].readers = p->nreaders;
            a[k].records = p->records;
            a[k].bytes = p->bytes;
        }
    pthread_mutex_unlock(&lock);
    *out = a;
    *n = cnt;
    return TIDE_OK;
}
