/*
 * stall.c - saying why a dataflow does not progress.
 *
 * A probe's frontier is the least times that may still reach it; it stays
 * put while some pointstamp upstream does: a capability an operator holds
 * (an input nobody advanced or closed is the common case), or a message that
 * no one consumes. The progress tracker has every location's pointstamps and
 * the path summaries to the probe, so "who holds time t back" is: every
 * location whose pointstamp s has a summary p to the probe with p(s) <= t.
 *
 * The tracker's counts are summed over the workers. To name the worker, the
 * ledger counts each worker's broadcast capability changes per operator and
 * time (from the PROGRESS messages, which carry their sender), in a small
 * fixed table per (operator, worker): a few distinct times, which is what
 * inputs and most operators hold; a cell that would need more is marked
 * unknown for good. The initial capabilities are never broadcast, but every
 * worker starts with the same ones, so worker v holds init(s) + ledger[v](s)
 * at time s, where init(s) is what this worker holds at s minus its own
 * ledger entry. One allocation, owned by the dataflow. The ledger also
 * remembers when each process last sent progress, to tell a silent peer
 * from an idle cluster.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stall.h"
#include "tide/alloc.h"
#include "transport.h"

#define CELL_TIMES 4 /* distinct capability times tracked per (operator, worker) */

typedef struct cell {
    tide_time time[CELL_TIMES];
    int64_t count[CELL_TIMES]; /* broadcast changes at time[i], never 0 */
    uint32_t len;
    uint32_t unknown; /* needed more than CELL_TIMES times once */
} cell;

struct tide__stall {
    uint32_t nops, peers;
    uint32_t per_process;                  /* worker threads per process */
    uint64_t heard_ms[TIDE_MAX_PROCESSES]; /* last progress from each process */
    cell caps[];                           /* [op * peers + worker] */
};

static struct tide__stall no_ledger; /* allocation failed: attribute nothing */

uint64_t tide__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct tide__stall *ledger(tide_dataflow *df)
{
    if (df->stall) return df->stall;
    tide_worker *w = df->w;
    size_t cells = (size_t)df->nops * w->peers;
    struct tide__stall *l = tide_calloc(1, sizeof *l + cells * sizeof l->caps[0]);
    if (l == NULL || tide__df_own(df, l) < 0) { /* tide__df_own frees l on failure */
        df->stall = &no_ledger;
        return df->stall;
    }
    l->nops = df->nops;
    l->peers = w->peers;
    l->per_process = w->rt->cfg.workers ? w->rt->cfg.workers : 1;
    uint64_t now = tide__now_ms();
    for (uint32_t p = 0; p < TIDE_MAX_PROCESSES; p++) l->heard_ms[p] = now;
    df->stall = l;
    return l;
}

static void cell_add(cell *c, tide_time t, int64_t delta)
{
    if (c->unknown) return;
    for (uint32_t i = 0; i < c->len; i++) {
        if (!tide_time_eq(c->time[i], t)) continue;
        c->count[i] += delta;
        if (c->count[i] == 0) { /* keep the table dense */
            c->len--;
            c->time[i] = c->time[c->len];
            c->count[i] = c->count[c->len];
        }
        return;
    }
    if (c->len == CELL_TIMES) {
        c->unknown = 1;
        return;
    }
    c->time[c->len] = t;
    c->count[c->len++] = delta;
}

static int64_t cell_get(const cell *c, tide_time t)
{
    for (uint32_t i = 0; i < c->len; i++)
        if (tide_time_eq(c->time[i], t)) return c->count[i];
    return 0;
}

void tide__stall_note(tide_dataflow *df, uint32_t from, const tide__pointstamp *ps, uint32_t n)
{
    struct tide__stall *l = ledger(df);
    if (l == &no_ledger || from >= l->peers) return;
    uint32_t proc = from / l->per_process; /* only other processes can go silent */
    if (proc < TIDE_MAX_PROCESSES && proc != df->w->index / l->per_process)
        l->heard_ms[proc] = tide__now_ms();
    for (uint32_t i = 0; i < n; i++)
        if (ps[i].is_source && ps[i].port == 0 && ps[i].node < l->nops)
            cell_add(&l->caps[(size_t)ps[i].node * l->peers + from], ps[i].time, ps[i].delta);
}

/* ---- finding the causes ------------------------------------------------------ */

/* Does pointstamp @s at source (@node, @port), or at target (@node, @port)
 * when !@src, reach @probe at a time <= @t? */
static bool holds_back(const tide_op *probe, const tide_op *op, uint32_t port, bool src,
                       tide_time s, tide_time t)
{
    const tide__tracker *tr = op->df->tracker;
    if (!src && op == probe) return tide_time_le(s, t);
    /* A message waiting at an input: count it through the operator's
     * outputs (as if the operator passed its time on unchanged). */
    uint32_t from_port = src ? port : 0, nports = src ? 1 : op->noutputs;
    for (uint32_t o = from_port; o < from_port + nports; o++) {
        const tide_summary_set *set = tide__tracker_summaries(tr, op->index, o, probe->index, 0);
        for (uint32_t k = 0; k < set->len; k++) {
            tide_time u;
            if (tide_summary_apply(set->elems[k], s, &u) && tide_time_le(u, t)) return true;
        }
    }
    return false;
}

/* The first pointstamp of @op's ports (sources when @src) holding @probe
 * back from @t, in *@s. */
static bool find(const tide_op *probe, const tide_op *op, bool src, tide_time t, tide_time *s,
                 uint32_t *port)
{
    uint32_t nports = src ? op->noutputs : op->ninputs;
    for (uint32_t p = 0; p < nports; p++) {
        const tide_antichain *a = tide__tracker_pointstamps(op->df->tracker, op->index, p, src);
        for (uint32_t k = 0; k < a->len; k++)
            if (holds_back(probe, op, p, src, a->elems[k], t)) {
                *s = a->elems[k];
                *port = p;
                return true;
            }
    }
    return false;
}

/* The capabilities @op holds at @t on this worker. */
static int64_t held_here(tide_op *op, tide_time t)
{
    tide_change_batch_compact(&op->held);
    int64_t n = 0;
    for (uint32_t i = 0; i < op->held.len; i++)
        if (tide_time_eq(op->held.updates[i].time, t)) n += op->held.updates[i].delta;
    return n;
}

/* "worker 1", "workers 0, 3": who holds a capability of @op at @t, into
 * @buf. *@remote gets a holder's process other than ours (UINT32_MAX: none). */
static void holders(tide_op *op, tide_time t, char *buf, size_t size, uint32_t *remote)
{
    tide_dataflow *df = op->df;
    struct tide__stall *l = ledger(df);
    uint32_t self = df->w->index, n = 0;
    size_t at = 0;
    *remote = UINT32_MAX;
    buf[0] = '\0';
    if (l == &no_ledger || op->index >= l->nops) {
        snprintf(buf, size, "some worker");
        return;
    }
    const cell *row = &l->caps[(size_t)op->index * l->peers];
    if (row[self].unknown) {
        snprintf(buf, size, "some worker");
        return;
    }
    int64_t init = held_here(op, t) - cell_get(&row[self], t);
    for (uint32_t v = 0; v < l->peers && at < size; v++) {
        if (!row[v].unknown && init + cell_get(&row[v], t) <= 0) continue;
        at += (size_t)snprintf(buf + at, size - at, "%s%u%s", n ? ", " : "", v,
                               v == self ? " (this one)" : "");
        if (v / l->per_process != self / l->per_process && *remote == UINT32_MAX)
            *remote = v / l->per_process;
        n++;
    }
    if (n == 0) {
        snprintf(buf, size, "some worker");
        return;
    }
    char tmp[192];
    snprintf(tmp, sizeof tmp, "%s %s",
             n == l->peers && n > 1 ? "every worker:"
             : n > 1                ? "workers"
                                    : "worker",
             buf);
    snprintf(buf, size, "%s", tmp);
}

/* A silent peer: @proc has sent no progress for as long as we waited. */
static int silent(tide_dataflow *df, uint32_t proc, uint64_t waited_ms, char *buf, size_t size)
{
    struct tide__stall *l = ledger(df);
    tide__runtime *rt = df->w->rt;
    if (l == &no_ledger || proc >= TIDE_MAX_PROCESSES || rt->tp == NULL) return 0;
    uint64_t quiet = tide__now_ms() - l->heard_ms[proc];
    if (quiet < waited_ms) return 0;
    return snprintf(buf, size, "; process %u (%s) has sent no progress for %llu ms", proc,
                    tide__transport_peer_name(rt->tp, proc), (unsigned long long)quiet);
}

/* One cause, a capability of @op at @s, as a sentence into @buf. */
static void describe_cap(tide_op *op, tide_time s, uint64_t waited_ms, char *buf, size_t size)
{
    char who[192], ts[64], peer[160] = "";
    uint32_t remote;
    holders(op, s, who, sizeof who, &remote);
    if (remote != UINT32_MAX) silent(op->df, remote, waited_ms, peer, sizeof peer);
    if (tide__input_is(op))
        snprintf(buf, size,
                 "input '%s' (operator %u) was neither advanced past epoch %llu nor "
                 "closed, on %s%s",
                 op->name, op->index, (unsigned long long)s.epoch, who, peer);
    else
        snprintf(buf, size, "operator '%s' (operator %u) holds a capability at %s, on %s%s",
                 op->name, op->index, tide_time_fmt(s, ts, sizeof ts), who, peer);
}

int tide__stall_explain(tide_op *probe, tide_time t, uint64_t waited_ms, int code, const char *why)
{
    tide_dataflow *df = probe->df;
    tide_worker *w = df->w;
    char tbuf[64], first[256] = "", line[256];
    uint32_t causes = 0;
    tide_time_fmt(t, tbuf, sizeof tbuf);
    fprintf(stderr,
            "tide: worker %u: %s: dataflow '%s' made no progress for %llu ms; its probe "
            "waits for time %s, held back by:\n",
            w->index, why, df->name, (unsigned long long)waited_ms, tbuf);
    for (int pass = 0; pass < 2 && causes == 0; pass++) {
        bool src = pass == 0; /* capabilities first: messages are usually on their way */
        for (uint32_t j = 0; j < df->nops; j++) {
            tide_op *op = df->ops[j];
            tide_time s;
            uint32_t port;
            if (!find(probe, op, src, t, &s, &port)) continue;
            if (src)
                describe_cap(op, s, waited_ms, line, sizeof line);
            else
                snprintf(line, sizeof line,
                         "messages at %s wait at input %u of operator '%s' "
                         "(operator %u) on some worker",
                         tide_time_fmt(s, tbuf, sizeof tbuf), port, op->name, op->index);
            fprintf(stderr, "tide: worker %u:   %s\n", w->index, line);
            if (causes++ == 0) snprintf(first, sizeof first, "%s", line);
        }
    }
    if (causes == 0) {
        snprintf(first, sizeof first,
                 "no pointstamp found on this worker (frontier not yet "
                 "updated?)");
        fprintf(stderr, "tide: worker %u:   %s\n", w->index, first);
    }
    if (w->rc == 0) { /* not sticky: the caller decides (tide/dataflow.h, "Errors") */
        w->err.code = code;
        snprintf(w->err.msg, sizeof w->err.msg, "worker %u: %s: dataflow '%s', %llu ms: %s",
                 w->index, why, df->name, (unsigned long long)waited_ms, first);
    }
    return code;
}
