/*
 * execute.c - starting the worker threads of this process, pinning them to
 * cores with hwloc, and joining them.
 *
 * Worker 0 runs on the calling thread. A worker that fails (its main or a
 * step returns an error) marks the whole process failed, so that the other
 * workers stop instead of waiting for progress that will never come.
 */
#include <hwloc.h>
#include <stdio.h>
#include <string.h>

#include "tide/alloc.h"
#include "transport.h"
#include "worker.h"

/* Mark the process failed with @e (first failure wins) and wake everyone. */
static void runtime_fail(tide__runtime *rt, const tide_error *e)
{
    pthread_mutex_lock(&rt->fail_lock);
    if (!__atomic_load_n(&rt->failed, __ATOMIC_ACQUIRE)) {
        rt->fail_err = *e;
        __atomic_store_n(&rt->failed, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&rt->fail_lock);
    for (uint32_t i = 0; i < rt->threads; i++) tide__worker_wake(&rt->workers[i]);
}

/* Transport hooks: deliveries come from the transport's threads. */
static void net_deliver(void *ctx, uint32_t dst_local, tide__msg *m)
{
    tide__runtime *rt = ctx;
    pthread_mutex_lock(&rt->netlock); /* several transport threads may deliver */
    int rc = tide__queue_push(&rt->netq[dst_local], m);
    pthread_mutex_unlock(&rt->netlock);
    if (rc < 0) {
        tide_error e;
        tide_err_set(&e, TIDE_ENOMEM, "out of memory queueing a message from worker %u", m->from);
        runtime_fail(rt, &e);
        return;
    }
    tide__worker_wake(&rt->workers[dst_local]);
}

static void net_fail(void *ctx, const tide_error *e)
{
    runtime_fail(ctx, e);
}

static hwloc_topology_t topo;

static void pin(tide__runtime *rt, tide_worker *w)
{
    if (!rt->cfg.pin || topo == NULL) return;
    int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    if (ncores <= 0) {
        ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
        type = HWLOC_OBJ_PU;
    }
    if (ncores <= 0) return;
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, type, (unsigned)(w->index % (uint32_t)ncores));
    if (obj == NULL) return;
    int rc = hwloc_set_cpubind(topo, obj->cpuset, HWLOC_CPUBIND_THREAD);
    if (rt->cfg.verbose)
        fprintf(stderr, "tide: worker %u pinned to %s %u%s\n", w->index,
                hwloc_obj_type_string(type), obj->logical_index, rc ? " (failed)" : "");
}

static void *worker_thread(void *arg)
{
    tide_worker *w = arg;
    tide__runtime *rt = w->rt;
    pin(rt, w);
    tide__batch_pool_enable();
    int rc = rt->main(w, rt->arg);
    if (rc < 0 && w->rc == 0 && w->err.code == rc) {
        w->rc = rc; /* main passed on a handled error: its detail is already there */
    } else if (rc < 0 && w->rc == 0)
        tide__worker_fail(w, rc, "worker %u: main returned %s", w->index, tide_err_name(rc));
    if (w->rc == 0) {
        while ((rc = tide_worker_step_or_park(w, 1000)) > 0) {
        }
    }
    if (w->rc) runtime_fail(rt, &w->err);
    tide__batch_pool_drain();
    return NULL;
}

static void print_topology(const tide__runtime *rt)
{
    if (topo == NULL) return;
    fprintf(stderr,
            "tide: process %u of %u, %u worker(s) here, %u in all; %d core(s), %d PU(s)%s\n",
            rt->cfg.process, rt->cfg.processes, rt->threads, rt->peers,
            hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE),
            hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU), rt->cfg.pin ? ", pinning" : "");
}

static void runtime_free(tide__runtime *rt)
{
    tide__transport_free(rt->tp);
    for (uint32_t i = 0; rt->workers && i < rt->threads; i++) {
        tide_worker *w = &rt->workers[i];
        for (uint32_t d = 0; d < w->ndfs; d++) tide__df_free(w->dfs[d]);
        tide_free(w->dfs);
        tide__worker_release_early(w);
    }
    if (rt->queues)
        for (uint32_t i = 0; i < rt->threads * rt->threads; i++) tide__queue_fini(&rt->queues[i]);
    if (rt->netq)
        for (uint32_t i = 0; i < rt->threads; i++) tide__queue_fini(&rt->netq[i]);
    tide_free(rt->queues);
    tide_free(rt->netq);
    tide_free(rt->workers);
    pthread_mutex_destroy(&rt->netlock);
    pthread_mutex_destroy(&rt->fail_lock);
    tide_free(rt);
}

static int runtime_init(tide__runtime *rt, const tide_config *cfg, tide_error *e)
{
    pthread_mutex_init(&rt->netlock, NULL);
    pthread_mutex_init(&rt->fail_lock, NULL);
    if (cfg)
        rt->cfg = *cfg;
    else
        tide_config_init(&rt->cfg);
    if (rt->cfg.workers == 0 || rt->cfg.processes == 0 || rt->cfg.process >= rt->cfg.processes)
        return tide_err_set(e, TIDE_EINVAL, "bad layout: %u process(es) x %u worker(s), index %u",
                            rt->cfg.processes, rt->cfg.workers, rt->cfg.process);
    rt->threads = rt->cfg.workers;
    rt->peers = rt->cfg.workers * rt->cfg.processes;
    rt->first = rt->cfg.process * rt->cfg.workers;
    rt->workers = tide_calloc(rt->threads, sizeof *rt->workers);
    rt->queues = tide_calloc((size_t)rt->threads * rt->threads, sizeof *rt->queues);
    if (rt->workers == NULL || rt->queues == NULL) goto nomem;
    for (uint32_t i = 0; i < rt->threads * rt->threads; i++)
        if (tide__queue_init(&rt->queues[i]) < 0) goto nomem;
    for (uint32_t i = 0; i < rt->threads; i++) {
        tide_worker *w = &rt->workers[i];
        w->rt = rt;
        w->local = i;
        w->index = rt->first + i;
        w->peers = rt->peers;
    }
    if (rt->cfg.processes > 1) {
        rt->netq = tide_calloc(rt->threads, sizeof *rt->netq);
        if (rt->netq == NULL) goto nomem;
        for (uint32_t i = 0; i < rt->threads; i++)
            if (tide__queue_init(&rt->netq[i]) < 0) goto nomem;
        tide__transport_hooks hooks = {.ctx = rt, .deliver = net_deliver, .fail = net_fail};
        rt->tp = tide__transport_new(&rt->cfg, &hooks, e);
        if (rt->tp == NULL) return e && e->code ? e->code : TIDE_ENET;
    }
    return TIDE_OK;
nomem:
    return tide_err_set(e, TIDE_ENOMEM, "out of memory starting %u worker(s)", rt->threads);
}

int tide_execute(const tide_config *cfg, tide_worker_main main, void *arg, tide_error *e)
{
    tide__runtime *rt = tide_calloc(1, sizeof *rt);
    if (rt == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory starting tide");
    int rc = runtime_init(rt, cfg, e);
    if (rc < 0) {
        runtime_free(rt);
        return rc;
    }
    rt->main = main;
    rt->arg = arg;
    if (rt->cfg.pin || rt->cfg.verbose) {
        if (hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) != 0) {
            hwloc_topology_destroy(topo);
            topo = NULL;
        }
    }
    if (rt->cfg.verbose) print_topology(rt);
    uint32_t started = 1;
    for (uint32_t i = 1; i < rt->threads; i++, started++) {
        if (pthread_create(&rt->workers[i].thread, NULL, worker_thread, &rt->workers[i]) != 0) {
            tide_error fe;
            tide_err_set(&fe, TIDE_ENOMEM, "cannot start worker thread %u", i);
            runtime_fail(rt, &fe);
            break;
        }
    }
    worker_thread(&rt->workers[0]);
    for (uint32_t i = 1; i < started; i++) pthread_join(rt->workers[i].thread, NULL);
    rc = TIDE_OK;
    if (__atomic_load_n(&rt->failed, __ATOMIC_ACQUIRE)) {
        rc = rt->fail_err.code ? rt->fail_err.code : TIDE_EINVAL;
        if (e) *e = rt->fail_err;
    }
    if (topo) {
        hwloc_topology_destroy(topo);
        topo = NULL;
    }
    runtime_free(rt);
    return rc;
}
