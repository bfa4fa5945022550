/*
 * gen.c - the factory log generator (gen.h).
 *
 * A discrete simulation: jobs (order, step) wait for a free machine and a
 * free worker; each simulated event advances one random active job by one
 * phase and the clock by 1-60 s. Events wait in a min-heap by timestamp
 * and leave once no later event can carry an earlier timestamp (clock now
 * minus the largest skew), which writes them in wall-clock order.
 */
#include "gen.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

typedef struct gev {
    int64_t ts;
    uint64_t lamport, offset;
    uint32_t stream; /* index: machines first, then workers */
    char type[12], order[16], step[12], machine[16];
    int has_count;
    int64_t count;
} gev;

typedef struct job {
    uint32_t order, step, machine, worker;
    int phase, produced, pause;
} job;

typedef struct gen {
    const fx_gen_opts *o;
    FILE *f;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t rng, lamport, emitted, made;
    int64_t now;
    char (*names)[16];
    int64_t *skew;
    uint64_t *next_off;
    uint8_t *busy; /* per stream */
    gev *heap;
    size_t nheap, heap_cap;
    job *jobs;
    uint32_t njobs;
    uint64_t jobno; /* jobs started */
} gen;

static const char *const STEPS[] = {"drilling", "sawing", "pressing", "assembly"};
static const char *const MKIND[] = {"Drill", "Saw", "Press", "Lathe"};
static const char *const WNAME[] = {"Fred", "Anna", "Kofi", "Mei", "Lars", "Ines"};

static uint64_t rnd(gen *g)
{
    uint64_t x = g->rng;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    g->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(gen *g, uint64_t n)
{
    return n ? rnd(g) % n : 0;
}

static int heap_less(const gev *a, const gev *b)
{
    return a->ts != b->ts ? a->ts < b->ts : a->lamport < b->lamport;
}

static void heap_push(gen *g, const gev *e)
{
    if (g->nheap == g->heap_cap) {
        g->heap_cap = g->heap_cap ? g->heap_cap * 2 : 256;
        g->heap = realloc(g->heap, g->heap_cap * sizeof *g->heap);
    }
    size_t i = g->nheap++;
    g->heap[i] = *e;
    while (i > 0 && heap_less(&g->heap[i], &g->heap[(i - 1) / 2])) {
        gev t = g->heap[i];
        g->heap[i] = g->heap[(i - 1) / 2];
        g->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static gev heap_pop(gen *g)
{
    gev top = g->heap[0];
    g->heap[0] = g->heap[--g->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < g->nheap && heap_less(&g->heap[l], &g->heap[m])) m = l;
        if (r < g->nheap && heap_less(&g->heap[r], &g->heap[m])) m = r;
        if (m == i) break;
        gev t = g->heap[i];
        g->heap[i] = g->heap[m];
        g->heap[m] = t;
        i = m;
    }
    return top;
}

static int write_ev(gen *g, const gev *e)
{
    fx_ev ev = {.stream = g->names[e->stream],
                .offset = e->offset,
                .lamport = e->lamport,
                .timestamp = e->ts,
                .ntags = 1,
                .type = e->type,
                .order = e->order[0] ? e->order : NULL,
                .step = e->step[0] ? e->step : NULL,
                .machine = e->machine[0] ? e->machine : NULL,
                .has_count = e->has_count,
                .count = e->count};
    ev.tags[0] = e->stream < g->o->machines ? "machineFish" : "workerFish";
    if (!g->o->msgpack) return fx_event_write_json(g->f, &ev);
    msgpack_sbuffer_clear(&g->sb);
    fx_event_write_msgpack(&g->pk, &ev);
    return fwrite(g->sb.data, 1, g->sb.size, g->f) == g->sb.size ? 0 : -1;
}

/* Record one event of @stream at the current clock. */
static void emit(gen *g, uint32_t stream, const char *type, uint32_t order, uint32_t step,
                 int64_t count, int has_count, int with_machine, uint32_t machine)
{
    gev e = {.ts = g->now + g->skew[stream],
             .lamport = ++g->lamport,
             .offset = g->next_off[stream]++,
             .stream = stream,
             .has_count = has_count,
             .count = count};
    snprintf(e.type, sizeof e.type, "%s", type);
    if (order != UINT32_MAX) snprintf(e.order, sizeof e.order, "%u", 4711 + order);
    if (step != UINT32_MAX) snprintf(e.step, sizeof e.step, "%s", STEPS[step]);
    if (with_machine) snprintf(e.machine, sizeof e.machine, "%s", g->names[machine]);
    heap_push(g, &e);
    g->made++;
    g->now += 1000000 * (int64_t)(1 + below(g, 60));
}

/* Write every event no later one can precede. */
static int drain(gen *g, bool all)
{
    int64_t horizon = g->now - (int64_t)g->o->skew_ms * 1000;
    while (g->nheap > 0 && (all || g->heap[0].ts < horizon)) {
        gev e = heap_pop(g);
        if (write_ev(g, &e) < 0) return -1;
    }
    return 0;
}

static uint32_t free_stream(gen *g, uint32_t first, uint32_t n)
{
    uint32_t start = (uint32_t)below(g, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = first + (start + i) % n;
        if (!g->busy[s]) return s;
    }
    return UINT32_MAX;
}

static void start_jobs(gen *g)
{
    uint32_t M = g->o->machines, K = g->o->workers;
    for (;;) {
        uint32_t m = free_stream(g, 0, M), w = free_stream(g, M, K);
        if (m == UINT32_MAX || w == UINT32_MAX || below(g, 4) == 0) return;
        uint64_t n = g->jobno++;
        g->busy[m] = g->busy[w] = 1;
        g->jobs[g->njobs++] = (job){.order = (uint32_t)((n / 3) % g->o->orders),
                                    .step = (uint32_t)(n % 3 + (n / 3) % 2),
                                    .machine = m,
                                    .worker = w,
                                    .produced = (int)below(g, 4),
                                    .pause = below(g, 5) == 0};
    }
}

/* Advance job @j by one phase; true when it is over. */
static bool advance(gen *g, job *j)
{
    uint32_t none = UINT32_MAX;
    switch (j->phase++) {
    case 0:
        emit(g, j->machine, "setup", j->order, none, 0, 0, 0, 0);
        return false;
    case 1:
        emit(g, j->machine, "started", j->order, none, 0, 0, 0, 0);
        return false;
    case 2:
        emit(g, j->worker, "started", j->order, j->step, 0, 0, 1, j->machine);
        return false;
    case 3:
        if (j->produced > 0) {
            j->produced--;
            j->phase = 3;
            emit(g, j->worker, "produced", j->order, j->step, 1 + (int64_t)below(g, 40), 1, 0, 0);
            return false;
        }
        if (j->pause) {
            j->pause = 0;
            j->phase = 3;
            emit(g, j->machine, "stopped", j->order, none, 0, 0, 0, 0);
            emit(g, j->machine, "started", j->order, none, 0, 0, 0, 0);
            return false;
        }
        emit(g, j->worker, "stopped", j->order, j->step, 0, 0, 0, 0);
        return false;
    case 4:
        emit(g, j->machine, "stopped", j->order, none, 0, 0, 0, 0);
        return false;
    default:
        if (below(g, 10) != 0) emit(g, j->worker, "finished", j->order, j->step, 0, 0, 0, 0);
        g->busy[j->machine] = g->busy[j->worker] = 0;
        return true;
    }
}

int fx_gen(const fx_gen_opts *o, FILE *f)
{
    gen g = {.o = o, .f = f, .rng = o->seed * 0x9E3779B97F4A7C15ULL + 1, .now = 1700000000000000};
    uint32_t ns = o->machines + o->workers;
    g.names = calloc(ns, sizeof *g.names);
    g.skew = calloc(ns, sizeof *g.skew);
    g.next_off = calloc(ns, sizeof *g.next_off);
    g.busy = calloc(ns, 1);
    g.jobs = calloc(ns + 1, sizeof *g.jobs);
    msgpack_sbuffer_init(&g.sb);
    msgpack_packer_init(&g.pk, &g.sb, msgpack_sbuffer_write);
    for (uint32_t i = 0; i < ns; i++) {
        if (i < o->machines)
            snprintf(g.names[i], 16, "%s%u", MKIND[i % 4], i / 4 + 1);
        else
            snprintf(g.names[i], 16, "%s%u", WNAME[(i - o->machines) % 6],
                     (i - o->machines) / 6 + 1);
        g.skew[i] =
            o->skew_ms
                ? ((int64_t)below(&g, 2 * (uint64_t)o->skew_ms + 1) - (int64_t)o->skew_ms) * 1000
                : 0;
    }
    int rc = 0;
    while (g.made < o->events && rc == 0) {
        start_jobs(&g);
        if (g.njobs == 0) {
            start_jobs(&g);
            if (g.njobs == 0) continue; /* start_jobs declined at random: try again */
        }
        if (below(&g, 100) == 0) { /* a stray stop on some machine */
            emit(&g, (uint32_t)below(&g, o->machines), "stopped", (uint32_t)below(&g, o->orders),
                 UINT32_MAX, 0, 0, 0, 0);
        } else {
            uint32_t k = (uint32_t)below(&g, g.njobs);
            if (advance(&g, &g.jobs[k])) g.jobs[k] = g.jobs[--g.njobs];
        }
        rc = drain(&g, false);
    }
    if (rc == 0) rc = drain(&g, true);
    if (fflush(f) != 0) rc = -1;
    free(g.names), free(g.skew), free(g.next_off), free(g.busy), free(g.jobs), free(g.heap);
    msgpack_sbuffer_destroy(&g.sb);
    return rc;
}
