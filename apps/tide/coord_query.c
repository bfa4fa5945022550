/*
 * coord_query.c - `tide jobs` and `tide status`: the coordinator asks every
 * process that is up, gathers one answer per process (or gives up on one
 * after QUERY_MS), and merges them with its own tables into one reply.
 */
#include <stdlib.h>
#include <string.h>

#include "coord_int.h"

/* Parse the answers that arrived into @dd (zeroed where none); one that does
 * not parse counts as not answered. The caller finishes every dd[p]. */
static void parse_replies(coord *c, query *q, ctl_doc *dd)
{
    for (uint32_t p = 0; p < c->n; p++) {
        memset(&dd[p], 0, sizeof dd[p]);
        if ((q->have >> p & 1) &&
            ctl_parse(&dd[p], zmq_msg_data(&q->reply[p]), zmq_msg_size(&q->reply[p])) < 0)
            q->have &= ~(1ull << p);
    }
}

/* Job @j's records in and out, summed over the processes' answers, and the
 * first frontier one of them reports. */
static void job_totals(coord *c, const query *q, ctl_doc *dd, const job *j, uint64_t *in,
                       uint64_t *out, char *frontier, size_t cap)
{
    for (uint32_t p = 0; p < c->n; p++) {
        if (!(q->have >> p & 1)) continue;
        int arr = ctl_get(&dd[p], 0, "jobs");
        for (int e = arr >= 0 ? dd[p].nodes[arr].child : -1; e >= 0; e = dd[p].nodes[e].next) {
            if (ctl_u64(&dd[p], e, "id", 0) != j->id) continue;
            *in += ctl_u64(&dd[p], e, "in", 0);
            *out += ctl_u64(&dd[p], e, "out", 0);
            if (frontier[0] == 0) ctl_str(&dd[p], e, "frontier", frontier, cap);
        }
    }
}

static void query_answer_jobs(coord *c, query *q)
{
    ctl_doc dd[TIDE_MAX_PROCESSES];
    parse_replies(c, q, dd);
    size_t nj = 0;
    for (job *j = c->jobs; j; j = j->next) nj++;
    ctl_w w;
    ctl_w_begin(&w, "jobs", 1);
    ctl_w_key(&w, "jobs");
    msgpack_pack_array(&w.pk, nj);
    for (job *j = c->jobs; j; j = j->next) {
        uint64_t in = 0, out = 0;
        char frontier[64] = "";
        job_totals(c, q, dd, j, &in, &out, frontier, sizeof frontier);
        msgpack_pack_map(&w.pk, 9);
        ctl_w_u64(&w, "id", j->id);
        ctl_w_str(&w, "name", j->name);
        ctl_w_str(&w, "state", jstate(j->state));
        ctl_w_i64(&w, "start_us", j->start_us);
        ctl_w_i64(&w, "end_us", j->end_us);
        ctl_w_u64(&w, "in", in);
        ctl_w_u64(&w, "out", out);
        ctl_w_str(&w, "frontier", j->state >= J_DONE ? "" : frontier);
        ctl_w_str(&w, "msg", j->msg);
    }
    coord_send_to(c, q->rid, q->rid_len, &w);
    for (uint32_t p = 0; p < c->n; p++) ctl_doc_fini(&dd[p]);
}

/* The "arrs" array in process @p's answer, -1 if it has none. */
static int arrs_of(const query *q, const ctl_doc *dd, uint32_t p)
{
    int a = (q->have >> p & 1) ? ctl_get(&dd[p], 0, "arrs") : -1;
    return a >= 0 && dd[p].nodes[a].kind == CTL_ARR ? a : -1;
}

/* Process @p's entry of "processes": its answer, else what we know. */
static void pack_process(coord *c, const query *q, ctl_doc *dd, uint32_t p, ctl_w *w)
{
    int have = q->have >> p & 1;
    msgpack_pack_map(&w->pk, 9);
    ctl_w_u64(w, "process", p);
    ctl_w_i64(w, "pid", have ? ctl_i64(&dd[p], 0, "pid", 0) : c->p[p].pid);
    ctl_w_str(w, "state", c->p[p].up ? (have ? "up" : "not answering") : "starting");
    ctl_w_u64(w, "workers", have ? ctl_u64(&dd[p], 0, "workers", 0) : 0);
    ctl_w_key(w, "cores");
    int cores = have ? ctl_get(&dd[p], 0, "cores") : -1;
    uint32_t nc = cores >= 0 && dd[p].nodes[cores].kind == CTL_ARR ? dd[p].nodes[cores].n : 0;
    msgpack_pack_array(&w->pk, nc);
    for (int e = nc ? dd[p].nodes[cores].child : -1; e >= 0; e = dd[p].nodes[e].next)
        msgpack_pack_int64(&w->pk, dd[p].nodes[e].i);
    ctl_w_u64(w, "rss", have ? ctl_u64(&dd[p], 0, "rss", 0) : 0);
    ctl_w_i64(w, "uptime_us", have ? ctl_i64(&dd[p], 0, "uptime_us", 0) : 0);
    ctl_w_u64(w, "restarts", c->p[p].restarts);
    ctl_w_str(w, "host", c->p[p].local ? "local" : "remote");
}

/* "arrs": every process's arrangements, one array. */
static void pack_arrs(coord *c, const query *q, ctl_doc *dd, ctl_w *w)
{
    size_t narr = 0;
    for (uint32_t p = 0; p < c->n; p++) {
        int a = arrs_of(q, dd, p);
        if (a >= 0) narr += dd[p].nodes[a].n;
    }
    ctl_w_key(w, "arrs");
    msgpack_pack_array(&w->pk, narr);
    for (uint32_t p = 0; p < c->n; p++) {
        int a = arrs_of(q, dd, p);
        if (a < 0) continue;
        for (int e = dd[p].nodes[a].child; e >= 0; e = dd[p].nodes[e].next) {
            char name[64];
            msgpack_pack_map(&w->pk, 6);
            ctl_w_str(w, "name", ctl_str(&dd[p], e, "name", name, sizeof name));
            ctl_w_u64(w, "owner", ctl_u64(&dd[p], e, "owner", 0));
            ctl_w_u64(w, "process", p);
            ctl_w_u64(w, "worker", ctl_u64(&dd[p], e, "worker", 0));
            ctl_w_u64(w, "records", ctl_u64(&dd[p], e, "records", 0));
            ctl_w_u64(w, "bytes", ctl_u64(&dd[p], e, "bytes", 0));
        }
    }
}

static void query_answer_status(coord *c, query *q)
{
    ctl_doc dd[TIDE_MAX_PROCESSES];
    parse_replies(c, q, dd);
    ctl_w w;
    ctl_w_begin(&w, "status", 5);
    ctl_w_str(&w, "addr", c->addr);
    ctl_w_u64(&w, "gen", c->gen);
    ctl_w_i64(&w, "uptime_us", wall_us() - c->born_us);
    ctl_w_key(&w, "processes");
    msgpack_pack_array(&w.pk, c->n);
    for (uint32_t p = 0; p < c->n; p++) pack_process(c, q, dd, p, &w);
    pack_arrs(c, q, dd, &w);
    coord_send_to(c, q->rid, q->rid_len, &w);
    for (uint32_t p = 0; p < c->n; p++) ctl_doc_fini(&dd[p]);
}

static void query_finish(coord *c, query *q)
{
    if (q->kind == Q_JOBS)
        query_answer_jobs(c, q);
    else
        query_answer_status(c, q);
    for (uint32_t p = 0; p < c->n; p++)
        if (q->have >> p & 1) zmq_msg_close(&q->reply[p]);
    for (query **pp = &c->queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    free(q);
}

void coord_on_query(coord *c, const uint8_t *rid, size_t rid_len, int kind)
{
    query *q = calloc(1, sizeof *q);
    if (q == NULL) return coord_send_error(c, rid, rid_len, "out of memory");
    q->req = ++c->next_req;
    q->kind = kind;
    memcpy(q->rid, rid, rid_len);
    q->rid_len = rid_len;
    q->deadline = mono_ms() + QUERY_MS;
    q->next = c->queries;
    c->queries = q;
    for (uint32_t p = 0; p < c->n; p++) {
        if (!c->p[p].up) continue;
        q->waiting |= 1ull << p;
        ctl_w w;
        ctl_w_begin(&w, kind == Q_JOBS ? "jobs" : "status", 1);
        ctl_w_u64(&w, "req", q->req);
        coord_send_proc(c, p, &w);
    }
    if (q->waiting == 0) query_finish(c, q);
}

void coord_on_wreply(coord *c, uint32_t p, zmq_msg_t *m, const ctl_doc *d)
{
    uint64_t req = ctl_u64(d, 0, "req", 0);
    for (query *q = c->queries; q; q = q->next) {
        if (q->req != req || !(q->waiting >> p & 1)) continue;
        q->waiting &= ~(1ull << p);
        zmq_msg_init(&q->reply[p]);
        zmq_msg_move(&q->reply[p], m);
        q->have |= 1ull << p;
        if (q->waiting == 0) query_finish(c, q);
        return;
    }
}

void coord_queries_tick(coord *c)
{
    int64_t now = mono_ms();
    for (query *q = c->queries, *nx; q; q = nx) {
        nx = q->next;
        if (now >= q->deadline) query_finish(c, q);
    }
}

void coord_queries_flush(coord *c)
{
    for (query *q = c->queries, *nx; q; q = nx) {
        nx = q->next;
        q->waiting = 0;
        query_finish(c, q);
    }
}

void coord_queries_free(coord *c)
{
    for (query *q = c->queries, *nx; q; q = nx) {
        nx = q->next;
        for (uint32_t p = 0; p < c->n; p++)
            if (q->have >> p & 1) zmq_msg_close(&q->reply[p]);
        free(q);
    }
}
